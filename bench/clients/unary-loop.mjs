// A closed loop of unary calls from one client library: `concurrency` calls always in flight.
//   node unary-loop.mjs <grpc-iter|grpc-js> <port> <concurrency> <seconds>  → CALLS <n> <seconds>
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createClient, insecureChannel } from '../../dist/index.js';
import { loadProto } from '../../dist/proto/index.js';
import { PROTO, includeDirs } from '../contenders/control.mjs';

const [library, portText, concurrencyText, secondsText] = process.argv.slice(2);
const target = `127.0.0.1:${portText}`;
const request = { responseSize: 100, payload: { body: Buffer.alloc(100) } };

let call;
let close;
if (library === 'grpc-iter') {
  const channel = insecureChannel(target);
  const client = createClient(loadProto(PROTO, { includeDirs }).grpc.testing.BenchmarkService, channel);
  call = () => client.unaryCall(request);
  close = () => channel.close();
} else if (library === 'grpc-js') {
  const { BenchmarkService } = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO, { includeDirs })).grpc.testing;
  const client = new BenchmarkService(target, grpc.credentials.createInsecure());
  call = () => new Promise((resolve, reject) => client.unaryCall(request, (err, res) => (err ? reject(err) : resolve(res))));
  close = () => client.close();
} else {
  console.error(`unknown client ${library}`);
  process.exit(2);
}

// Warm up (connection, JIT), then measure.
for (let i = 0; i < 200; i++) await call();
let done = 0;
let stop = false;
const start = process.hrtime.bigint();
const deadline = Date.now() + Number(secondsText) * 1000;
async function worker() {
  while (!stop) {
    const response = await call();
    if (response.payload.body.length !== 100) throw new Error('wrong response size');
    done++;
    if (Date.now() >= deadline) stop = true;
  }
}
await Promise.all(Array.from({ length: Number(concurrencyText) }, worker));
console.log(`CALLS ${done} ${Number(process.hrtime.bigint() - start) / 1e9}`);
close();
