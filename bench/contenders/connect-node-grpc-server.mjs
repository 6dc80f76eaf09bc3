// The benchmark service on @connectrpc/connect-node with its gRPC protocol, on node:http2
// (cleartext HTTP/2, prior knowledge), as a connect-node user serves gRPC clients.
import { createServer } from 'node:http2';
import { create } from '@bufbuild/protobuf';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { loadRegistry } from './connect-service.mjs';
import { serve } from './control.mjs';

const registry = loadRegistry();
const service = registry.getService('grpc.testing.BenchmarkService');
const SimpleResponse = registry.getMessage('grpc.testing.SimpleResponse');
// The same answers as the grpc-iter contender: one response message per size, made once.
const responses = new Map();
const responseOf = (size = 0) => {
  let r = responses.get(size);
  if (r === undefined) responses.set(size, (r = create(SimpleResponse, { payload: { body: new Uint8Array(size) } })));
  return r;
};
const handler = connectNodeAdapter({
  grpc: true,
  grpcWeb: false,
  connect: false,
  routes(router) {
    router.service(service, {
      unaryCall: (request) => responseOf(request.responseSize),
      async *streamingCall(requests) {
        for await (const request of requests) yield responseOf(request.responseSize);
      },
      async streamingFromClient(requests) {
        let size = 0;
        for await (const request of requests) size = request.responseSize;
        return responseOf(size);
      },
      async *streamingFromServer(request, context) {
        const response = responseOf(request.responseSize);
        while (!context.signal.aborted) yield response;
      },
      async *streamingBothWays(requests, context) {
        const response = responseOf(0);
        void (async () => {
          for await (const _ of requests);
        })().catch(() => undefined);
        while (!context.signal.aborted) yield response;
      },
    });
  },
});

const srv = createServer({ settings: { maxConcurrentStreams: 100_000 } }, handler);
await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
serve(srv.address().port, () => new Promise((resolve) => srv.close(() => resolve())));
