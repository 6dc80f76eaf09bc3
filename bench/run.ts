// The benchmark suite: grpc-iter side by side with @grpc/grpc-js, @connectrpc/connect-node,
// nice-grpc and a bare node:http2 server, each contender in its own process, rounds interleaved
// (A B C A B C ...), medians with min and max, and ratios to grpc-js and to the bare ceiling.
//   npm run bench                  full run (about 16 minutes; gRPC-Web ~2, the thread pool ~4, workloads 8-11 ~4 of them)
//   npm run bench -- --quick       fewer, shorter rounds (about 6 minutes)
//   npm run bench -- --smoke       under a minute: every contender answers every workload correctly
//   npm run bench -- --only unary,streaming   some workloads only: unary, client, streaming, pingpong,
//                                             memory, client-streaming, bidi, client-receive, memory-bidi
//   npm run bench -- --only grpcweb           gRPC-Web unary over HTTP/1.1 and HTTP/2 beside connect-node
//   npm run bench -- --only threadpool        CPU-bound handlers: a 2-worker pool beside the main thread, grpc-js and grpcio
// Markdown tables go to stdout; the raw numbers to bench/results/latest.json.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { GRPC_WEB_CONTENDERS, grpcWebTables, grpcWebUnary } from './grpc-web.js';
import { THREAD_POOL_FLOOR, threadPoolBench, threadPoolMeasured, threadPoolTables } from './thread-pool.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const SERVERS = ['grpc-iter', 'grpc-js', 'connect-node', 'nice-grpc', 'bare'] as const;
const CLIENTS = ['grpc-iter', 'grpc-js', 'connect-node', 'nice-grpc'] as const;
/** The workloads whose contenders are clients (against the bare server), not servers. */
const CLIENT_WORKLOADS: readonly string[] = ['client-unary', 'client-receive'];
type Name = (typeof SERVERS)[number];
/** The order of a table's rows; a smoke run, whose contenders run at once, records them in any order. */
const ORDER: readonly string[] = SERVERS;
// connect-node-server.mjs is the gRPC-Web one of the grpcweb workload; this one speaks gRPC.
const SCRIPTS: Record<Name, string> = {
  'grpc-iter': 'grpc-iter-server.mjs',
  'grpc-js': 'grpc-js-server.mjs',
  'connect-node': 'connect-node-grpc-server.mjs',
  'nice-grpc': 'nice-grpc-server.mjs',
  bare: 'bare-server.mjs',
};

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const quick = args.includes('--quick');
const only = args.find((a) => a.startsWith('--only='))?.slice(7).split(',') ?? (args.includes('--only') ? args[args.indexOf('--only') + 1]!.split(',') : undefined);
const wanted = (w: string): boolean => only === undefined || only.includes(w);

// Sizes of the run: smoke (seconds), quick, full.
// Windows are in seconds: unarySeconds for h2load, loopSeconds for the client workloads (2, 11),
// streamSeconds for the streaming ones, clientSeconds for gRPC-Web and the thread pool. settleMs:
// how long the idle-stream client waits for the server to take in streams that sent nothing (it
// cannot tell when they have arrived); warmUpCalls: the unary loop's, per client.
const plan = smoke
  ? { rounds: 1, unarySeconds: 0, loopSeconds: 0.5, clientSeconds: 0.5, streamSeconds: 0.15, pingPongs: 300, idle: [200], memoryRounds: 1, settleMs: 200, warmUpCalls: 20 }
  : quick
    ? { rounds: 3, unarySeconds: 1.5, loopSeconds: 1.5, clientSeconds: 2, streamSeconds: 1, pingPongs: 3000, idle: [1000, 10_000], memoryRounds: 1, settleMs: 1000, warmUpCalls: 200 }
    : { rounds: 5, unarySeconds: 2, loopSeconds: 2, clientSeconds: 4, streamSeconds: 1.5, pingPongs: 5000, idle: [1000, 10_000], memoryRounds: 2, settleMs: 1000, warmUpCalls: 200 };

/** A contender's server process. */
class ServerProcess {
  readonly #child: ChildProcess;
  readonly #lines: AsyncIterator<string>;
  port = 0;

