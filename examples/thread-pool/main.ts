// A CPU-bound handler beside a cheap one: `addWorkerHandlers` runs the hashing service in a pool
// of worker threads, so the cheap call on the main thread keeps answering at once while the
// hashes run, in parallel, off the event loop.
//   node --import tsx examples/thread-pool/main.ts
import { threadId } from 'node:worker_threads';
import { insecureChannel, server, unaryUnaryRpcMethodHandler, methodHandlersGenericHandler } from '../../lib/index.js';

const text = new TextDecoder();
const bytes = new TextEncoder();
const decode = (b: Uint8Array): string => text.decode(b);
const encode = (s: string): Uint8Array => bytes.encode(s);

const srv = server();
// The cheap service stays on the main thread.
srv.addGenericRpcHandlers([methodHandlersGenericHandler('example.Pinger', { Ping: unaryUnaryRpcMethodHandler(() => `pong (thread ${threadId})`, decode, encode) })]);
// The CPU-bound one runs in two worker threads.
await srv.addWorkerHandlers(new URL('./handlers.mjs', import.meta.url), { maxWorkers: 2, minWorkers: 2 });
const port = await srv.addInsecurePort('127.0.0.1:0');
await srv.start();

const channel = insecureChannel(`127.0.0.1:${port}`);
const stretch = channel.unaryUnary('/example.Hasher/Stretch', encode, decode);
const ping = channel.unaryUnary('/example.Pinger/Ping', encode, decode);
console.log(`ping: ${await ping('')}`);

const started = performance.now();
const hashes = Promise.all(['a', 'b', 'c', 'd'].map((input) => stretch(input)));
// While the four hashes keep both workers busy, the main thread still answers pings.
const pings: number[] = [];
let hashing = true;
void hashes.finally(() => (hashing = false));
while (hashing) {
  const t = performance.now();
  await ping('');
  pings.push(performance.now() - t);
}
const digests = await hashes;
const took = performance.now() - started;
const threads = new Set(digests.map((d) => /thread (\d+)/.exec(d)?.[1]));
console.log(`hashes: ${digests.length} answered by ${threads.size} worker threads, none by the main thread (${threadId}): ${!threads.has(String(threadId))}`);
console.log(`pings while hashing: ${pings.length}, slowest ${Math.max(...pings).toFixed(1)} ms, hashing took ${took.toFixed(0)} ms`);
console.log(`the main thread stayed free: ${Math.max(...pings) < took / 4}`);

channel.close();
await srv.stop(1);
