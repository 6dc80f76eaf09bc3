// The probes of the thread-pool workload, with grpc-iter's client (dist/), raw bytes.
//   node thread-pool-probe.mjs latency <port> <seconds>   open loop: a cheap unary call and a
//       health check every 20 ms each, 10 ms apart, whether or not the ones before have answered (so every
//       server gets the same probe load, and a slow answer cannot hold back the next probe);
//       prints LAT <name> <p50 ms> <p99 ms> <count> for each
//   node thread-pool-probe.mjs trivial <port> <calls>     sequential bench.Work/Nothing calls;
//       prints TRIVIAL <mean µs>
//   node thread-pool-probe.mjs check <port>               one Burn call; prints CHECK <bytes>
import { insecureChannel } from '../../dist/index.js';

const [mode, portText, amount] = process.argv.slice(2);
const channel = insecureChannel(`127.0.0.1:${portText}`);
const empty = new Uint8Array(0);
const call = (path) => channel.unaryUnary(path)(empty);
const HEALTH_REQUEST = new Uint8Array(0); // HealthCheckRequest { service: '' }
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

if (mode === 'latency') {
  const probes = { cheap: () => call('/bench.Cheap/Ping'), health: () => channel.unaryUnary('/grpc.health.v1.Health/Check')(HEALTH_REQUEST) };
  const times = { cheap: [], health: [] };
  for (let i = 0; i < 20; i++) for (const p of Object.values(probes)) await p();
  // Each kind every 20 ms, the two kinds 10 ms apart.
  const TICK_MS = 10;
  const kinds = Object.entries(probes);
  const end = performance.now() + Number(amount) * 1000;
  const answers = [];
  for (let next = performance.now(), tick = 0; next < end; next += TICK_MS, tick++) {
    const [name, probe] = kinds[tick % kinds.length];
    const t = performance.now();
    answers.push(probe().then(() => times[name].push(performance.now() - t)));
    await pause(Math.max(0, next + TICK_MS - performance.now()));
  }
  await Promise.all(answers);
  for (const [name, samples] of Object.entries(times)) {
    samples.sort((a, b) => a - b);
    console.log(`LAT ${name} ${percentile(samples, 50).toFixed(3)} ${percentile(samples, 99).toFixed(3)} ${samples.length}`);
  }
} else if (mode === 'trivial') {
  const n = Number(amount);
  for (let i = 0; i < 500; i++) await call('/bench.Work/Nothing');
  const t = performance.now();
  for (let i = 0; i < n; i++) await call('/bench.Work/Nothing');
  console.log(`TRIVIAL ${(((performance.now() - t) * 1000) / n).toFixed(1)}`);
} else if (mode === 'check') {
  console.log(`CHECK ${(await call('/bench.Work/Burn')).length}`);
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
channel.close();
