/**
 * The soak orchestrator: one grpc-iter server process, several client processes running a
 * seeded random mix of calls against it for a while, and the checks that make it a test:
 * every call ended with the status its kind of action must end with, the server's memory after
 * GC did not climb through the second half of the run, every handler finished and nothing
 * (socket, timer) is left open once the server has stopped.
 * @packageDocumentation
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { HandleReport, HandlerStats, MemorySample } from './wire.js';
import type { ActionTally, WorkerResult } from './worker.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

/**
 * How much server RSS after GC may grow across the second half of a run, in bytes; the bound
 * on the slope of its floor ({@link floorOf}) is this divided by the half's length. RSS moves
 * in steps of a few MB as the allocator keeps or returns pages, whatever the run's length, so
 * the allowance is an amount, not a rate: 8 MiB over 5 s (a 10 s run) is 1.6 MiB/s, over 30 s
 * (a 60 s run) 273 KiB/s. Flat runs here stay under 400 KiB/s (10 s) and 70 KiB/s (60 s). The
 * mix runs about 1,000 calls a second, so a leak of 1 KiB per call climbs ~1 MB/s and fails a
 * 60 s run.
 */
export const RSS_GROWTH_BOUND = 8 * 1024 * 1024;

/**
 * The same allowance for the V8 heap used after GC, which is far steadier than RSS: 1 MiB
 * across the second half (205 KiB/s in a 10 s run, 34 KiB/s in a 60 s run, some 35 bytes per
 * call at ~1,000 calls/s).
 */
export const HEAP_GROWTH_BOUND = 1024 * 1024;

/** Options of {@link runSoak}. */
export interface SoakOptions {
  /** How long the clients send, in seconds, after the warm-up. */
  readonly seconds: number;
  /**
   * Seconds of the same load before the measured run, so a short run's second half is past the
   * first seconds in which RSS climbs as the allocator and V8 size themselves to the load.
   * @default 0
   */
  readonly warmupSeconds?: number;
  /** Base of the workers' PRNG seeds (worker k uses `seed + k`), so a run can be replayed. */
  readonly seed?: number;
  /** Concurrent calls per worker. @default 6 */
  readonly concurrency?: number;
  /** Called with progress lines while the run goes on. */
  readonly log?: (line: string) => void;
}

/** One memory sample of the server, `t` seconds after the clients started. */
export interface TimedSample extends MemorySample {
  readonly t: number;
}

/** A kind of action whose calls did not all end with the expected status. */
export interface Unexpected {
  readonly action: string;
  readonly expected: string;
  readonly observed: string;
  readonly count: number;
}

/** What {@link runSoak} found. */
export interface SoakResult {
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly seed: number;
  readonly workers: readonly string[];
  /** Calls by action: the expected status and the statuses observed. */
  readonly calls: Readonly<Record<string, ActionTally>>;
  readonly totalCalls: number;
  readonly unexpected: readonly Unexpected[];
  readonly baseline: MemorySample;
  readonly samples: readonly TimedSample[];
  /** Server memory after GC once the clients were done and every call had ended. */
  readonly idle: MemorySample;
  /** Least-squares slopes of the floor ({@link floorOf}) of the second half of the run, in bytes per second. */
  readonly rssSlope: number;
  readonly heapSlope: number;
  /** The bounds those slopes were held to, in bytes per second ({@link RSS_GROWTH_BOUND}, {@link HEAP_GROWTH_BOUND}). */
  readonly rssBound: number;
  readonly heapBound: number;
  /** The server's handler counters once every client was done. */
  readonly stats: HandlerStats;
  readonly handles: HandleReport;
  /** Why the run failed; empty when it passed. */
  readonly failures: readonly string[];
}

/** Least-squares slope of `y` over `x`; 0 for fewer than two points. */
export function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) * (x - mx);
  }
  return den === 0 ? 0 : num / den;
}

/** Slices of the second half whose lowest sample makes one point of the floor ({@link floorOf}). */
export const FLOOR_SLICES = 5;

