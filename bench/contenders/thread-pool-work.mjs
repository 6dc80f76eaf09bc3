// The work of the thread-pool workload, the same in every Node contender: `iterations` rounds of
// xorshift32, pure computation that allocates nothing (so no garbage collector work, which would
// run on helper threads and blur what the handler itself costs). The iteration count is calibrated once per process so that one
// call costs about BURN_MS of CPU on an idle core (the Python contender calibrates its own loop
// the same way), and passed to worker threads through the environment. The suite calibrates
// once, before any server runs (`node thread-pool-work.mjs` prints ITERATIONS <n>), and gives every
// Node contender that count in THREAD_POOL_ITERATIONS, so they all do the same work.
import { fileURLToPath } from 'node:url';

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

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(`ITERATIONS ${calibrate()}`);
