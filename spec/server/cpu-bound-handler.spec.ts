import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inProcessChannel, server, unaryUnaryRpcMethodHandler } from '../../lib/index.js';

// A loop of pure computation, as a CPU-bound handler runs: xorshift32, no allocation.
function work(iterations: number): number {
  let x = 2463534242;
  for (let i = 0; i < iterations; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x >>> 0;
}

const ITERATIONS = 150_000;
const empty = new Uint8Array(0);
const identity = (b: Uint8Array): Uint8Array => b;

/** The median of some timings. */
function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

describe('a CPU-bound unary handler', () => {
  it('runs as fast as the same loop outside the server, once the optimizer has compiled the call path', async () => {
    // V8 (Node 20) compiles a hot loop about 3x slower once it is inlined into an async
    // function: a server with a single method must call its behavior from plain functions.
    const inHandler: number[] = [];
    const srv = server();
    srv.addRegisteredMethodHandlers('test.Cpu', {
      Burn: unaryUnaryRpcMethodHandler(
        () => {
          const t = performance.now();
          work(ITERATIONS);
          inHandler.push(performance.now() - t);
          return empty;
        },
        identity,
        identity,
      ),
    });
    await srv.start();
    const channel = inProcessChannel(srv);
    try {
      const burn = channel.unaryUnary('/test.Cpu/Burn', identity, identity);
      for (let i = 0; i < 4000; i++) await burn(empty);
      const standalone: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t = performance.now();
        work(ITERATIONS);
        standalone.push(performance.now() - t);
      }
      const served = median(inHandler.slice(-500));
      const alone = median(standalone);
      assert.ok(served < alone * 1.6, `the loop took ${served.toFixed(3)} ms in the handler, ${alone.toFixed(3)} ms alone`);
    } finally {
      channel.close();
      await srv.stop(null);
    }
  });
});
