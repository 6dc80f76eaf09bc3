// 7. The thread pool: a unary handler burning ~2 ms of CPU under closed-loop load (h2load, 4
// connections × 8 streams), served by grpc-iter's 2-worker pool (addWorkerHandlers), by
// grpc-iter on its main thread, by @grpc/grpc-js, and by Python grpcio's
// ThreadPoolExecutor(max_workers=2). While the load runs, two more h2load processes probe the
// same server, one with a cheap unary call and one with a health check, each 50 times a second
// on a connection of its own (open loop), and log each call's latency; the p99 is taken over
// every round's samples. Then, without load, the latency of a trivial unary call served by a
// worker against the same call on the main thread: what a worker adds.
// And the machine's ceiling: the same work on one and on two plain threads with no gRPC at all
// (on a virtual machine, two busy vCPUs may not give twice one).
// The pool runs three times: with its defaults (its threads below the event loop, niceIncrement
// 10), with niceIncrement 0 (as equals), and with schedulingPolicy 'idle' (SCHED_IDLE: the event
// loop takes a core from them at once).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The contenders of the thread-pool workload. */
export const THREAD_POOL_CONTENDERS = [
  'grpc-iter workers (2)',
  'grpc-iter workers (2, niceIncrement 0)',
  "grpc-iter workers (2, schedulingPolicy 'idle')",
  'grpc-iter main thread',
  'grpc-js',
  'grpcio ThreadPoolExecutor (2)',
] as const;
/** The contender whose server the probes also measure with no load. */
const FLOOR_OF = 'grpc-iter workers (2)';
/** The name of that row in 7b. */
export const THREAD_POOL_FLOOR = 'grpc-iter workers (2), no load: the probes\' floor';
const FLOOR = THREAD_POOL_FLOOR;
/** The rows of the ceiling table (7d): the work alone, no gRPC. */
const CEILING = ['1 thread', '2 threads'] as const;
type Contender = (typeof THREAD_POOL_CONTENDERS)[number];

// The contenders the last run measured (grpcio is left out when it is not installed).
let measured: readonly Contender[] = [];

/** The rows workload `w` of the last run of {@link threadPoolBench} must have, for the smoke check. */
export function threadPoolMeasured(w: string): readonly string[] {
  if (w === 'threadpool-ceiling') return measured.length > 0 ? CEILING : [];
  if (w === 'threadpool-cheap-p99' || w === 'threadpool-health-p99') return [...measured, FLOOR];
  return w === 'threadpool-trivial' ? measured.filter((c) => c.startsWith('grpc-iter')) : measured;
}

/** What the workload needs from the suite. */
export interface ThreadPoolHarness {
  readonly rounds: number;
  /** Seconds each load run measures for (after a warm-up second). */
  readonly seconds: number;
  /** Trivial calls timed per overhead sample. */
  readonly trivialCalls: number;
  readonly h2load: string | undefined;
  readonly notes: string[];
  record(workload: string, contender: string, value: number): void;
  run(command: string, argv: string[]): Promise<string>;
}

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const PYTHON = '/usr/bin/python3'; // Debian's python3-grpcio is installed for the system Python

function command(name: Contender): [string, string[]] {
  switch (name) {
    case 'grpc-iter workers (2)':
      return [process.execPath, [here('./contenders/thread-pool-grpc-iter-server.mjs'), 'workers', '2']];
    case 'grpc-iter workers (2, niceIncrement 0)':
      return [process.execPath, [here('./contenders/thread-pool-grpc-iter-server.mjs'), 'workers', '2', '0']];
    case "grpc-iter workers (2, schedulingPolicy 'idle')":
      return [process.execPath, [here('./contenders/thread-pool-grpc-iter-server.mjs'), 'workers', '2', '', 'idle']];
    case 'grpc-iter main thread':
      return [process.execPath, [here('./contenders/thread-pool-grpc-iter-server.mjs'), 'main']];
    case 'grpc-js':
      return [process.execPath, [here('./contenders/thread-pool-grpc-js-server.mjs')]];
    case 'grpcio ThreadPoolExecutor (2)':
      return [PYTHON, [here('./contenders/thread-pool-grpcio-server.py'), '2']];
  }
}

