// The benchmark service on nice-grpc (async functions and async generators over @grpc/grpc-js),
// with the @grpc/proto-loader definition, as its users write it without generated code.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createServer } from 'nice-grpc';
import { PROTO, includeDirs, serve } from './control.mjs';

const definition = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO, { includeDirs })).grpc.testing.BenchmarkService.service;
const responses = new Map();
const responseOf = (size = 0) => {
  let r = responses.get(size);
  if (r === undefined) responses.set(size, (r = { payload: { body: Buffer.alloc(size) } }));
  return r;
};

// nice-grpc names the methods as the grpc-js definition keys them (the proto names).
const srv = createServer({ 'grpc.max_concurrent_streams': 100_000 });
srv.add(definition, {
  async UnaryCall(request) {
    return responseOf(request.responseSize);
  },
  async *StreamingCall(requests) {
    for await (const request of requests) yield responseOf(request.responseSize);
  },
  async StreamingFromClient(requests) {
    let size = 0;
    for await (const request of requests) size = request.responseSize;
    return responseOf(size);
  },
  async *StreamingFromServer(request, context) {
    const response = responseOf(request.responseSize);
    while (!context.signal.aborted) yield response;
  },
  async *StreamingBothWays(requests, context) {
    const response = responseOf(0);
    void (async () => {
      for await (const _ of requests);
    })().catch(() => undefined);
    while (!context.signal.aborted) yield response;
  },
});
const port = await srv.listen('127.0.0.1:0', grpc.ServerCredentials.createInsecure());
serve(port, () => srv.shutdown());
