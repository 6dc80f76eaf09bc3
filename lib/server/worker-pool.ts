import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Metadata, RpcError, StatusCode, toRpcError } from '../protocol/index.js';
import type { ServerCallPort } from '../transport/index.js';
import type { ErrorReporter } from './dispatch.js';
import type { AnyRpcMethodHandler } from './handlers.js';
import { DEFAULT_MAX_QUEUED } from './executor.js';
import {
  ACK,
  CANCEL,
  CLAIM_WORDS,
  COMPRESSION,
  DONE,
  END,
  HALF_CLOSE,
  HEADERS,
  LOAD_FAILED,
  MESSAGE,
  MORE,
  NO_CLAIM,
  READY,
  REPORT,
  REQUEST,
  REQUEST_CREDIT,
  START,
  transferable,
  type CallTask,
  type Description,
  type FromWorker,
  type ToWorker,
  type WorkerData,
  type WorkerMethod,
  type WorkerState,
} from './worker-protocol.js';

/** The status details of a call no worker can take, because none could load the module. */
const NOT_LOADED = 'Cannot run handler: the worker thread could not load the handler module';

/** Options of {@link Server.addWorkerHandlers}: the pool of worker threads serving one handler module. */
export interface WorkerPoolOptions {
  /**
   * How many worker threads may run handlers at once (each runs one call at a time).
   * @default the number of cores minus one, at least 1
   */
  readonly maxWorkers?: number;
  /**
   * Worker threads kept alive while idle, so the first call after a quiet spell does not wait
   * for a thread to start and load the module.
   * @default 1
   */
  readonly minWorkers?: number;
  /**
   * Calls that may wait for a free worker; one more is answered `RESOURCE_EXHAUSTED` at once.
   * `0` queues nothing.
   * @default 1000
   */
  readonly maxQueued?: number;
  /**
   * Milliseconds an idle worker beyond `minWorkers` lives before it exits.
   * @default 30000
   */
  readonly idleTimeoutMs?: number;
  /**
   * Added to the worker threads' nice value, 0 to 19: the higher, the lower their scheduling
   * priority against the main thread, so that on a busy machine the event loop (other calls,
   * health checks, keepalive pings) runs as soon as it has work instead of waiting for a core.
   * Linux only (where a thread has a nice value of its own); ignored elsewhere. Priority only
   * matters when the cores are contended: idle cores still go to the workers. `0` lets them
   * compete with the event loop as equals.
   * @default 10
   */
  readonly niceIncrement?: number;
  /**
   * `'idle'` runs the worker threads under Linux's SCHED_IDLE policy instead of lowering their
   * nice value: they get a core only when no other thread wants it, and the event loop takes a
   * core from them the moment it wakes (a nice value still lets a worker finish its time slice,
   * up to a few ms, first). It is set with util-linux's `chrt`, which must be on the PATH (Node
   * has no call for it); where that fails the worker keeps its nice value and a warning gives
   * chrt's reason. Linux only; ignored elsewhere. It yields to every other busy process on the
   * machine as well (in a container, to the container's own), even one at nice 19: while other
   * work keeps every core busy the workers get almost no CPU and their calls wait.
   * @default 'normal'
   */
  readonly schedulingPolicy?: 'normal' | 'idle';
}

/** Server limits a worker applies as a transport would. @internal */
export interface WorkerLimits {
  readonly maxSendMessageBytes: number;
}

/** Worker threads run below the event loop by default: the server stays responsive while they compute. */
const DEFAULT_NICE_INCREMENT = 10;

/** The longest pause before replacing a worker after idle workers kept crashing, in ms. */
const MAX_RESPAWN_DELAY_MS = 30_000;

/**
 * The largest unary request sent ahead to a busy worker. The main thread keeps its own copy until
 * the worker claims the call, in case another worker is sent it instead.
 */
const AHEAD_MAX_BYTES = 64 * 1024;

/** Call ids are positive Int32 values, as a claim word holds them. */
const MAX_ID = 0x7fffffff;

/** How long stop() lets handlers in workers end after their calls were cancelled, in ms. @internal */
export const WORKER_STOP_MS = 2000;

