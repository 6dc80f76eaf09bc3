// The client libraries the client workloads compare, each used as its users write it, behind one
// shape: `unary(request)` resolves to the response, `receive(request, signal, onMessage)` reads a
// server stream until `signal` aborts, `close()`. Each run loads only the library it measures.
import { PROTO, includeDirs } from '../contenders/control.mjs';

const isAbort = (err, signal) => signal.aborted || err?.name === 'AbortError' || err?.code === 1 || err?.code === 'canceled';

/** Reads an async-iterable response stream until `signal` aborts; the abort itself is the expected end. */
async function drain(responses, signal, onMessage) {
  try {
    for await (const response of responses) onMessage(response);
  } catch (err) {
    if (!isAbort(err, signal)) throw err;
  }
}

/** One client of `library` for the benchmark service at 127.0.0.1:`port`. */
export async function clientFor(library, port) {
  const target = `127.0.0.1:${port}`;
  if (library === 'grpc-iter') {
    const { createClient, insecureChannel } = await import('../../dist/index.js');
    const { loadProto } = await import('../../dist/proto/index.js');
    const channel = insecureChannel(target);
    const client = createClient(loadProto(PROTO, { includeDirs }).grpc.testing.BenchmarkService, channel);
    return {
      request: (init) => init,
      unary: (request) => client.unaryCall(request),
      receive: (request, signal, onMessage) => drain(client.streamingFromServer(request, { signal }), signal, onMessage),
      close: () => channel.close(),
    };
  }
  if (library === 'grpc-js' || library === 'nice-grpc') {
    const grpc = await import('@grpc/grpc-js');
    const protoLoader = await import('@grpc/proto-loader');
    const { BenchmarkService } = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO, { includeDirs })).grpc.testing;
    if (library === 'nice-grpc') {
      const { createChannel, createClient: createNiceClient } = await import('nice-grpc');
      const channel = createChannel(target);
      const client = createNiceClient(BenchmarkService.service, channel);
      return {
        request: (init) => init,
        unary: (request) => client.UnaryCall(request),
        receive: (request, signal, onMessage) => drain(client.StreamingFromServer(request, { signal }), signal, onMessage),
        close: () => channel.close(),
      };
    }
    const client = new BenchmarkService(target, grpc.credentials.createInsecure());
    return {
      request: (init) => init,
      unary: (request) => new Promise((resolve, reject) => client.unaryCall(request, (err, res) => (err ? reject(err) : resolve(res)))),
      receive: (request, signal, onMessage) =>
        new Promise((resolve, reject) => {
          const call = client.streamingFromServer(request);
          call.on('data', onMessage);
          call.on('error', (err) => (isAbort(err, signal) ? resolve() : reject(err)));
          call.on('end', resolve);
          signal.addEventListener('abort', () => call.cancel(), { once: true });
        }),
      close: () => client.close(),
    };
  }
  if (library === 'connect-node') {
    const { create } = await import('@bufbuild/protobuf');
    const { createClient: createConnectClient } = await import('@connectrpc/connect');
    const { createGrpcTransport } = await import('@connectrpc/connect-node');
    const { loadRegistry } = await import('../contenders/connect-service.mjs');
    const registry = loadRegistry();
    const SimpleRequest = registry.getMessage('grpc.testing.SimpleRequest');
    const client = createConnectClient(registry.getService('grpc.testing.BenchmarkService'), createGrpcTransport({ baseUrl: `http://${target}` }));
    return {
      request: (init) => create(SimpleRequest, init),
      unary: (request) => client.unaryCall(request),
      receive: (request, signal, onMessage) => drain(client.streamingFromServer(request, { signal }), signal, onMessage),
      close: () => undefined,
    };
  }
  throw new Error(`unknown client ${library}`);
}
