// The benchmark service on @grpc/grpc-js with @grpc/proto-loader, as its users write it.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO, includeDirs, serve } from './control.mjs';

const definition = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO, { includeDirs }));
const responses = new Map();
const responseOf = (size = 0) => {
  let r = responses.get(size);
  if (r === undefined) responses.set(size, (r = { payload: { body: Buffer.alloc(size) } }));
  return r;
};

/** Writes `response` until the call ends, waiting for drain when the stream is full. */
function flood(call, response) {
  const pump = () => {
    while (!call.cancelled && !call.destroyed) {
      if (!call.write(response)) return void call.once('drain', pump);
    }
  };
  call.on('error', () => undefined);
  pump();
}

const srv = new grpc.Server({ 'grpc.max_concurrent_streams': 100_000 });
srv.addService(definition.grpc.testing.BenchmarkService.service, {
  unaryCall: (call, callback) => callback(null, responseOf(call.request.responseSize)),
  streamingCall(call) {
    call.on('data', (request) => call.write(responseOf(request.responseSize)));
    call.on('end', () => call.end());
    call.on('error', () => undefined);
  },
  streamingFromClient(call, callback) {
    let size = 0;
    call.on('data', (request) => (size = request.responseSize));
    call.on('end', () => callback(null, responseOf(size)));
  },
  streamingFromServer: (call) => flood(call, responseOf(call.request.responseSize)),
  streamingBothWays(call) {
    call.on('data', () => undefined);
    flood(call, responseOf(0));
  },
});
const port = await new Promise((resolve, reject) => srv.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
serve(port, () => new Promise((resolve) => srv.tryShutdown(resolve)));