// This file's own extension: `.js` in dist, `.ts` when run from source under tsx.
const ENTRY_URL = new URL(`./worker-entry${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/**
 * A pool of worker threads serving one handler module, and the main thread's side of each call
 * it runs: the call port's bytes go to a worker and come back (worker-protocol.ts). Each worker
 * runs one call at a time over its own long-lived channel; calls wait in a bounded queue for a
 * free worker. When every worker is started and busy, a small unary call is sent ahead to a busy
 * worker instead, which starts it the moment its handler returns, without waiting for the main
 * thread; a worker that frees up with no call of its own takes the oldest such call back
 * (worker-protocol.ts), so no call waits behind a long one while another worker idles. Workers
 * start as calls need them (up to `maxWorkers`), the first `minWorkers` stay, the rest exit after
 * `idleTimeoutMs` idle, and one that exits is replaced.
 * @internal
 */
export class WorkerPool {
  readonly #href: string;
  readonly #workerData: Omit<WorkerData, 'claims'>;
  readonly #maxWorkers: number;
  readonly #minWorkers: number;
  readonly #maxQueued: number;
  readonly #idleTimeoutMs: number;
  readonly #limits: WorkerLimits;
  readonly #report: ErrorReporter;
  readonly #workers = new Set<PoolWorker>();
  // Started workers free for a call, the most recently freed last.
  readonly #idle: PoolWorker[] = [];
  // Calls waiting for a free worker, in order of arrival (each arrived after every call sent ahead).
  readonly #queue: MainSide[] = [];
  // Workers with a call sent ahead.
  #ahead = 0;
  // Workers spawned and still loading the module.
  #loading = 0;
  #nextId = 1;
  // After idle workers crashed: how long to wait before the next replacement (0: at once).
  #respawnDelayMs = 0;
  #respawnTimer: NodeJS.Timeout | undefined;
  // After a worker started late could not load the module: no worker starts before this time
  // (performance.now()), and the pause doubles with each such failure until a worker loads.
  #loadRetryMs = 0;
  #loadRetryAt = 0;
  // The text of the last load failure reported: the same failure again is not reported again.
  #loadError: string | undefined;
  // destroy() waiting for the calls in workers to end.
  #drained: (() => void) | undefined;
  #loaded = false;
  // A worker's warning (its scheduling policy could not be set) is given once per pool.
  #warned = false;
  #closing = false;
  readonly #description: Promise<Description>;
  #described!: (description: Description) => void;
  #loadFailed!: (error: unknown) => void;

  /**
   * @throws RangeError for a bad option; TypeError for a module that is not a URL or string
   */
  constructor(module: URL | string, options: WorkerPoolOptions, limits: WorkerLimits, report: ErrorReporter) {
    this.#href = moduleHref(module);
    const maxWorkers = options.maxWorkers ?? Math.max(1, availableParallelism() - 1);
    checkInteger(maxWorkers, 'maxWorkers', 1);
    const minWorkers = options.minWorkers ?? 1;
    checkInteger(minWorkers, 'minWorkers', 0);
    const maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    checkInteger(maxQueued, 'maxQueued', 0);
    const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    checkInteger(idleTimeoutMs, 'idleTimeoutMs', 0);
    const niceIncrement = options.niceIncrement ?? DEFAULT_NICE_INCREMENT;
    checkInteger(niceIncrement, 'niceIncrement', 0);
    if (niceIncrement > 19) throw new RangeError(`Cannot add worker handlers: niceIncrement must be at most 19, got ${niceIncrement}`);
    const policy = options.schedulingPolicy ?? 'normal';
    if (policy !== 'normal' && policy !== 'idle') throw new RangeError(`Cannot add worker handlers: schedulingPolicy must be 'normal' or 'idle', got ${String(policy)}`);
    const linux = process.platform === 'linux';
    this.#workerData = { module: this.#href, niceIncrement: linux ? niceIncrement : 0, idlePolicy: linux && policy === 'idle' };
    this.#maxWorkers = maxWorkers;
    this.#minWorkers = Math.min(minWorkers, maxWorkers);
    this.#maxQueued = maxQueued;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#limits = limits;
    this.#report = report;
    this.#description = new Promise<Description>((resolve, reject) => {
      this.#described = resolve;
      this.#loadFailed = reject;
    });
  }

  /**
   * Starts the first workers (at least one, to load the module) and tells which methods the
   * module serves.
   * @throws the module's load error, or TypeError for a module of the wrong shape
   */
  describe(): Promise<Description> {
    for (let i = this.#workers.size; i < Math.max(1, this.#minWorkers); i++) this.#spawn();
    return this.#description;
  }

  /** Serves the call on `port` in a worker. Never throws; the call ends with a status. */
  run(port: ServerCallPort, method: WorkerMethod): void {
    if (port.passesValues === true) {
      // An in-process channel with `serialize: false` hands over values, which cannot cross threads as such.
      port.finish(StatusCode.INTERNAL, 'Cannot run handler in a worker thread: the channel passes values, not bytes (use serialize: true)');
      return;
    }
    if (method.requestStreaming) {
      this.#startSafely(port, new MainSide(port, method, undefined, this.#report));
      return;
    }
    // As the executor does: the unary request is read whole before the call takes a worker or
    // a place in the queue, so a client slow to upload holds neither.
    port.readUnary().then(
      (bytes) => this.#startSafely(port, new MainSide(port, method, bytes, this.#report)),
      (err: unknown) => {
        const status = toRpcError(err);
        port.finish(status.code, status.details);
      },
    );
  }

  /** A worker that cannot be started or posted to (out of memory, say) ends the call, not the process. */
  #startSafely(port: ServerCallPort, call: MainSide): void {
    try {
      this.#start(call);
    } catch (err) {
      this.#report(err, port.path);
      if (port.active) port.finish(StatusCode.INTERNAL, 'Cannot run handler: no worker thread could take the call');
    }
  }

  #start(call: MainSide): void {
    if (!call.active) return;
    const worker = this.#idle.pop();
    if (worker !== undefined) {
      this.#assign(worker, call);
      return;
    }
    if (this.#closing) {
      call.refuse(StatusCode.UNAVAILABLE, 'Cannot run handler: the server is stopping');
      return;
    }
    if (this.#workers.size === 0 && this.#loadRetryAt > performance.now()) {
      call.refuse(StatusCode.INTERNAL, NOT_LOADED);
      return;
    }
    // A worker started for this call: the call waits for it, not for a place in the queue.
    if (this.#workers.size < this.#maxWorkers && this.#queue.length >= this.#loading) this.#grow();
    // A call sent ahead waits as a queued one does: both count against maxQueued.
    if (this.#queue.length + this.#ahead >= this.#maxQueued + this.#loading) {
      call.refuse(StatusCode.RESOURCE_EXHAUSTED, 'Cannot run handler: every worker is busy and the queue is full');
      return;
    }
    if (this.#queue.length === 0 && this.#loading === 0 && call.canGoAhead) {
      for (const busy of this.#workers) {
        if (busy.call !== undefined && busy.ahead === undefined && this.#sendAhead(busy, call)) return;
      }
    }
    this.#enqueue(call);
  }

  /** One queue for all workers: a call goes to the first worker that is free. */
  #enqueue(call: MainSide, first = false): void {
    if (first) this.#queue.unshift(call);
    else this.#queue.push(call);
    call.onCancelWhileWaiting(() => {
      const at = this.#queue.indexOf(call);
      if (at >= 0) this.#queue.splice(at, 1);
    });
  }

  #assign(worker: PoolWorker, call: MainSide): void {
    clearTimeout(worker.idleTimer);
    worker.idleTimer = undefined;
    worker.call = call;
    call.begin(worker.thread, this.#newId(), this.#limits);
  }

  /**
   * Hands `call` to `worker`, which is busy: it starts the call when its handler returns, unless
   * the call is taken back first. False if no claim word is free (never, while a worker has at
   * most two undecided calls).
   */
  #sendAhead(worker: PoolWorker, call: MainSide): boolean {
    // A word holding an id is a call not yet decided; only the main thread writes a word that holds 0.
    let claim = 0;
    while (claim < CLAIM_WORDS && Atomics.load(worker.claims, claim) !== 0) claim++;
    if (claim === CLAIM_WORDS) return false;
    call.begin(worker.thread, this.#newId(), this.#limits, worker.claims, claim);
    worker.ahead = call;
    this.#ahead++;
    // Cancelled before the worker claimed it (the call was taken back): the worker may be sent another.
    call.onCancelWhileWaiting(() => {
      if (worker.ahead !== call) return;
      this.#dropAhead(worker);
      this.#refill(worker);
    });
    return true;
  }

  #dropAhead(worker: PoolWorker): void {
    worker.ahead = undefined;
    this.#ahead--;
  }

  /** Sends busy `worker` the first call waiting, if that call may go ahead. */
  #refill(worker: PoolWorker): void {
    if (this.#closing || worker.call === undefined || worker.ahead !== undefined) return;
    while (this.#queue.length > 0 && !this.#queue[0]!.active) this.#queue.shift();
    const first = this.#queue[0];
    if (first !== undefined && first.canGoAhead && this.#sendAhead(worker, first)) this.#queue.shift();
  }

  /** Takes back the oldest call sent ahead that its worker has not claimed yet, if any. */
  #takeBack(): MainSide | undefined {
    if (this.#ahead === 0) return undefined;
    for (;;) {
      let from: PoolWorker | undefined;
      for (const w of this.#workers) if (w.ahead?.revocable === true && (from === undefined || w.ahead.id < from.ahead!.id)) from = w;
      if (from === undefined) return undefined;
      const call = from.ahead!;
      // Claimed: that worker has started it (its DONE for the call before is on its way).
      if (!call.revoke()) continue;
      this.#dropAhead(from);
      this.#refill(from);
      return call;
    }
  }

  #newId(): number {
    const id = this.#nextId;
    this.#nextId = id === MAX_ID ? 1 : id + 1;
    return id;
  }

  /** A worker has loaded the module or ended a call: it takes the next call waiting, or idles. */
  #free(worker: PoolWorker): void {
    worker.call = undefined;
    const ahead = worker.ahead;
    if (ahead !== undefined) {
      // The worker starts the call sent ahead to it as soon as its handler returns: it has, or it
      // will once the START arrives.
      this.#dropAhead(worker);
      ahead.promoted();
      worker.call = ahead;
      this.#refill(worker);
      return;
    }
    if (this.#closing) {
      if (this.#busy() === 0) this.#drained?.();
      return;
    }
    // The oldest call waiting is one sent ahead to a worker still busy (maybe in a long call), if any.
    const taken = this.#takeBack();
    if (taken !== undefined) {
      this.#assign(worker, taken);
      return;
    }
    for (let call = this.#queue.shift(); call !== undefined; call = this.#queue.shift()) {
      if (!call.active) continue;
      this.#assign(worker, call);
      return;
    }
    this.#idle.push(worker);
    if (this.#workers.size > this.#minWorkers) {
      worker.idleTimer = setTimeout(() => this.#retire(worker), this.#idleTimeoutMs);
      worker.idleTimer.unref();
    }
  }

  /** An idle worker beyond `minWorkers` exits. */
  #retire(worker: PoolWorker): void {
    const at = this.#idle.indexOf(worker);
    if (at < 0 || this.#workers.size <= this.#minWorkers) return;
    this.#idle.splice(at, 1);
    this.#workers.delete(worker);
    worker.retired = true;
    void worker.thread.terminate();
  }

  #spawn(): void {
    const source = ENTRY_URL.pathname.endsWith('.ts');
    // From source under tsx, a worker gets no loader hooks of its own: it registers tsx before
    // importing the entry (in dist the entry is plain JavaScript).
    const claims = new SharedArrayBuffer(CLAIM_WORDS * Int32Array.BYTES_PER_ELEMENT);
    const workerData: WorkerData = { ...this.#workerData, claims };
    const thread = source
      ? new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(ENTRY_URL.href)}); })`, { eval: true, workerData })
      : new Worker(ENTRY_URL, { workerData });
    const worker: PoolWorker = { thread, call: undefined, ahead: undefined, claims: new Int32Array(claims), ready: false, retired: false, idleTimer: undefined, error: undefined };
    this.#workers.add(worker);
    this.#loading++;
    thread.on('message', (m: FromWorker | WorkerState) => this.#receive(worker, m));
    thread.on('error', (err) => (worker.error = err));
    thread.on('exit', (code) => this.#exited(worker, code));
  }

  #receive(worker: PoolWorker, m: FromWorker | WorkerState): void {
    switch (m.t) {
      case READY:
        if (m.warning !== undefined && !this.#warned) {
          this.#warned = true;
          process.emitWarning(m.warning, 'WorkerPoolWarning');
        }
        worker.ready = true;
        this.#loading--;
        this.#loadRetryMs = 0;
        this.#loadRetryAt = 0;
        this.#loadError = undefined;
        this.#loaded = true;
        this.#described(m.description);
        this.#free(worker);
        return;
      case LOAD_FAILED:
        worker.error = m.error;
        return;
      case DONE:
        if (worker.call?.id === m.id) this.#settled(worker, worker.call);
        return;
      default:
        if (worker.call?.id !== m.id) return;
        worker.call.receive(m);
        if (m.t === END && m.done === true) this.#settled(worker, worker.call);
    }
  }

  /** The worker's handler of `call` has returned: the worker takes its next call. */
  #settled(worker: PoolWorker, call: MainSide): void {
    this.#respawnDelayMs = 0;
    call.settled();
    this.#free(worker);
  }

  #exited(worker: PoolWorker, code: number): void {
    clearTimeout(worker.idleTimer);
    this.#workers.delete(worker);
    const idle = this.#idle.indexOf(worker);
    if (idle >= 0) this.#idle.splice(idle, 1);
    const ahead = worker.ahead;
    if (ahead !== undefined) this.#dropAhead(worker);
    if (worker.retired) {
      // Terminated by destroy(): a call it still ran (one that ignored its cancel) gets a status.
      worker.call?.stopped();
      ahead?.stopped();
      return;
    }
    const error = worker.error ?? new Error(`The worker thread exited with code ${code}`);
    if (!worker.ready) {
      this.#loading--;
      // The module did not load: before the first worker is ready, describe() fails with its
      // error. After, it is reported (the module changed on disk since, say), once for as long as
      // it fails the same way: the pool goes on with the workers it has, starts no other worker
      // before a pause that doubles with each failure, and calls waiting fail only when no
      // worker is left to take them.
      this.#loadFailed(error);
      if (!this.#loaded) return;
      const text = String(error);
      if (text !== this.#loadError) this.#report(error, this.#href);
      this.#loadError = text;
      this.#loadRetryMs = Math.min(MAX_RESPAWN_DELAY_MS, Math.max(100, this.#loadRetryMs * 2));
      this.#loadRetryAt = performance.now() + this.#loadRetryMs;
      if (this.#workers.size === 0) {
        for (const call of this.#queue.splice(0)) call.refuse(StatusCode.INTERNAL, NOT_LOADED);
      }
      return;
    }
    // The worker exited (process.exit, an uncaught error, out of memory) or was terminated
    // mid-call: its call ends INTERNAL; other calls are not affected; a new worker takes its place.
    let call = worker.call;
    worker.call = undefined;
    // A call the worker had not claimed (sent ahead, or promoted to and not yet started) never
    // ran: it goes to the next free worker, before the calls that wait.
    if (ahead?.reclaim() === true) this.#enqueue(ahead, true);
    else ahead?.crashed(error);
    if (call?.reclaim() === true) {
      this.#enqueue(call, true);
      call = undefined;
    }
    if (call !== undefined) {
      call.crashed(error);
      this.#respawnDelayMs = 0;
    } else {
      // An idle worker died (a timer or a port of the module threw): said, and replaced after a
      // growing pause, so a module that keeps crashing does not spin new threads.
      this.#report(error, this.#href);
      this.#respawnDelayMs = Math.min(MAX_RESPAWN_DELAY_MS, Math.max(100, this.#respawnDelayMs * 2));
    }
    if (this.#closing && this.#busy() === 0) this.#drained?.();
    this.#replace();
  }

  /** Starts a worker in place of one that exited, if calls wait or the pool is below minWorkers. */
  #replace(): void {
    if (this.#needed()) this.#grow(this.#respawnDelayMs);
  }

  /** Whether the pool should start a worker now: calls wait for one, or it is below minWorkers. */
  #needed(): boolean {
    return !this.#closing && this.#workers.size < this.#maxWorkers && (this.#queue.length > this.#loading || this.#workers.size < this.#minWorkers);
  }

  /** Starts a worker after `delayMs`, and not before the pause that follows a load failure. */
  #grow(delayMs = 0): void {
    const wait = Math.max(delayMs, this.#loadRetryAt - performance.now());
    if (wait <= 0) {
      this.#spawn();
      return;
    }
    if (this.#respawnTimer !== undefined) return;
    this.#respawnTimer = setTimeout(() => {
      this.#respawnTimer = undefined;
      if (this.#needed()) this.#grow();
    }, wait);
    this.#respawnTimer.unref();
  }

  /**
   * Terminates the workers. Calls still running have been cancelled by then (stop's grace is
   * over); their handlers get up to WORKER_STOP_MS to see the signal and end (their `finally`
   * blocks run) before the threads are terminated.
   */
  async destroy(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#respawnTimer);
    for (const call of this.#queue.splice(0)) call.refuse(StatusCode.UNAVAILABLE, 'Cannot run handler: the server is stopping');
    for (const w of this.#workers) {
      const ahead = w.ahead;
      if (ahead?.revoke() !== true) continue;
      this.#dropAhead(w);
      ahead.refuse(StatusCode.UNAVAILABLE, 'Cannot run handler: the server is stopping');
    }
    if (this.#busy() > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        timer = setTimeout(resolve, WORKER_STOP_MS);
      });
      clearTimeout(timer);
    }
    const workers = [...this.#workers];
    for (const w of workers) w.retired = true;
    await Promise.all(workers.map((w) => w.thread.terminate()));
  }

  /** How many workers run a call, or have one sent ahead. */
  #busy(): number {
    let n = 0;
    for (const w of this.#workers) if (w.call !== undefined || w.ahead !== undefined) n++;
    return n;
  }
}

/** One worker thread of a pool and the call it runs, if any. */
interface PoolWorker {
  readonly thread: Worker;
  call: MainSide | undefined;
  // A call sent ahead while it runs `call`, not yet known to be started.
  ahead: MainSide | undefined;
  // Its claim words (worker-protocol.ts).
  readonly claims: Int32Array;
  ready: boolean;
  // Terminated on purpose (idle, or the pool's end): its exit fails nothing.
  retired: boolean;
  idleTimer: NodeJS.Timeout | undefined;
  // Why it exited: its uncaught error, or its module's load error.
  error: unknown;
}

/** The main thread's side of one call served by a worker: moves its bytes, status and signal. */
class MainSide {
  /** The call's id in its worker's messages, once it has one. */
  id = 0;
  readonly #port: ServerCallPort;
  readonly #method: WorkerMethod;
  readonly #report: ErrorReporter;
  #request: Uint8Array | undefined;
  #worker: Worker | undefined;
  // A call sent ahead: its worker's claim words and the index of its own, until it is decided.
  #claims: Int32Array | undefined;
  #claim = NO_CLAIM;
  // Its worker is done with the call before: only that worker's exit can take it back now.
  #promoted = false;
  #whileWaiting: (() => void) | undefined;
  // Worker messages waiting for port.send's room (at most WINDOW and an END).
  readonly #out: FromWorker[] = [];
  #sending = false;
  #gotEnd = false;
  #over = false;
  #credit = REQUEST_CREDIT;
  #wakePump: (() => void) | undefined;

  constructor(port: ServerCallPort, method: WorkerMethod, request: Uint8Array | undefined, report: ErrorReporter) {
    this.#port = port;
    this.#method = method;
    this.#request = request;
    this.#report = report;
    // Told through onDone, not the port's signal: no AbortController per call on the main thread.
    port.onDone((cancelled) => {
      if (cancelled && !this.#over) this.#cancelled();
    });
  }

  /** The port was cancelled (peer, deadline, server stop): a waiting call leaves its place, a running one's worker is told. */
  #cancelled(): void {
    if (this.#worker === undefined || this.revoke()) {
      const leave = this.#whileWaiting;
      this.#whileWaiting = undefined;
      leave?.();
      return;
    }
    const status = this.#port.status;
    this.#toWorker({ t: CANCEL, id: this.id, code: status?.code ?? StatusCode.CANCELLED, details: status?.details ?? 'Call cancelled' });
    this.#wake();
  }

  get active(): boolean {
    return this.#port.active;
  }

  /** A small unary call, which may be sent ahead to a busy worker. */
  get canGoAhead(): boolean {
    return this.#request !== undefined && this.#request.byteLength <= AHEAD_MAX_BYTES;
  }

  /** Sent ahead, and not yet known to be claimed by its worker. */
  get revocable(): boolean {
    return this.#claims !== undefined && !this.#promoted;
  }

  /** Runs `leave` if the call is cancelled while it waits in the queue or sent ahead, unclaimed. */
  onCancelWhileWaiting(leave: () => void): void {
    this.#whileWaiting = leave;
  }

  /**
   * Hands the call to `worker` as call `id`; with `claims`, ahead of the call it runs, as the
   * claim word at index `claim`.
   */
  begin(worker: Worker, id: number, limits: WorkerLimits, claims?: Int32Array, claim = NO_CLAIM): void {
    const port = this.#port;
    this.#worker = worker;
    this.id = id;
    this.#whileWaiting = undefined;
    const request = this.#request === undefined ? undefined : transferable(this.#request);
    // A call sent ahead keeps its request: if it is taken back, another worker is sent it.
    this.#claims = claims;
    this.#claim = claim;
    this.#promoted = false;
    if (claims === undefined) this.#request = undefined;
    else Atomics.store(claims, claim, id);
    const { peer, auth, identityKey } = port.peerInfo();
    const task: CallTask = {
      path: port.path,
      metadata: [...port.metadata],
      deadline: port.deadline,
      authority: port.authority,
      peer,
      auth,
      identityKey,
      request,
      requestCompressed: port.lastMessageCompressed,
      maxSendMessageBytes: limits.maxSendMessageBytes,
    };
    this.#toWorker({ t: START, id, claim, task }, request === undefined ? [] : [request]);
    if (this.#method.requestStreaming) void this.#pumpRequests();
  }

  /**
   * Takes the call back from the worker it was sent ahead to. True if the worker had not claimed
   * it, which it now never will; false if it had (or the call was not sent ahead).
   */
  revoke(): boolean {
    return this.revocable && this.#swapOut();
  }

  /** As revoke, once the worker has exited: also a call it was promoted to and had not started. */
  reclaim(): boolean {
    return this.#claims !== undefined && this.#swapOut();
  }

  #swapOut(): boolean {
    const claims = this.#claims!;
    this.#claims = undefined;
    if (Atomics.compareExchange(claims, this.#claim, this.id, 0) !== this.id) {
      this.#request = undefined;
      return false;
    }
    this.#worker = undefined;
    return true;
  }

  /** The worker the call was sent ahead to is done with its call before: it runs this one now. */
  promoted(): void {
    this.#promoted = true;
  }

  /** Ends a call no worker took (the queue is full, the pool is stopping). */
  refuse(code: StatusCode, details: string): void {
    this.#close(code, details, undefined);
  }

  /** The worker's handler has returned: everything it posted has been received, in order. */
  settled(): void {
    // The error is made only when it is reported: a stack trace per call costs the event loop.
    this.#close(StatusCode.INTERNAL, EXITED, () => new Error('The worker finished without a status'));
  }

  /** The pool was terminated while the call ran (its handler ignored the cancel). */
  stopped(): void {
    this.#close(StatusCode.UNAVAILABLE, 'Cannot finish call: the server stopped', undefined);
  }

  /**
   * The worker exited while it ran the call: a fault of the server, not a transient condition a
   * retry would cure, so INTERNAL (statuscodes.md).
   */
  crashed(error: unknown): void {
    this.#close(StatusCode.INTERNAL, EXITED, () => error);
  }

  /** The call is over for the pool; unless the worker sent its status, it ends with this one (the error of `fault` reported). */
  #close(code: StatusCode, details: string, fault: (() => unknown) | undefined): void {
    this.#over = true;
    this.#wake();
    if (this.#gotEnd || !this.#port.active) return;
    if (fault !== undefined) this.#report(fault(), this.#port.path);
    this.#port.finish(code, details);
  }

  /** Takes one message of this call from its worker. */
  receive(m: FromWorker): void {
    const port = this.#port;
    switch (m.t) {
      case HEADERS:
        if (port.active && !port.headersSent) port.sendHeaders(new Metadata(m.metadata));
        break;
      case COMPRESSION:
        if (port.active && !port.headersSent) port.setResponseCompression(m.compression);
        break;
      case REPORT:
        this.#report(m.error, port.path);
        break;
      case MORE:
        this.#credit++;
        this.#wake();
        break;
      case MESSAGE:
      case END:
        if (m.t === END) this.#gotEnd = true;
        this.#out.push(m);
        if (!this.#sending) this.#flush();
        break;
    }
  }

  /** Writes the worker's messages in order, waiting for room; ACKs each once it is written. */
  #flush(): void {
    const port = this.#port;
    for (let m = this.#out.shift(); m !== undefined; m = this.#out.shift()) {
      if (m.t === END) {
        this.#end(m);
        continue;
      }
      if (m.t !== MESSAGE) continue;
      let pending: Promise<void> | undefined;
      try {
        pending = port.send(new Uint8Array(m.bytes), m.compress);
      } catch (err) {
        this.#fail(err);
        return;
      }
      if (pending === undefined) {
        this.#toWorker({ t: ACK, id: this.id });
        continue;
      }
      this.#sending = true;
      pending.then(
        () => {
          this.#sending = false;
          this.#toWorker({ t: ACK, id: this.id });
          this.#flush();
        },
        (err: unknown) => {
          this.#sending = false;
          this.#fail(err);
        },
      );
      return;
    }
  }

  #end(m: FromWorker & { t: typeof END }): void {
    const port = this.#port;
    const trailers = m.trailers === undefined ? undefined : new Metadata(m.trailers);
    if (m.cancel) {
      port.cancel(new RpcError(m.code, m.details), false);
      return;
    }
    if (m.response === undefined) {
      port.finish(m.code, m.details, trailers);
      return;
    }
    try {
      const pending = port.sendUnary(new Uint8Array(m.response), m.compress, trailers, m.details);
      // The status is on its way; nothing here needs to wait for the client to read it.
      pending?.catch(() => undefined);
    } catch (err) {
      this.#fail(err);
    }
  }

  /** A write failed on the main thread (the send limit, a reset): the call ends, the worker is told. */
  #fail(err: unknown): void {
    this.#out.length = 0;
    const status = toRpcError(err);
    if (this.#port.active) this.#port.finish(status.code, status.details);
    this.#toWorker({ t: CANCEL, id: this.id, code: status.code, details: status.details });
  }

  /** Moves request messages to the worker, at most REQUEST_CREDIT ahead of the handler's reads. */
  async #pumpRequests(): Promise<void> {
    const it = this.#port.requests(identity)[Symbol.asyncIterator]();
    try {
      for (;;) {
        while (this.#credit === 0 && !this.#over && this.#port.active) await new Promise<void>((resolve) => (this.#wakePump = resolve));
        if (this.#over || !this.#port.active) break;
        const r = await it.next();
        if (r.done === true) {
          this.#toWorker({ t: HALF_CLOSE, id: this.id });
          return;
        }
        if (this.#over) break;
        this.#credit--;
        const bytes = transferable(r.value);
        this.#toWorker({ t: REQUEST, id: this.id, bytes, compressed: this.#port.lastMessageCompressed }, [bytes]);
      }
      await it.return?.();
    } catch {
      // Cancelled, or a bad request message: the port has ended the call, and the abort
      // listener has told the worker.
    }
  }

  #wake(): void {
    const wake = this.#wakePump;
    this.#wakePump = undefined;
    wake?.();
  }

  #toWorker(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (!this.#over) this.#worker?.postMessage(message, transfer);
  }
}

/**
 * What a worker method looks like to interceptors on the main thread: a handler of the method's
 * kind. Returned by the continuation as it is, it sends the call to the worker. Its behavior cannot
 * run here (the handler lives in the worker's module), so an interceptor that wraps it in a handler
 * of its own ends the call INTERNAL, with a TypeError saying why reported to `onHandlerError`.
 * @internal
 */
export function workerMethodHandler(method: WorkerMethod): AnyRpcMethodHandler {
  const behavior = (): never => {
    const cause = new TypeError(`Cannot run ${method.path} on the main thread: it is served by a worker thread, and an interceptor replaced its handler with one that calls the behavior`);
    throw new RpcError(StatusCode.INTERNAL, 'Cannot run handler: the method is served by a worker thread', { cause });
  };
  const key = method.requestStreaming ? (method.responseStreaming ? 'streamStream' : 'streamUnary') : method.responseStreaming ? 'unaryStream' : 'unaryUnary';
  return Object.freeze({
    requestStreaming: method.requestStreaming,
    responseStreaming: method.responseStreaming,
    requestDeserializer: undefined,
    responseSerializer: undefined,
    unaryUnary: undefined,
    unaryStream: undefined,
    streamUnary: undefined,
    streamStream: undefined,
    [key]: behavior,
  });
}

const EXITED = 'Cannot finish call: the worker thread running its handler exited';

function identity(bytes: Uint8Array): Uint8Array {
  return bytes;
}

function moduleHref(module: URL | string): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module === '') throw new TypeError('Cannot add worker handlers: the module must be a URL or a path');
  return /^[a-z][a-z0-9+.-]*:/i.test(module) && !/^[a-z]:[\\/]/i.test(module) ? module : pathToFileURL(module).href;
}

function checkInteger(value: number, name: string, min: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(`Cannot add worker handlers: ${name} must be an integer of at least ${min}, got ${String(value)}`);
  }
}
