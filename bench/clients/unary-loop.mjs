// A closed loop of unary calls from one client library: `concurrency` calls always in flight.
//   node unary-loop.mjs <grpc-iter|grpc-js|connect-node|nice-grpc> <port> <concurrency> <seconds> [warm-up calls]  → CALLS <n> <seconds>
import { clientFor } from './libraries.mjs';

const [library, portText, concurrencyText, secondsText, warmUpText = '200'] = process.argv.slice(2);
const client = await clientFor(library, portText);
const request = client.request({ responseSize: 100, payload: { body: new Uint8Array(100) } });
const call = client.unary;

// Warm up (connection, JIT), then measure.
for (let i = 0; i < Number(warmUpText); i++) await call(request);
let done = 0;
let stop = false;
const start = process.hrtime.bigint();
const deadline = Date.now() + Number(secondsText) * 1000;
async function worker() {
  while (!stop) {
    const response = await call(request);
    if (response.payload.body.length !== 100) throw new Error('wrong response size');
    done++;
    if (Date.now() >= deadline) stop = true;
  }
}
await Promise.all(Array.from({ length: Number(concurrencyText) }, worker));
console.log(`CALLS ${done} ${Number(process.hrtime.bigint() - start) / 1e9}`);
client.close();
