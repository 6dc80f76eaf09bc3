// A greeter server with one method of each RPC kind, written as plain functions and
// generators. Messages are JSON here so the example needs no .proto file.
// Run it with `node --import tsx examples/greeter/server.ts [--port 50051]`.
// (In your own project, import from 'grpc-iter'.)
import { pathToFileURL } from 'node:url';
import { delay } from 'abort-controller-x';
import {
  StatusCode,
  methodHandlersGenericHandler,
  server,
  streamStreamRpcMethodHandler,
  streamUnaryRpcMethodHandler,
  unaryStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
  type Server,
} from '../../lib/index.js';

export interface HelloRequest {
  name: string;
}
export interface HelloReply {
  message: string;
}

/** JSON message codecs: any (de)serializer pair works, protobuf is just the usual one. */
export const toJson = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));
export const fromJson = <T>(bytes: Uint8Array): T => JSON.parse(Buffer.from(bytes).toString()) as T;

export const greeter = methodHandlersGenericHandler('demo.Greeter', {
  // Unary: return the reply (or throw; context.abort ends the call with a status).
  SayHello: unaryUnaryRpcMethodHandler((request: HelloRequest, context) => {
    if (request.name === '') context.abort(StatusCode.INVALID_ARGUMENT, 'Cannot greet: name is empty');
    return { message: `Hello ${request.name}` };
  }, fromJson<HelloRequest>, toJson),

  // Server streaming: an async generator; its yield waits while the client is not reading,
  // and delay() rejects as soon as the client cancels or the deadline passes.
  CountTo: unaryStreamRpcMethodHandler(async function* (request: { n: number }, context) {
    for (let i = 1; i <= request.n; i++) {
      await delay(context.signal, 50);
      yield { message: String(i) };
    }
  }, fromJson<{ n: number }>, toJson),

  // Client streaming: for await over the requests, then return one reply.
  GreetAll: streamUnaryRpcMethodHandler(async (requests: AsyncIterable<HelloRequest>) => {
    const names: string[] = [];
    for await (const { name } of requests) names.push(name);
    return { message: `Hello ${names.join(', ')}` };
  }, fromJson<HelloRequest>, toJson),

  // Bidirectional streaming: answer each request as it arrives.
  Chat: streamStreamRpcMethodHandler(async function* (requests: AsyncIterable<HelloRequest>) {
    for await (const { name } of requests) yield { message: `Hi ${name}` };
  }, fromJson<HelloRequest>, toJson),
});

/** Starts the greeter on `address`; resolves to the server and its port. */
export async function startGreeter(address = '127.0.0.1:0'): Promise<{ srv: Server; port: number }> {
  const srv = server({ executor: { maxWorkers: 16 } });
  srv.addGenericRpcHandlers([greeter]);
  const port = await srv.addInsecurePort(address);
  await srv.start();
  return { srv, port };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const flag = process.argv.indexOf('--port');
  const { srv, port } = await startGreeter(`127.0.0.1:${flag > 0 ? Number(process.argv[flag + 1]) : 50051}`);
  console.log(`greeter listening on 127.0.0.1:${port}; Ctrl-C stops it (5 s grace)`);
  process.once('SIGINT', () => void srv.stop(5));
  process.once('SIGTERM', () => void srv.stop(5));
  await srv.waitForTermination();
}
