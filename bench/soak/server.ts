/**
 * The soak server: grpc-iter through its public API, serving the four RPC kinds of
 * `soak.Soak` plus `Hold`, in its own process so its memory numbers are its own.
 *
 * Run with `node --expose-gc --import tsx bench/soak/server.ts [--max-rpcs N]`. It prints
 * `READY <port>`, then answers lines on stdin:
 *   mem   → `MEM {rss, heapUsed, external}` after a full GC
 *   stats → `STATS {started, ended, settled, active, aborted, holding, handlerErrors}`
 *   stop  → stops the server (grace 1 s), waits for its handles to close, prints
 *           `STOPPED {baseline, after, leftover}` (`process.getActiveResourcesInfo()`), exits
 * @packageDocumentation
 */
import { createInterface } from 'node:readline';
import { delay, forever } from 'abort-controller-x';
import {
  server,
  methodHandlersGenericHandler,
  unaryUnaryRpcMethodHandler,
  unaryStreamRpcMethodHandler,
  streamUnaryRpcMethodHandler,
  streamStreamRpcMethodHandler,
  RpcError,
  statusCodeName,
  type ServicerContext,
} from '../../lib/index.js';
import { MAX_RECEIVE, SERVICE, controlLine, decodeJson, encodeJson, type HandleReport, type HandlerStats, type SoakRequest, type SoakResponse } from './wire.js';

const argv = process.argv.slice(2);
const maxRpcsAt = argv.indexOf('--max-rpcs');
const maximumConcurrentRpcs = maxRpcsAt >= 0 ? Number(argv[maxRpcsAt + 1]) : null;

// Run with a young generation of fixed size (see SoakServer): allocate enough short-lived
// objects to cycle through it a few times, so all its pages are resident before the first
// sample. Otherwise they become resident one by one under load, and RSS climbs by up to twice
// the semi-space size in the first seconds of a run, which is not a leak.
let sink: unknown;
for (let i = 0; i < 2_000_000; i++) sink = { i, text: `w${i}` };
void sink;

const lines = createInterface({ input: process.stdin });
// Taken before any port is bound: what the process holds with no server at all (stdio pipes).
const baseline = process.getActiveResourcesInfo();

let started = 0;
let ended = 0;
let settled = 0;
let holding = 0;
const aborted: Record<string, number> = {};
const handlerErrors: Record<string, number> = {};

/** Counts a handler in, and out again when its call terminates however it ends. */
function track(context: ServicerContext): void {
  started++;
  context.addCallback(() => {
    ended++;
    if (context.signal.aborted) {
      const reason: unknown = context.signal.reason;
      const name = reason instanceof RpcError ? statusCodeName(reason.code) : 'non-RpcError';
      aborted[name] = (aborted[name] ?? 0) + 1;
    }
  });
}

// Built per response, not cached: a cache keyed by the clients' random sizes would itself be
// memory that grows during the run.
const padOf = (size = 0): string => 'p'.repeat(size);

const decode = (bytes: Uint8Array): SoakRequest => decodeJson<SoakRequest>(bytes);
const encode = (value: SoakResponse): Buffer => encodeJson(value);

const srv = server({
  options: { 'grpc.max_receive_message_length': MAX_RECEIVE, 'grpc.max_concurrent_streams': 1000 },
  maximumConcurrentRpcs,
  // Counted, not printed: the summary says how often the server called it, and for what.
  onHandlerError: (error, method) => {
    const key = `${method}: ${error instanceof Error ? error.name : typeof error}`;
    handlerErrors[key] = (handlerErrors[key] ?? 0) + 1;
  },
});
srv.addGenericRpcHandlers([
  methodHandlersGenericHandler(SERVICE, {
    Unary: unaryUnaryRpcMethodHandler(async (request: SoakRequest, context) => {
      track(context);
      try {
        if (request.delayMs !== undefined) await delay(context.signal, request.delayMs);
        return { i: 0, pad: padOf(request.size) };
      } finally {
        settled++;
      }
    }, decode, encode),
    ServerStream: unaryStreamRpcMethodHandler(async function* (request: SoakRequest, context) {
      track(context);
      try {
        const n = request.n ?? 1;
        for (let i = 0; i < n; i++) {
          if (request.delayMs !== undefined) await delay(context.signal, request.delayMs);
          yield { i, pad: padOf(request.size) };
        }
      } finally {
        settled++;
      }
    }, decode, encode),
    ClientStream: streamUnaryRpcMethodHandler(async (requests: AsyncIterable<SoakRequest>, context) => {
      track(context);
      try {
        let count = 0;
        for await (const request of requests) {
          count++;
          if (request.delayMs !== undefined) await delay(context.signal, request.delayMs);
        }
        return { i: count, pad: '' };
      } finally {
        settled++;
      }
    }, decode, encode),
    Bidi: streamStreamRpcMethodHandler(async function* (requests: AsyncIterable<SoakRequest>, context) {
      track(context);
      try {
        for await (const request of requests) {
          if (request.delayMs !== undefined) await delay(context.signal, request.delayMs);
          yield { i: request.n ?? 0, pad: padOf(request.size) };
        }
      } finally {
        settled++;
      }
    }, decode, encode),
    // One response, then nothing until the call is cancelled: an open, idle stream.
    Hold: unaryStreamRpcMethodHandler(async function* (_request: SoakRequest, context) {
      track(context);
      holding++;
      try {
        yield { i: 0, pad: '' };
        await forever(context.signal);
      } finally {
        holding--;
        settled++;
      }
    }, decode, encode),
  }),
]);
const port = await srv.addInsecurePort('127.0.0.1:0');
await srv.start();
process.stdout.write(`READY ${port}\n`);

/** Resource types in `after` beyond their count in `before`. */
function excess(before: readonly string[], after: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of after) counts[type] = (counts[type] ?? 0) + 1;
  for (const type of before) if (counts[type] !== undefined) counts[type]--;
  const out: Record<string, number> = {};
  for (const [type, n] of Object.entries(counts)) if (n > 0) out[type] = n;
  return out;
}

async function stopAndReport(): Promise<void> {
  await srv.stop(1);
  // Closed sockets and cleared timers leave the list within a few turns of the loop; wait for
  // that, but no longer than 3 s, so a real leftover is reported rather than waited on.
  const until = Date.now() + 3000;
  let after = process.getActiveResourcesInfo();
  while (Object.keys(excess(baseline, after)).length > 0 && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    after = process.getActiveResourcesInfo();
  }
  const report: HandleReport = { baseline, after, leftover: excess(baseline, after) };
  process.stdout.write(controlLine('STOPPED', report), () => process.exit(0));
}

lines.on('line', (line) => {
  if (line === 'mem') {
    globalThis.gc?.();
    globalThis.gc?.();
    const m = process.memoryUsage();
    process.stdout.write(controlLine('MEM', { rss: m.rss, heapUsed: m.heapUsed, external: m.external }));
  } else if (line === 'stats') {
    const stats: HandlerStats = { started, ended, settled, active: started - ended, aborted, holding, handlerErrors };
    process.stdout.write(controlLine('STATS', stats));
  } else if (line === 'stop') {
    lines.close();
    void stopAndReport();
  }
});
