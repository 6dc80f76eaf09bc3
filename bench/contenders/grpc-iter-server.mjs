// The benchmark service on grpc-iter (the compiled dist/), public API only.
import { server } from '../../dist/index.js';
import { loadProto } from '../../dist/proto/index.js';
import { PROTO, includeDirs, serve } from './control.mjs';

const { BenchmarkService } = loadProto(PROTO, { includeDirs }).grpc.testing;
const responses = new Map();
const responseOf = (size = 0) => {
  let r = responses.get(size);
  if (r === undefined) responses.set(size, (r = { payload: { body: Buffer.alloc(size) } }));
  return r;
};

const srv = server({ options: { 'grpc.max_concurrent_streams': 100_000 } });
srv.addService(BenchmarkService, {
  unaryCall: (request) => responseOf(request.responseSize),
  async *streamingCall(requests) {
    for await (const request of requests) yield responseOf(request.responseSize);
  },
  async streamingFromClient(requests) {
    let size = 0;
    for await (const request of requests) size = request.responseSize ?? 0;
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
const port = await srv.addInsecurePort('127.0.0.1:0');
await srv.start();
serve(port, () => srv.stop(null));