/**
 * The floor of a series: its lowest sample in each of `slices` equal slices of `[from, to]`,
 * as `[t, value]` points. Memory after GC still shows spikes of 10-20 MB of RSS that come and
 * go within a second or two (native buffers of connections being torn down); a leak raises the
 * floor under them, steadily, and the floor is what the slope is fitted to.
 */
export function floorOf(samples: readonly TimedSample[], value: (s: TimedSample) => number, from: number, to: number, slices = FLOOR_SLICES): Array<[number, number]> {
  const points: Array<[number, number]> = [];
  const width = (to - from) / slices;
  for (let k = 0; k < slices; k++) {
    let lowest: TimedSample | undefined;
    for (const sample of samples) {
      const inSlice = sample.t >= from + k * width && (sample.t < from + (k + 1) * width || (k === slices - 1 && sample.t <= to));
      if (inSlice && (lowest === undefined || value(sample) < value(lowest))) lowest = sample;
    }
    if (lowest !== undefined) points.push([lowest.t, value(lowest)]);
  }
  return points;
}

/** The soak server's child process, driven over its stdin/stdout control lines. */
export class SoakServer {
  readonly #child: ChildProcess;
  readonly #lines: AsyncIterator<string>;
  port = 0;

  /** Spawns `bench/soak/server.ts` with `args`. */
  constructor(args: readonly string[] = []) {
    // RSS should follow live memory, not the sizing heuristics of V8 and glibc, so a leak is
    // not lost among steps of 10-20 MB: a young generation of fixed size (V8 otherwise grows
    // it with the allocation rate; the server touches all of it before its baseline), and
    // malloc thresholds pinned (glibc otherwise raises its mmap threshold as large buffers are
    // freed, moving them in and out of the heap) with few arenas.
    const v8 = ['--expose-gc', '--min-semi-space-size=16', '--max-semi-space-size=16'];
    const malloc = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '131072' };
    this.#child = spawn(process.execPath, [...v8, '--import', 'tsx', here('./server.ts'), ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...malloc } });
    this.#lines = createInterface({ input: this.#child.stdout! })[Symbol.asyncIterator]();
  }

  /** Whether the process has exited. */
  get exited(): boolean {
    return this.#child.exitCode !== null || this.#child.signalCode !== null;
  }

  async #line(word: string): Promise<string> {
    for (;;) {
      const r = await this.#lines.next();
      if (r.done === true) throw new Error(`Cannot read "${word}" from the soak server: it exited (code ${String(this.#child.exitCode)})`);
      if (r.value.startsWith(`${word} `)) return r.value.slice(word.length + 1);
    }
  }

  async #ask<T>(command: string, word: string): Promise<T> {
    this.#child.stdin!.write(`${command}\n`);
    return JSON.parse(await this.#line(word)) as T;
  }

  /** Waits for `READY <port>`. */
  async start(): Promise<this> {
    this.port = Number(await this.#line('READY'));
    return this;
  }

  /** Server memory after a full GC. */
  mem(): Promise<MemorySample> {
    return this.#ask('mem', 'MEM');
  }

  /** The server's handler counters. */
  stats(): Promise<HandlerStats> {
    return this.#ask('stats', 'STATS');
  }

  /** Stops the server and reports its handles; the process exits after. */
  async stop(): Promise<HandleReport> {
    const report = await this.#ask<HandleReport>('stop', 'STOPPED');
    if (!this.exited) await once(this.#child, 'exit');
    return report;
  }

  /** Kills the process if it is still running (clean-up after a failure). */
  kill(): void {
    if (!this.exited) this.#child.kill('SIGKILL');
  }
}

/** Runs one worker process to its end and returns its result. */
async function runWorker(port: number, mode: string, seed: number, seconds: number, concurrency: number, onStarted: () => void): Promise<WorkerResult> {
  const args = ['--import', 'tsx', here('./worker.ts'), '--port', String(port), '--mode', mode, '--seed', String(seed), '--seconds', String(seconds), '--concurrency', String(concurrency)];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let result: WorkerResult | undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line === 'STARTED') onStarted();
    else if (line.startsWith('RESULT ')) result = JSON.parse(line.slice(7)) as WorkerResult;
  });
  // A worker bounds each call (HANG after 10 s), so it ends within seconds + 10 s plus start-up.
  const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  if (result === undefined) throw new Error(`Cannot read the ${mode} worker's result: it exited with ${String(code)}`);
  return result;
}