class PoolServerProcess {
  readonly #child: ChildProcess;
  port = 0;

  constructor(readonly name: Contender, env: NodeJS.ProcessEnv) {
    const [cmd, argv] = command(name);
    this.#child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  }

  async start(): Promise<this> {
    for await (const line of createInterface({ input: this.#child.stdout! })) {
      if (line.startsWith('READY ')) {
        this.port = Number(line.slice(6));
        return this;
      }
    }
    throw new Error(`${this.name} server exited before it was ready`);
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    this.#child.stdin!.write('exit\n');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await once(this.#child, 'exit');
    clearTimeout(timer);
  }
}

/** Runs the workload; without h2load or grpcio it says so in a note and measures what it can. */
export async function threadPoolBench(h: ThreadPoolHarness): Promise<void> {
  if (h.h2load === undefined) {
    h.notes.push('The thread-pool workload was not measured: h2load is missing (`sudo apt-get install nghttp2-client`).');
    return;
  }
  const hasGrpcio = await h.run(PYTHON, ['-c', 'import grpc']).then(() => true, () => false);
  if (!hasGrpcio) h.notes.push('grpcio was left out of the thread-pool workload: `/usr/bin/python3 -c "import grpc"` failed (`sudo apt-get install python3-grpcio`).');
  const contenders = THREAD_POOL_CONTENDERS.filter((c) => hasGrpcio || !c.startsWith('grpcio'));
  measured = contenders;
  // A smoke run (under a second per workload) skips the warm-up and calibrates once.
  const quickRun = h.seconds < 1;
  const dir = mkdtempSync(join(tmpdir(), 'grpc-iter-thread-pool-'));
  const body = join(dir, 'empty.bin');
  writeFileSync(body, Buffer.alloc(5)); // one uncompressed, empty message
  // Calibrated once, the best of three (the least disturbed by whatever else the machine runs),
  // so every Node contender does the same work per call; grpcio calibrates its own loop alike.
  const best = async (cmd: string, argv: string[]): Promise<number> => {
    let n = 0;
    for (let i = 0; i < (quickRun ? 1 : 3); i++) n = Math.max(n, Number(/ITERATIONS (\d+)/.exec(await h.run(cmd, argv))?.[1] ?? 0));
    return n;
  };
  const env: NodeJS.ProcessEnv = { THREAD_POOL_ITERATIONS: String(await best(process.execPath, [here('./contenders/thread-pool-work.mjs')])) };
  if (hasGrpcio) env.THREAD_POOL_PY_ITERATIONS = String(await best(PYTHON, [here('./contenders/thread-pool-grpcio-server.py'), '--calibrate']));
  h.notes.push(`Thread-pool work per call: ${env.THREAD_POOL_ITERATIONS} xorshift32 rounds in Node${hasGrpcio ? `, ${env.THREAD_POOL_PY_ITERATIONS} in Python` : ''} (each ~2 ms on an idle core).`);
  const node = (...argv: Array<string | number>): Promise<string> => h.run(process.execPath, [here('./clients/thread-pool-probe.mjs'), ...argv.map(String)]);
  const seconds = Math.max(1, Math.round(h.seconds));
  // Each probe's latencies (ms) of every round, by row: their p99 is recorded at the end.
  const latencies = { cheap: new Map<string, number[]>(), health: new Map<string, number[]>() };
  // Probe calls still in flight when their round ended, by row and probe: not in the p99.
  const unfinishedCalls = new Map<string, number>();
  /** Runs the two probes against a server for `seconds`, keeping their latencies under `row`. */
  const probe = async (row: string, port: number): Promise<void> => {
    await Promise.all(
      (Object.keys(PROBES) as Array<keyof typeof PROBES>).map(async (kind, i) => {
        const log = join(dir, `${kind}.log`);
        rmSync(log, { force: true }); // h2load appends to its log
        await new Promise((resolve) => setTimeout(resolve, i * 10)); // the two kinds 10 ms apart
        const out = await h.run(h.h2load!, ['-D', String(seconds), '-c', '1', '-m', '16', `--rps=${PROBE_RATE}`, '-t', '1', '-d', body, ...GRPC_HEADERS, `--log-file=${log}`, `http://127.0.0.1:${port}${PROBES[kind]}`]);
        // A smoke round is too short to spare the warm-up calls: on a busy machine it may make no more.
        const { done, unfinished } = probeLatencies(readFileSync(log, 'utf8'), quickRun ? 0 : PROBE_WARM_UP);
        if (requests(out)?.failed !== 0 || done.length === 0) throw new Error(`${row}: the ${kind} probe did not finish cleanly:\n${out}`);
        // Calls still in flight when the probe ends are the slowest: their absence lowers the p99.
        unfinishedCalls.set(`${row}: ${kind}`, (unfinishedCalls.get(`${row}: ${kind}`) ?? 0) + unfinished);
        const kept = latencies[kind].get(row) ?? [];
        kept.push(...done);
        latencies[kind].set(row, kept);
      }),
    );
  };
  try {
    for (let round = 0; round < h.rounds; round++) {
      for (const [i, name] of CEILING.entries()) {
        const scale = /SCALE ([\d.]+)/.exec(await h.run(process.execPath, [here('./contenders/thread-pool-work.mjs'), 'scale', String(i + 1), String(seconds), env.THREAD_POOL_ITERATIONS!]));
        if (scale === null) throw new Error(`the ${name} ceiling run printed no SCALE line`);
        h.record('threadpool-ceiling', name, Number(scale[1]));
      }
      for (const name of contenders) {
        const s = await new PoolServerProcess(name, env).start();
        try {
          const check = /CHECK (\d+)/.exec(await node('check', s.port));
          if (check?.[1] !== '8') throw new Error(`${name}: bench.Work/Burn did not answer 8 bytes`);
          // The probes against the same server with no load: what they measure of the machine alone.
          if (name === FLOOR_OF) await probe(FLOOR, s.port);
          const load = h.run(h.h2load, ['-D', String(seconds), `--warm-up-time=${quickRun ? 0 : 1}`, '-c', '4', '-m', '8', '-t', '1', '-d', body, ...GRPC_HEADERS, `http://127.0.0.1:${s.port}/bench.Work/Burn`]);
          // The probes start with the warm-up second and end before the load does.
          const [out] = await Promise.all([load, probe(name, s.port)]);
          const rate = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
          const counts = requests(out);
          if (rate === null || counts?.failed !== 0 || counts.succeeded === 0) throw new Error(`${name}: h2load did not finish cleanly:\n${out}`);
          h.record('threadpool-burn', name, Number(rate[1]));
          if (name.startsWith('grpc-iter')) {
            const trivial = /TRIVIAL ([\d.]+)/.exec(await node('trivial', s.port, h.trivialCalls));
            if (trivial === null) throw new Error(`${name}: no trivial-call timing`);
            h.record('threadpool-trivial', name, Number(trivial[1]));
          }
        } finally {
          await s.stop();
        }
      }
    }
    for (const [kind, rows] of Object.entries(latencies)) for (const [row, ms] of rows) h.record(`threadpool-${kind}-p99`, row, quantile(ms, 0.99));
    const unfinished = [...unfinishedCalls].filter(([, n]) => n > 0).map(([what, n]) => `${what} ${n}`);
    if (unfinished.length > 0) h.notes.push(`Probe calls still in flight when their round ended, left out of the p99 (the slowest calls): ${unfinished.join('; ')}.`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What each probe calls. */
const PROBES = { cheap: '/bench.Cheap/Ping', health: '/grpc.health.v1.Health/Check' } as const;
/** Calls per second of each probe. */
const PROBE_RATE = 50;
/** The first calls of each probe are not counted: the connection's setup, a cold path. */
const PROBE_WARM_UP = 20;
const GRPC_HEADERS = ['-H', 'content-type: application/grpc', '-H', 'te: trailers'];

/**
 * The latencies (ms) in an h2load log (start µs, status, duration µs a line) after the first
 * `warmUp` calls, and how many calls were still in flight when the run ended (logged with status 0).
 */
function probeLatencies(log: string, warmUp: number): { done: number[]; unfinished: number } {
  const rows = log
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split('\t').map(Number))
    .sort((a, b) => a[0]! - b[0]!)
    .slice(warmUp);
  const done = rows.filter((row) => row[1] === 200);
  return { done: done.map((row) => row[2]! / 1000), unfinished: rows.length - done.length };
}

/** The succeeded and failed counts of h2load's summary (it exits 0 either way), if it printed one. */
function requests(out: string): { succeeded: number; failed: number } | undefined {
  const m = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(out);
  return m === null ? undefined : { succeeded: Number(m[1]), failed: Number(m[2]) };
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? Number.NaN;
}

interface Stat {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The workload's Markdown tables, or nothing when it did not run. */
export function threadPoolTables(results: Record<string, Record<string, Stat>>): string[] {
  const burn = results['threadpool-burn'];
  if (burn === undefined) return [];
  const main = burn['grpc-iter main thread']?.median;
  const lines = [
    '### 7a. CPU-bound unary (~2 ms of CPU per call), closed loop, 4 connections × 8 streams',
    '',
    '| contender | median req/s | min | max | vs grpc-iter main thread |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const [name, s] of Object.entries(burn)) lines.push(`| ${name} | ${fmt(s.median)} | ${fmt(s.min)} | ${fmt(s.max)} | ${main ? `${(s.median / main).toFixed(2)}×` : ''} |`);
  lines.push(
    '',
    '### 7b. While that load runs: p99 latency of a cheap unary call and of a health check on the same server',
    '',
    `Each probe is h2load on a connection of its own, ${PROBE_RATE} calls a second; the p99 is over every round's calls.`,
    '',
    '| contender | cheap unary p99 ms | health check p99 ms |',
    '|---|---:|---:|',
  );
  for (const name of [...Object.keys(burn), FLOOR]) {
    const cheap = results['threadpool-cheap-p99']?.[name];
    const health = results['threadpool-health-p99']?.[name];
    if (cheap !== undefined || health !== undefined) lines.push(`| ${name} | ${cheap ? fmt(cheap.median, 2) : ''} | ${health ? fmt(health.median, 2) : ''} |`);
  }
  const trivial = results['threadpool-trivial'];
  const inWorker = trivial?.['grpc-iter workers (2)']?.median;
  const onMain = trivial?.['grpc-iter main thread']?.median;
  if (inWorker !== undefined && onMain !== undefined) {
    lines.push(
      '',
      '### 7c. A trivial unary call, one at a time, no load: what a worker thread adds',
      '',
      '| served by | median µs per call | min | max |',
      '|---|---:|---:|---:|',
      ...Object.entries(trivial!).map(([name, s]) => `| ${name} | ${fmt(s.median, 1)} | ${fmt(s.min, 1)} | ${fmt(s.max, 1)} |`),
      '',
      `A worker adds ${fmt(inWorker - onMain, 1)} µs per call (median against median).`,
    );
  }
  const ceiling = results['threadpool-ceiling'];
  const one = ceiling?.['1 thread']?.median;
  if (ceiling !== undefined && one !== undefined) {
    lines.push(
      '',
      '### 7d. The machine\'s ceiling: the same work on plain threads, no gRPC, in the same rounds',
      '',
      '| threads | median calls/s | min | max | vs 1 thread |',
      '|---|---:|---:|---:|---:|',
      ...Object.entries(ceiling).map(([name, s]) => `| ${name} | ${fmt(s.median)} | ${fmt(s.min)} | ${fmt(s.max)} | ${(s.median / one).toFixed(2)}× |`),
      '',
      'A pool of two workers cannot beat one thread by more than the second row does: that is what two busy cores give here.',
    );
  }
  return [`${lines.join('\n')}\n`];
}
