// What every contender process shares: it prints `READY <port>` once listening, answers
// `mem` on stdin with `MEM <rss bytes>` after a full GC (run with --expose-gc), and exits on
// `exit` or SIGTERM.
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
  process.once('SIGTERM', () => void Promise.resolve(stop()).finally(() => process.exit(0)));
}