  constructor(readonly name: Name) {
    this.#child = spawn(process.execPath, ['--expose-gc', here(`./contenders/${SCRIPTS[name]}`)], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.#lines = createInterface({ input: this.#child.stdout! })[Symbol.asyncIterator]();
  }

  async #line(prefix: string): Promise<string> {
    for (;;) {
      const r = await this.#lines.next();
      if (r.done === true) throw new Error(`${this.name} server exited before saying ${prefix}`);
      if (r.value.startsWith(prefix)) return r.value.slice(prefix.length).trim();
    }
  }

  async start(): Promise<this> {
    this.port = Number(await this.#line('READY'));
    return this;
  }

  /** The server's resident memory after a full GC, in bytes. */
  async rss(): Promise<number> {
    this.#child.stdin!.write('mem\n');
    return Number(await this.#line('MEM'));
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    this.#child.stdin!.write('exit\n');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await once(this.#child, 'exit');
    clearTimeout(timer);
  }
}

function run(command: string, argv: string[], timeoutMs = 300_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, argv, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${command} ${argv.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

const node = (script: string, ...argv: Array<string | number>): Promise<string> => run(process.execPath, [here(script), ...argv.map(String)]);

/** Checks a contender with a real client (@grpc/grpc-js) before timing it. */
async function checkWithRealClient(port: number): Promise<void> {
  const includeDirs = [here('./protos'), here('../examples/interop/protos')];
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync('grpc/testing/benchmark_service.proto', { includeDirs })) as unknown as {
    grpc: { testing: { BenchmarkService: grpc.ServiceClientConstructor } };
  };
  const client = new pkg.grpc.testing.BenchmarkService(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    unaryCall(r: unknown, cb: (e: Error | null, r: { payload: { body: Buffer } }) => void): void;
  };
  try {
    const response = await new Promise<{ payload: { body: Buffer } }>((resolve, reject) => client.unaryCall({ responseSize: 100, payload: { body: Buffer.alloc(100) } }, (e, r) => (e ? reject(e) : resolve(r))));
    if (response.payload.body.length !== 100) throw new Error(`answered ${response.payload.body.length} bytes, not 100`);
  } finally {
    client.close();
  }
}

interface Stat {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

function stat(samples: number[]): Stat {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, samples };
}

type Results = Record<string, Record<string, Stat>>;
const results: Results = {};
const notes: string[] = [];

function record(workload: string, contender: string, value: number): void {
  ((results[workload] ??= {})[contender] ??= { median: 0, min: 0, max: 0, samples: [] }).samples.push(value);
}

function finish(): void {
  for (const w of Object.values(results)) for (const [c, s] of Object.entries(w)) w[c] = stat(s.samples);
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function table(title: string, workload: string, unit: string, lowerIsBetter = false, digits = 0): string {
  const w = results[workload];
  if (w === undefined) return '';
  const ratio = (a: number, b: number | undefined): string => (b === undefined || b === 0 ? '' : `${(lowerIsBetter ? b / a : a / b).toFixed(2)}×`);
  const lines = [`### ${title}`, '', `| contender | median ${unit} | min | max | vs grpc-js | vs bare |`, '|---|---:|---:|---:|---:|---:|'];
  const rank = (name: string): number => (ORDER.indexOf(name) + ORDER.length + 1) % (ORDER.length + 1); // unknown names last
  for (const [name, s] of Object.entries(w).sort(([a], [b]) => rank(a) - rank(b))) {
    lines.push(`| ${name} | ${fmt(s.median, digits)} | ${fmt(s.min, digits)} | ${fmt(s.max, digits)} | ${ratio(s.median, w['grpc-js']?.median)} | ${ratio(s.median, w.bare?.median)} |`);
  }
  if (lowerIsBetter) lines.push('', 'Ratios: how many times better (lower) than the other.');
  return `${lines.join('\n')}\n`;
}

/**
 * Runs `body` for each contender: one after another, as a measurement needs the machine to
 * itself, but all at once in a smoke run, which only checks that each one answers.
 */
async function each<T>(items: readonly T[], body: (item: T) => Promise<void>): Promise<void> {
  if (smoke) await Promise.all(items.map(body));
  else for (const item of items) await body(item);
}

/** A smoke run's servers, started and checked once and shared by its workloads, so the run stays short. */
let smokeServers: Promise<ServerProcess[]> | undefined;

async function startServers(): Promise<ServerProcess[]> {
  const servers = await Promise.all(SERVERS.map((n) => new ServerProcess(n).start()));
  for (const s of servers) await checkWithRealClient(s.port);
  return servers;
}

/** Runs `body` against every contender's server: fresh processes for each workload of a timed run. */
async function withServers<T>(body: (servers: ServerProcess[]) => Promise<T>): Promise<T> {
  if (smoke) return body(await (smokeServers ??= startServers()));
  const servers = await startServers();
  try {
    return await body(servers);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

function h2loadPath(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v h2load'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

/** The `q` quantile of h2load's per-request log (tab-separated: start, HTTP status, µs to the end of the response), in ms. */
function latencyQuantile(logFile: string, q: number): number {
  const micros = readFileSync(logFile, 'utf8')
    .split('\n')
    .map((line) => line.split('\t'))
    .filter((row) => row[1] === '200') // a request still in flight when the run ends is logged with status 0
    .map((row) => Number(row[2]))
    .sort((a, b) => a - b);
  return micros[Math.min(micros.length - 1, Math.floor(q * micros.length))]! / 1000;
}

// 1. Server unary throughput with h2load: 100-byte request and response, 8 connections × 32
// streams, for a fixed time after a warm-up second (a fixed count would make the slowest
// contender the longest run); the p99 latency from h2load's per-request log.
async function serverUnary(): Promise<void> {
  const h2load = h2loadPath();
  if (h2load === undefined) {
    notes.push('Server unary throughput was not measured: h2load is missing. Install it with `sudo apt-get install nghttp2-client` (Debian/Ubuntu) or `brew install nghttp2` (macOS).');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'grpc-iter-bench-'));
  const body = join(dir, 'request.bin');
  const payload = Buffer.concat([Buffer.from([0x12, 100]), Buffer.alloc(100)]);
  const message = Buffer.concat([Buffer.from([0x10, 100, 0x1a, payload.length]), payload]);
  const frame = Buffer.alloc(5);
  frame.writeUInt32BE(message.length, 1);
  writeFileSync(body, Buffer.concat([frame, message]));
  // A smoke run counts requests instead: a contender still cold could finish none in a short window.
  const length = smoke ? ['-n', '1024'] : ['-D', `${Math.round(plan.unarySeconds * 1000)}ms`, '--warm-up-time=1'];
  await withServers(async (servers) => {
    for (let round = 0; round < plan.rounds; round++) {
      for (const s of servers) {
        const log = join(dir, `${s.name}.log`);
        const out = await run(h2load, [...length, `--log-file=${log}`, '-c', '8', '-m', '32', '-t', '2', '-d', body, '-H', 'content-type: application/grpc', '-H', 'te: trailers', `http://127.0.0.1:${s.port}/grpc.testing.BenchmarkService/UnaryCall`]);
        const rate = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
        const ok = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
        if (rate === null || ok === null || Number(ok[1]) === 0 || Number(ok[2]) + Number(ok[3]) > 0) throw new Error(`${s.name}: h2load saw failed requests:\n${out}`);
        record('server-unary', s.name, Number(rate[1]));
        record('server-unary-p99', s.name, latencyQuantile(log, 0.99));
      }
    }
  });
  rmSync(dir, { recursive: true, force: true });
}

/** Runs `body` against one bare server: the client workloads measure clients against the ceiling. */
async function withBare(body: (bare: ServerProcess) => Promise<void>): Promise<void> {
  if (smoke) return withServers((servers) => body(servers.find((s) => s.name === 'bare')!));
  const bare = await new ServerProcess('bare').start();
  try {
    await body(bare);
  } finally {
    await bare.stop();
  }
}

// 2. Client unary throughput: a closed loop of 64 calls against the bare server.
async function clientUnary(): Promise<void> {
  await withBare(async (bare) => {
    for (let round = 0; round < plan.rounds; round++) {
      await each(CLIENTS, async (client) => {
        const out = await node('./clients/unary-loop.mjs', client, bare.port, 64, plan.loopSeconds, plan.warmUpCalls);
        const m = /CALLS (\d+) ([\d.]+)/.exec(out);
        if (m === null) throw new Error(`${client} client: ${out}`);
        record('client-unary', client, Number(m[1]) / Number(m[2]));
      });
    }
  });
}

// 3. Server-streaming throughput, 1 KiB messages, one stream and eight.
async function streaming(): Promise<void> {
  await withServers(async (servers) => {
    for (let round = 0; round < plan.rounds; round++) {
      for (const streams of [1, 8]) {
        await each(servers, async (s) => {
          const out = await node('./clients/h2.mjs', 'stream', s.port, streams, plan.streamSeconds, 1024);
          const m = /STREAM (\d+) (\d+) ([\d.]+)/.exec(out);
          if (m === null || Number(m[1]) === 0) throw new Error(`${s.name}: no messages streamed (${out.trim()})`);
          record(`streaming-${streams}`, s.name, Number(m[1]) / Number(m[3]));
          record(`streaming-${streams}-mb`, s.name, Number(m[2]) / Number(m[3]) / 1e6);
        });
      }
    }
  });
}

// 4. Bidi ping-pong latency on one stream.
async function pingPong(): Promise<void> {
  await withServers(async (servers) => {
    for (let round = 0; round < plan.rounds; round++) {
      await each(servers, async (s) => {
        const out = await node('./clients/h2.mjs', 'pingpong', s.port, plan.pingPongs, 100);
        const m = /PINGPONG ([\d.]+) ([\d.]+)/.exec(out);
        if (m === null) throw new Error(`${s.name}: ${out}`);
        record('pingpong-p50', s.name, Number(m[1]));
        record('pingpong-p99', s.name, Number(m[2]));
      });
    }
  });
}

// 5. Memory: server RSS with many concurrent idle streams: bidi calls that send nothing
// (`idle`), or (10.) bidi calls that have echoed one message each and wait for the next
// (`idle-bidi`), so the handler has started and read from its stream.
// Each measurement has a fresh server of its own, but a smoke run, which only checks that every
// contender answers, uses its shared ones.
async function memory(mode: 'idle' | 'idle-bidi' = 'idle'): Promise<void> {
  const key = mode === 'idle' ? 'memory' : 'memory-bidi';
  const shared = smoke ? await withServers(async (servers) => servers) : undefined;
  for (let round = 0; round < plan.memoryRounds; round++) {
    for (const count of plan.idle) {
      for (const name of SERVERS) {
        const s = shared?.find((p) => p.name === name) ?? (await new ServerProcess(name).start());
        try {
          if (shared === undefined) await checkWithRealClient(s.port);
          const before = await s.rss();
          const client = spawn(process.execPath, [here('./clients/h2.mjs'), mode, String(s.port), String(count), '1000', String(plan.settleMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
          const lines = createInterface({ input: client.stdout! })[Symbol.asyncIterator]();
          // Bounded: a server that never takes the streams in fails the run instead of hanging it.
          const opening = setTimeout(() => client.kill('SIGKILL'), 120_000);
          const first = await lines.next().finally(() => clearTimeout(opening));
          if (first.value !== 'OPEN') throw new Error(`${name}: idle client said ${String(first.value)}`);
          const after = await s.rss();
          client.stdin!.write('close\n');
          await once(client, 'exit');
          record(`${key}-${count}`, name, after / 1e6);
          record(`${key}-${count}-per-stream`, name, (after - before) / count);
        } finally {
          if (shared === undefined) await s.stop();
        }
      }
    }
  }
}

// 8. Client-streaming throughput, 1 KiB messages, one stream: precomputed frames written as fast
// as flow control lets them leave; the server answers once it has read the last, so messages
// sent over the time to that answer is the rate the server received them at.
async function clientStreaming(): Promise<void> {
  await withServers(async (servers) => {
    for (let round = 0; round < plan.rounds; round++) {
      await each(servers, async (s) => {
        const out = await node('./clients/h2.mjs', 'client-stream', s.port, plan.streamSeconds, 1024);
        const m = /CLIENTSTREAM (\d+) ([\d.]+)/.exec(out);
        if (m === null || Number(m[1]) === 0) throw new Error(`${s.name}: no messages received (${out.trim()})`);
        record('client-streaming', s.name, Number(m[1]) / Number(m[2]));
      });
    }
  });
}

// 9. Bidi throughput, 1 KiB messages each way, one stream (StreamingCall, an echo), at most 64
// messages unanswered: responses received per second.
async function bidi(): Promise<void> {
  await withServers(async (servers) => {
    for (let round = 0; round < plan.rounds; round++) {
      await each(servers, async (s) => {
        const out = await node('./clients/h2.mjs', 'bidi', s.port, plan.streamSeconds, 1024);
        const m = /BIDI (\d+) ([\d.]+)/.exec(out);
        if (m === null || Number(m[1]) === 0) throw new Error(`${s.name}: no messages echoed (${out.trim()})`);
        record('bidi', s.name, Number(m[1]) / Number(m[2]));
      });
    }
  });
}

// 11. A client receiving a server stream (1 KiB messages, one stream) from the bare server,
// which writes precomputed frames as fast as flow control allows: messages consumed per second.
async function clientReceive(): Promise<void> {
  await withBare(async (bare) => {
    for (let round = 0; round < plan.rounds; round++) {
      await each(CLIENTS, async (client) => {
        const out = await node('./clients/stream-receive.mjs', client, bare.port, plan.loopSeconds, 1024);
        const m = /RECEIVE (\d+) ([\d.]+)/.exec(out);
        if (m === null || Number(m[1]) === 0) throw new Error(`${client} client: no messages received (${out.trim()})`);
        record('client-receive', client, Number(m[1]) / Number(m[2]));
      });
    }
  });
}

const workloads: Array<[string, () => Promise<void>]> = [
  ['unary', serverUnary],
  ['client', clientUnary],
  ['streaming', streaming],
  ['pingpong', pingPong],
  ['memory', () => memory('idle')],
  ['client-streaming', clientStreaming],
  ['bidi', bidi],
  ['client-receive', clientReceive],
  ['memory-bidi', () => memory('idle-bidi')],
  ['grpcweb', () => grpcWebUnary({ rounds: plan.rounds, seconds: plan.clientSeconds, h2load: h2loadPath(), notes, record, run })],
  ['threadpool', () => threadPoolBench({ rounds: plan.rounds, seconds: plan.clientSeconds, trivialCalls: plan.pingPongs, h2load: h2loadPath(), notes, record, run })],
];

const CONTENDERS = [
  'Contenders: grpc-iter; @grpc/grpc-js with @grpc/proto-loader; @connectrpc/connect-node with its gRPC protocol on node:http2;',
  'nice-grpc (async iterables over @grpc/grpc-js); bare, a node:http2 server writing precomputed frames (the ceiling). Each runs',
  'every server workload (1, 3, 4, 5, 8, 9, 10); the client workloads (2, 11) run the grpc-iter, grpc-js, connect-node and nice-grpc',
  'clients against the bare server. Not every contender is in 6 and 7: nice-grpc has no gRPC-Web server (nice-grpc-web is a',
  'browser client), so 6 compares grpc-iter with connect-node only; 7 is about worker threads, which neither connect-node nor',
  'nice-grpc offers (on the main thread their handlers would wait behind the CPU-bound work as grpc-js\'s do).',
].join(' ');

const started = Date.now();
/** Seconds each workload took, so the length of a full run can be kept in check. */
const took: Record<string, number> = {};
try {
  for (const [name, body] of workloads) {
    if (!wanted(name)) continue;
    process.stderr.write(`bench: ${name}...\n`);
    const t0 = Date.now();
    await body();
    took[name] = Math.round((Date.now() - t0) / 100) / 10;
    process.stderr.write(`bench: ${name} took ${took[name]} s\n`);
  }
} finally {
  if (smokeServers !== undefined) await Promise.all((await smokeServers).map((s) => s.stop()));
}
finish();

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${fmt(totalmem() / 2 ** 30, 0)} GiB, Node.js ${process.version}, ${process.platform}`;
const sections = [
  `## Benchmark results`,
  '',
  `Machine: ${machine}. Command: \`npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}\`. ${plan.rounds} rounds, contenders interleaved; took ${fmt((Date.now() - started) / 1000, 0)} s.`,
  '',
  table('1. Server unary throughput (h2load, 8 connections × 32 streams, 100-byte messages)', 'server-unary', 'req/s'),
  table('1b. Server unary latency, p99 (h2load, as in 1.)', 'server-unary-p99', 'ms', true, 2),
  table('2. Client unary throughput (closed loop of 64 calls, bare server)', 'client-unary', 'calls/s'),
  table('3a. Server streaming, 1 stream, 1 KiB messages', 'streaming-1', 'msg/s'),
  table('3b. Server streaming, 1 stream (MB/s)', 'streaming-1-mb', 'MB/s', false, 1),
  table('3c. Server streaming, 8 streams, 1 KiB messages', 'streaming-8', 'msg/s'),
  table('3d. Server streaming, 8 streams (MB/s)', 'streaming-8-mb', 'MB/s', false, 1),
  table('4a. Bidi ping-pong latency, p50', 'pingpong-p50', 'µs', true, 1),
  table('4b. Bidi ping-pong latency, p99', 'pingpong-p99', 'µs', true, 1),
  ...plan.idle.flatMap((n) => [table(`5. Server RSS with ${fmt(n)} idle streams (bidi calls that sent nothing)`, `memory-${n}`, 'MB', true, 1), table(`5. Bytes per idle stream (${fmt(n)} streams)`, `memory-${n}-per-stream`, 'bytes', true)]),
  ...grpcWebTables(results),
  ...threadPoolTables(results),
  table('8. Client-streaming throughput, 1 stream, 1 KiB messages (received by the server)', 'client-streaming', 'msg/s'),
  table('9. Bidi throughput, 1 stream, 1 KiB messages each way (echo, ≤ 64 unanswered)', 'bidi', 'msg/s'),
  ...plan.idle.flatMap((n) => [
    table(`10. Server RSS with ${fmt(n)} idle bidi streams (one message each way, then idle)`, `memory-bidi-${n}`, 'MB', true, 1),
    table(`10. Bytes per idle bidi stream (${fmt(n)} streams)`, `memory-bidi-${n}-per-stream`, 'bytes', true),
  ]),
  table('11. Client receiving a server stream, 1 KiB messages (bare server)', 'client-receive', 'msg/s'),
  `${CONTENDERS}\n`,
  ...notes.map((n) => `> ${n}\n`),
];
console.log(sections.filter((s) => s !== '').join('\n'));

const ratio = (w: string, a: string, b: string): number | undefined => {
  const x = results[w]?.[a]?.median;
  const y = results[w]?.[b]?.median;
  if (x === undefined || y === undefined || x === 0 || y === 0) return undefined;
  return x / y;
};
const cheapP99 = (w: string, pool = 'grpc-iter workers (2)'): number | undefined => results[w]?.[pool]?.median;
const EQUAL_POOL = 'grpc-iter workers (2, niceIncrement 0)';
const IDLE_POOL = "grpc-iter workers (2, schedulingPolicy 'idle')";
// Each target: what it says, the measured value in the terms it says it in (a ratio, or ms), the
// bound, and whether the value must reach the bound or stay under it.
const targets: Array<[string, number | undefined, number, 'at least' | 'at most', string]> = [
  ['server unary ≥ 1.6× grpc-js', ratio('server-unary', 'grpc-iter', 'grpc-js'), 1.6, 'at least', '×'],
  ['server unary ≥ 1.0× bare', ratio('server-unary', 'grpc-iter', 'bare'), 1, 'at least', '×'],
  ['server unary h2load p99 ≤ grpc-js', ratio('server-unary-p99', 'grpc-iter', 'grpc-js'), 1, 'at most', '×'],
  ['client unary ≥ 2× grpc-js', ratio('client-unary', 'grpc-iter', 'grpc-js'), 2, 'at least', '×'],
  ['streaming, 1 stream ≥ 0.8× bare', ratio('streaming-1', 'grpc-iter', 'bare'), 0.8, 'at least', '×'],
  ['streaming, 8 streams ≥ 0.6× bare', ratio('streaming-8', 'grpc-iter', 'bare'), 0.6, 'at least', '×'],
  ['client streaming ≥ 2× grpc-js', ratio('client-streaming', 'grpc-iter', 'grpc-js'), 2, 'at least', '×'],
  ['bidi throughput ≥ 2× grpc-js', ratio('bidi', 'grpc-iter', 'grpc-js'), 2, 'at least', '×'],
  ['client receiving a server stream ≥ 2× grpc-js', ratio('client-receive', 'grpc-iter', 'grpc-js'), 2, 'at least', '×'],
  ['ping-pong p50 ≤ grpc-js', ratio('pingpong-p50', 'grpc-iter', 'grpc-js'), 1, 'at most', '×'],
  ...plan.idle.map((n): [string, number | undefined, number, 'at least' | 'at most', string] => [`memory per idle stream (${fmt(n)}) ≤ grpc-js`, ratio(`memory-${n}-per-stream`, 'grpc-iter', 'grpc-js'), 1, 'at most', '×']),
  ...plan.idle.map((n): [string, number | undefined, number, 'at least' | 'at most', string] => [`memory per idle bidi stream (${fmt(n)}) ≤ 0.8× grpc-js`, ratio(`memory-bidi-${n}-per-stream`, 'grpc-iter', 'grpc-js'), 0.8, 'at most', '×']),
  ['gRPC-Web unary over HTTP/1.1 ≥ 1.5× connect-node', ratio('grpcweb-h1', 'grpc-iter', 'connect-node'), 1.5, 'at least', '×'],
  ['gRPC-Web unary over HTTP/2 ≥ 1.5× connect-node', ratio('grpcweb-h2', 'grpc-iter', 'connect-node'), 1.5, 'at least', '×'],
  ['CPU-bound unary, 2 workers ≥ 1.7× main thread', ratio('threadpool-burn', 'grpc-iter workers (2)', 'grpc-iter main thread'), 1.7, 'at least', '×'],
  ['two plain threads (no gRPC) vs one: the ceiling of the line above', ratio('threadpool-ceiling', '2 threads', '1 thread'), 1.7, 'at least', '×'],
  ['cheap unary p99 under CPU load, workers ≤ 5 ms', cheapP99('threadpool-cheap-p99'), 5, 'at most', ' ms'],
  ['health check p99 under CPU load, workers ≤ 5 ms', cheapP99('threadpool-health-p99'), 5, 'at most', ' ms'],
  ['cheap unary p99, same probes, same server, no load: the floor of the two lines above', cheapP99('threadpool-cheap-p99', THREAD_POOL_FLOOR), 5, 'at most', ' ms'],
  ['cheap unary p99 under CPU load, workers with niceIncrement 0 ≤ 5 ms', cheapP99('threadpool-cheap-p99', EQUAL_POOL), 5, 'at most', ' ms'],
  ['health check p99 under CPU load, workers with niceIncrement 0 ≤ 5 ms', cheapP99('threadpool-health-p99', EQUAL_POOL), 5, 'at most', ' ms'],
  ["CPU-bound unary, 2 workers with schedulingPolicy 'idle' ≥ 1.7× main thread", ratio('threadpool-burn', IDLE_POOL, 'grpc-iter main thread'), 1.7, 'at least', '×'],
  ["cheap unary p99 under CPU load, workers with schedulingPolicy 'idle' ≤ 5 ms", cheapP99('threadpool-cheap-p99', IDLE_POOL), 5, 'at most', ' ms'],
  ["health check p99 under CPU load, workers with schedulingPolicy 'idle' ≤ 5 ms", cheapP99('threadpool-health-p99', IDLE_POOL), 5, 'at most', ' ms'],
];
if (!smoke) {
  console.log(['### Targets', '', '| target | measured | met |', '|---|---:|---|', ...targets.filter(([, r]) => r !== undefined).map(([t, r, bound, way, unit]) => `| ${t} | ${r!.toFixed(2)}${unit} | ${(way === 'at least' ? r! >= bound : r! <= bound) ? 'yes' : 'no'} |`)].join('\n'));
}

const dir = here('./results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'latest.json'), `${JSON.stringify({ machine, args, plan, took, results, notes }, null, 2)}\n`);

if (smoke) {
  // Every contender must have answered every workload that ran.
  const missing: string[] = [];
  for (const [w, byName] of Object.entries(results)) {
    const expected: readonly string[] = CLIENT_WORKLOADS.includes(w) ? CLIENTS : w.startsWith('grpcweb') ? GRPC_WEB_CONTENDERS : w.startsWith('threadpool') ? threadPoolMeasured(w) : SERVERS;
    for (const n of expected) if (!(byName[n]!?.median > 0) && !w.endsWith('per-stream')) missing.push(`${w}/${n}`);
  }
  if (missing.length > 0) {
    console.error(`bench smoke: no result for ${missing.join(', ')}`);
    process.exitCode = 1;
  }
}
