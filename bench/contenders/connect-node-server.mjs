// The benchmark service's UnaryCall on @connectrpc/connect-node with only its gRPC-Web protocol
// on, served twice by one process: on node:http (HTTP/1.1) and on node:http2 (cleartext HTTP/2,
// prior knowledge), the two servers a connect-node user would run. It prints
// `READY <http1 port> <http2 port>`.
import { createServer } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { loadRegistry } from './connect-service.mjs';
import { serve } from './control.mjs';

const service = loadRegistry().getService('grpc.testing.BenchmarkService');
// The same answers as the grpc-iter contender: one response object per size, made once.
const responses = new Map();
const responseOf = (size = 0) => {
  let r = responses.get(size);
  if (r === undefined) responses.set(size, (r = { payload: { body: new Uint8Array(size) } }));
  return r;
};
const handler = connectNodeAdapter({
  grpcWeb: true,
  grpc: false,
  connect: false,
  routes(router) {
    router.service(service, { unaryCall: (request) => responseOf(request.responseSize) });
  },
});

const http1 = createServer(handler);
const http2 = createHttp2Server({ settings: { maxConcurrentStreams: 100_000 } }, handler);
await Promise.all([new Promise((resolve) => http1.listen(0, '127.0.0.1', resolve)), new Promise((resolve) => http2.listen(0, '127.0.0.1', resolve))]);
const close = (s) => new Promise((resolve) => s.close(() => resolve()));
serve(`${http1.address().port} ${http2.address().port}`, () => {
  http1.closeAllConnections();
  return Promise.all([close(http1), close(http2)]);
});
