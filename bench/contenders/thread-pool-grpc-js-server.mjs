// The thread-pool workload on @grpc/grpc-js: the same handlers on its one event loop, raw bytes.
import * as grpc from '@grpc/grpc-js';
import { burn, calibrate } from './thread-pool-work.mjs';
import { serve } from './control.mjs';

const iterations = calibrate();
const raw = (path) => ({ path, requestStream: false, responseStream: false, requestSerialize: (b) => b, requestDeserialize: (b) => b, responseSerialize: (b) => b, responseDeserialize: (b) => b });
const SERVING = Buffer.from([0x08, 0x01]); // grpc.health.v1.HealthCheckResponse { status: SERVING }
const empty = Buffer.alloc(0);
const srv = new grpc.Server({ 'grpc.max_concurrent_streams': 100_000 });
srv.addService({ Burn: raw('/bench.Work/Burn'), Nothing: raw('/bench.Work/Nothing') }, {
  Burn: (_call, callback) => callback(null, Buffer.from(burn(iterations))),
  Nothing: (_call, callback) => callback(null, empty),
});
srv.addService({ Ping: raw('/bench.Cheap/Ping') }, { Ping: (_call, callback) => callback(null, empty) });
srv.addService({ Check: raw('/grpc.health.v1.Health/Check') }, { Check: (_call, callback) => callback(null, SERVING) });
const port = await new Promise((resolve, reject) => srv.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
console.error(`grpc-js: ${iterations} iterations per call`);
serve(port, () => new Promise((resolve) => srv.tryShutdown(() => resolve())));
