// The thread-pool workload's own calls with grpc-iter's client (dist/), raw bytes (the latency
// probes under load are h2load's: see bench/thread-pool.ts).
//   node thread-pool-probe.mjs trivial <port> <calls>     sequential bench.Work/Nothing calls;
//       prints TRIVIAL <mean µs>
//   node thread-pool-probe.mjs check <port>               one Burn call; prints CHECK <bytes> once the
//       probes' calls (bench.Cheap/Ping, a health check) have answered OK too, which h2load does not check
import { insecureChannel } from '../../dist/index.js';

const [mode, portText, amount] = process.argv.slice(2);
const channel = insecureChannel(`127.0.0.1:${portText}`);
const empty = new Uint8Array(0);
const call = (path) => channel.unaryUnary(path)(empty);
if (mode === 'trivial') {
  const n = Number(amount);
  for (let i = 0; i < 500; i++) await call('/bench.Work/Nothing');
  const t = performance.now();
  for (let i = 0; i < n; i++) await call('/bench.Work/Nothing');
  console.log(`TRIVIAL ${(((performance.now() - t) * 1000) / n).toFixed(1)}`);
} else if (mode === 'check') {
  await call('/bench.Cheap/Ping');
  await call('/grpc.health.v1.Health/Check'); // HealthCheckRequest { service: '' }
  console.log(`CHECK ${(await call('/bench.Work/Burn')).length}`);
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
channel.close();
