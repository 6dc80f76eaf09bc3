// The work of the thread-pool workload, the same in every Node contender: `iterations` rounds of
// xorshift32, pure computation that allocates nothing (so no garbage collector work, which would
// run on helper threads and blur what the handler itself costs). The iteration count is calibrated once per process so that one
// call costs about BURN_MS of CPU on an idle core (the Python contender calibrates its own loop
// the same way), and passed to worker threads through the environment. The suite calibrates
// once, before any server runs (`node thread-pool-work.mjs` prints ITERATIONS <n>), and gives every
// Node contender that count in THREAD_POOL_ITERATIONS, so they all do the same work.
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

export const BURN_MS = 2;

function chain(iterations) {
  let x = 2463534242;
  for (let i = 0; i < iterations; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  const out = new Uint8Array(8);
  new DataView(out.buffer).setUint32(0, x >>> 0);
  return out;
}

/** Iterations that take BURN_MS: the best of a few timed runs, after a warm-up. */
export function calibrate() {
  if (process.env.THREAD_POOL_ITERATIONS) return Number(process.env.THREAD_POOL_ITERATIONS);
  chain(2_000_000);
  let best = Infinity;
  for (let run = 0; run < 5; run++) {
    const t = performance.now();
    chain(1_000_000);
    best = Math.min(best, (performance.now() - t) / 1_000_000);
  }
  const iterations = Math.max(1, Math.round(BURN_MS / best));
  process.env.THREAD_POOL_ITERATIONS = String(iterations);
  return iterations;
}

/** One CPU-bound request: its 8-byte answer. */
export function burn(iterations) {
  return chain(iterations);
}

/** Calls of `burn` one thread completes in `ms`, after a warm-up. */
function loop(iterations, ms) {
  burn(iterations);
  const end = performance.now() + ms;
  let calls = 0;
  for (; performance.now() < end; calls++) burn(iterations);
  return calls;
}

// The machine's ceiling: `node thread-pool-work.mjs scale <threads> <seconds> <iterations>` runs the work in
// that many worker threads at once, with no gRPC, and prints SCALE <calls per second, all threads>.
if (!isMainThread && workerData?.scale === true) parentPort.postMessage(loop(workerData.iterations, workerData.ms));
else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === 'scale') {
    const [threads, seconds, iterations] = process.argv.slice(3).map(Number);
    const ms = seconds * 1000;
    const counts = await Promise.all(Array.from({ length: threads }, () => new Promise((resolve, reject) => {
      const w = new Worker(new URL(import.meta.url), { workerData: { scale: true, iterations, ms }, env: process.env });
      w.once('message', resolve).once('error', reject);
    })));
    console.log(`SCALE ${(counts.reduce((a, b) => a + b, 0) / seconds).toFixed(1)}`);
    process.exit(0);
  } else console.log(`ITERATIONS ${calibrate()}`);
}
