// The client libraries the client workloads compare, each used as its users write it, behind one
// shape: `unary(request)` resolves to the response, `receive(request, signal, onMessage)` reads a
// server stream until `signal` aborts, `close()`.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { create } from '@bufbuild/protobuf';
import { createClient as createConnectClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { createChannel, createClient as createNiceClient } from 'nice-grpc';
import { createClient, insecureChannel } from '../../dist/index.js';
import { loadProto } from '../../dist/proto/index.js';
import { loadRegistry } from '../contenders/connect-service.mjs';
import { PROTO, includeDirs } from '../contenders/control.mjs';

/** The client libraries, in table order. */
export const LIBRARIES = ['grpc-iter', 'grpc-js', 'connect-node', 'nice-grpc'];

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
export function clientFor(library, port) {
  const target = `127.0.0.1:${port}`;
  if (library === 'grpc-iter') {
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
    const { BenchmarkService } = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO, { includeDirs })).grpc.testing;
    if (library === 'nice-grpc') {
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