const WORKERS = ['grpc-js', 'grpc-js', 'raw', 'grpc-iter'] as const;

/**
 * Runs the soak: starts the server, runs the workers for `seconds`, samples the server's memory
 * after GC every few seconds, then stops everything and checks the results.
 */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const { seconds, warmupSeconds = 0, seed = 1, concurrency = 6, log = () => undefined } = options;
  const total = warmupSeconds + seconds;
  const srv = await new SoakServer().start();
  try {
    const baseline = await srv.mem();
    log(`server on port ${srv.port}, RSS ${mb(baseline.rss)} MB at start; ${WORKERS.length} workers for ${warmupSeconds > 0 ? `${warmupSeconds} s of warm-up and ` : ''}${seconds} s`);
    // The clock starts when the last worker has its clients up and starts sending, so the
    // process start-up of the workers does not count as part of the run.
    let started = Number.POSITIVE_INFINITY;
    let waiting = WORKERS.length;
    const onStarted = (): void => {
      if (--waiting === 0) started = Date.now();
    };
    let running = true;
    const workers = Promise.all(WORKERS.map((mode, k) => runWorker(srv.port, mode, seed + k, total, concurrency, onStarted))).finally(() => (running = false));
    const samples: TimedSample[] = [];
    const interval = Math.min(3, Math.max(0.5, seconds / 20)) * 1000;
    let sampling = Promise.resolve();
    const sampler = setInterval(() => {
      sampling = sampling.then(async () => {
        const t = (Date.now() - started) / 1000;
        if (!running || !(t >= 0) || t > total) return;
        const m = await srv.mem();
        samples.push({ t, ...m });
        log(`t=${t.toFixed(1)} s  RSS ${mb(m.rss)} MB  heap ${mb(m.heapUsed)} MB`);
      });
    }, interval);
    let results: WorkerResult[];
    try {
      results = await workers;
    } finally {
      clearInterval(sampler);
      await sampling;
    }

    // Every call has ended on the clients' side; give the server a bounded moment to see the
    // last resets and closes, then read its counters.
    let stats = await srv.stats();
    for (const until = Date.now() + 5000; stats.active > 0 && Date.now() < until; stats = await srv.stats()) await new Promise((resolve) => setTimeout(resolve, 100));
    const idle = await srv.mem();
    const handles = await srv.stop();

    const calls: Record<string, { expected: string; observed: Record<string, number> }> = {};
    for (const r of results) {
      for (const [action, tally] of Object.entries(r.calls)) {
        const into = (calls[action] ??= { expected: tally.expected, observed: {} });
        for (const [status, n] of Object.entries(tally.observed)) into.observed[status] = (into.observed[status] ?? 0) + n;
      }
    }
    const unexpected: Unexpected[] = [];
    let totalCalls = 0;
    for (const [action, tally] of Object.entries(calls)) {
      for (const [observed, count] of Object.entries(tally.observed)) {
        totalCalls += count;
        if (observed !== tally.expected) unexpected.push({ action, expected: tally.expected, observed, count });
      }
    }
    const half = warmupSeconds + seconds / 2;
    const rssFloor = floorOf(samples, (s) => s.rss, half, total);
    const heapFloor = floorOf(samples, (s) => s.heapUsed, half, total);
    const rssSlope = slope(rssFloor);
    const heapSlope = slope(heapFloor);
    const rssBound = RSS_GROWTH_BOUND / (seconds / 2);
    const heapBound = HEAP_GROWTH_BOUND / (seconds / 2);

    const failures: string[] = [];
    for (const u of unexpected) failures.push(`${u.count} × "${u.action}" ended ${u.observed}, expected ${u.expected}`);
    if (rssFloor.length < 3) failures.push(`only ${rssFloor.length} of ${FLOOR_SLICES} slices of the second half have a memory sample`);
    if (rssSlope > rssBound) failures.push(`RSS after GC grew ${kb(rssSlope)} KiB/s over the second half (bound ${kb(rssBound)} KiB/s)`);
    if (heapSlope > heapBound) failures.push(`heap after GC grew ${kb(heapSlope)} KiB/s over the second half (bound ${kb(heapBound)} KiB/s)`);
    if (stats.active !== 0) failures.push(`${stats.active} calls still active on the server after every client was done`);
    if (stats.settled !== stats.started) failures.push(`${stats.started - stats.settled} handlers never returned or threw (their finally did not run)`);
    if (Object.keys(handles.leftover).length > 0) failures.push(`handles left after stop: ${JSON.stringify(handles.leftover)}`);
    if (totalCalls === 0) failures.push('no calls were made');
    return { seconds, warmupSeconds, seed, workers: WORKERS, calls, totalCalls, unexpected, baseline, samples, idle, rssSlope, heapSlope, rssBound, heapBound, stats, handles, failures };
  } finally {
    srv.kill();
  }
}

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
const kb = (bytes: number): string => (bytes / 1024).toFixed(1);

