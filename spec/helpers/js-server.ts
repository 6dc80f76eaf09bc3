// A @grpc/grpc-js server with string messages, for testing our client against code we did not write.
import * as grpc from '@grpc/grpc-js';
import { stringMethods, type Kind } from './grpc.js';

export type JsHandler = grpc.handleUnaryCall<string, string> | grpc.handleServerStreamingCall<string, string> | grpc.handleClientStreamingCall<string, string> | grpc.handleBidiStreamingCall<string, string>;
export type { Kind };

export interface JsServer {
  readonly server: grpc.Server;
  readonly port: number;
  readonly address: string;
  close(): Promise<void>;
}

export async function startJsServer(methods: Record<string, [Kind, JsHandler]>, options: grpc.ServerOptions = {}, service = 'test.Svc', credentials = grpc.ServerCredentials.createInsecure()): Promise<JsServer> {
  const definition = stringMethods(Object.fromEntries(Object.entries(methods).map(([name, [kind]]) => [name, kind])), service);
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [name, [, handler]] of Object.entries(methods)) impl[name] = handler as grpc.UntypedHandleCall;
  const server = new grpc.Server(options);
  server.addService(definition, impl);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p))));
  return { server, port, address: `127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}
