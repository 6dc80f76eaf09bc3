// What every contender process shares: it prints `READY <port>` once listening, answers
// `mem` on stdin with `MEM <rss bytes>` after a full GC (run with --expose-gc), and exits on
// `exit`, SIGTERM, or the end of stdin (the bench that started it is gone).
import { fstatSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const includeDirs = [fileURLToPath(new URL('../protos', import.meta.url)), fileURLToPath(new URL('../../examples/interop/protos', import.meta.url))];
export const PROTO = 'grpc/testing/benchmark_service.proto';

export function serve(port, stop) {
  console.log(`READY ${port}`);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line === 'mem') {
      globalThis.gc?.();
      globalThis.gc?.();
      console.log(`MEM ${process.memoryUsage().rss}`);
    } else if (line === 'heap') {
      globalThis.gc?.();
      const m = process.memoryUsage();
      console.log(`HEAP ${m.heapUsed} ${m.external + m.arrayBuffers}`);
    } else if (line.startsWith('snapshot ')) {
      import('node:v8').then((v8) => console.log(`SNAP ${v8.writeHeapSnapshot(line.slice(9))}`));
    } else if (line === 'exit') {
      void Promise.resolve(stop()).finally(() => process.exit(0));
    }
  });
  // When the bench's pipe closes, no one is left to ask for an exit: a failed or killed run must
  // not leave servers behind. (Started by hand with stdin on a terminal or /dev/null, it stays.)
  const stdin = fstatSync(0);
  if (stdin.isFIFO() || stdin.isSocket()) {
    lines.once('close', () => {
      setTimeout(() => process.exit(0), 2000).unref();
      void Promise.resolve(stop()).finally(() => process.exit(0));
    });
  }
  process.once('SIGTERM', () => void Promise.resolve(stop()).finally(() => process.exit(0)));
}