/** The run as a plain-text summary: calls per action and status, memory samples, slopes, handles. */
export function formatSummary(r: SoakResult): string {
  const out: string[] = [];
  const rows: string[][] = [['action', 'expected', 'calls', 'observed']];
  for (const [action, tally] of Object.entries(r.calls).sort(([a], [b]) => a.localeCompare(b))) {
    const n = Object.values(tally.observed).reduce((s, v) => s + v, 0);
    const observed = Object.entries(tally.observed).map(([status, count]) => (status === tally.expected ? `${status} ${count}` : `${status} ${count} (UNEXPECTED)`));
    rows.push([action, tally.expected, String(n), observed.join(', ')]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) out.push(row.map((cell, i) => (i === 2 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd());
  out.push('');
  out.push(`${r.totalCalls} calls in ${r.warmupSeconds > 0 ? `${r.warmupSeconds} + ` : ''}${r.seconds} s from ${r.workers.length} processes (${r.workers.join(', ')}), seed ${r.seed}; ${r.unexpected.reduce((s, u) => s + u.count, 0)} unexpected`);
  out.push(`server handlers: ${r.stats.started} started, ${r.stats.settled} returned or threw, ${r.stats.active} active at the end; signals aborted by reason: ${JSON.stringify(r.stats.aborted)}`);
  if (Object.keys(r.stats.handlerErrors).length > 0) out.push(`onHandlerError calls: ${JSON.stringify(r.stats.handlerErrors)}`);
  out.push(`RSS after GC (MB): start ${mb(r.baseline.rss)}; samples ${r.samples.map((s) => `${s.t.toFixed(0)}s ${mb(s.rss)}`).join(', ')}; idle after ${mb(r.idle.rss)}`);
  out.push(`heap after GC (MB): start ${mb(r.baseline.heapUsed)}; idle after ${mb(r.idle.heapUsed)}`);
  out.push(`slope of the floor over the second half: RSS ${kb(r.rssSlope)} KiB/s (bound ${kb(r.rssBound)}), heap ${kb(r.heapSlope)} KiB/s (bound ${kb(r.heapBound)})`);
  out.push(`handles: before serving [${r.handles.baseline.join(', ')}], after stop [${r.handles.after.join(', ')}], left over ${JSON.stringify(r.handles.leftover)}`);
  out.push(r.failures.length === 0 ? 'PASS' : `FAIL\n  ${r.failures.join('\n  ')}`);
  return out.join('\n');
}
