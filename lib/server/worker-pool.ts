import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Metadata, RpcError, StatusCode, toRpcError } from '../protocol/index.js';
import type { ServerCallPort } from '../transport/index.js';
import type { ErrorReporter } from './dispatch.js';
import type { AnyRpcMethodHandler } from './handlers.js';
import { DEFAULT_MAX_QUEUED } from './executor.js';
import {
  ACK,
  CANCEL,
  COMPRESSION,
  END,
  HALF_CLOSE,
  HEADERS,
  MESSAGE,
  MORE,
  REPORT,
  REQUEST,
  REQUEST_CREDIT,
  transferable,
  type CallTask,
  type Description,
  type FromWorker,
  type ToWorker,
  type WorkerMethod,
} from './worker-protocol.js';

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
}

/** Server limits a worker applies as a transport would. @internal */
export interface WorkerLimits {
  readonly maxSendMessageBytes: number;
}

/** How long stop() lets handlers in workers end after their calls were cancelled, in ms. @internal */
export const WORKER_STOP_MS = 2000;

// This file's own extension: `.js` in dist, `.ts` when run from source under tsx.
const ENTRY = fileURLToPath(new URL(`./worker-entry${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

/**
 * A pool of worker threads (piscina) serving one handler module, and the main thread's side of
 * each call it runs: the call port's bytes go to the worker and come back (worker-protocol.ts).
 * @internal
 */
export class WorkerPool {
  readonly #pool: Piscina;
  readonly #limits: WorkerLimits;
  readonly #report: ErrorReporter;
  // Calls handed to the pool and not yet settled, so stop() can let cancelled handlers end.
  readonly #inFlight = new Set<Promise<void>>();

  /**
   * @throws RangeError for a bad option; TypeError for a module that is not a URL or string
   */
  constructor(module: URL | string, options: WorkerPoolOptions, limits: WorkerLimits, report: ErrorReporter) {
    const href = moduleHref(module);
    const maxWorkers = options.maxWorkers ?? Math.max(1, availableParallelism() - 1);
    checkInteger(maxWorkers, 'maxWorkers', 1);
    const minWorkers = options.minWorkers ?? 1;
    checkInteger(minWorkers, 'minWorkers', 0);
    const maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    checkInteger(maxQueued, 'maxQueued', 0);
    const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    checkInteger(idleTimeoutMs, 'idleTimeoutMs', 0);
    this.#limits = limits;
    this.#report = report;
    this.#pool = new Piscina({
      filename: ENTRY,
      minThreads: Math.min(minWorkers, maxWorkers),
      maxThreads: maxWorkers,
      maxQueue: maxQueued,
      idleTimeout: idleTimeoutMs,
      // One call per worker at a time: a CPU-bound handler would starve a second one anyway,
      // and a crash then takes exactly one call with it.
      concurrentTasksPerWorker: 1,
      // Idle workers wait for tasks on their event loop, not in Atomics.wait: measured here, a
      // trivial call costs ~115 µs more in a worker this way against ~190 µs with 'sync', and
      // the handler module's own timers and ports keep running between calls.
      atomics: 'disabled',
      workerData: { module: href },
    });
  }

  /**
   * Loads the module in a worker and asks which methods it serves.
   * @throws the module's load error, or TypeError for a module of the wrong shape
   */
  describe(): Promise<Description> {
    return this.#pool.run({ describe: true }) as Promise<Description>;
  }

  /** Serves the call on `port` in a worker. Never throws; the call ends with a status. */
  run(port: ServerCallPort, method: WorkerMethod): void {
    if (port.passesValues === true) {
      // An in-process channel with `serialize: false` hands over values, which cannot cross threads as such.
      port.finish(StatusCode.INTERNAL, 'Cannot run handler in a worker thread: the channel passes values, not bytes (use serialize: true)');
      return;
    }
    if (method.requestStreaming) {
      this.#start(port, method, undefined);
      return;
    }
    // As the executor does: the unary request is read whole before the call takes a worker or
    // a place in the queue, so a client slow to upload holds neither.
    port.readUnary().then(
      (bytes) => this.#start(port, method, bytes),
      (err: unknown) => {
        const status = toRpcError(err);
        port.finish(status.code, status.details);
      },
    );
  }

  #start(port: ServerCallPort, method: WorkerMethod, bytes: Uint8Array | undefined): void {
    if (!port.active) return;
    const request = bytes === undefined ? undefined : transferable(bytes);
    const { port1, port2 } = new MessageChannel();
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
      maxSendMessageBytes: this.#limits.maxSendMessageBytes,
      port: port2,
    };
    const call = new MainSide(port, port1, method, this.#report);
    const settled = this.#pool.run(task, { transferList: request === undefined ? [port2] : [port2, request] }).then(
      () => call.settled(undefined),
      (err: unknown) => call.settled(err),
    );
    this.#inFlight.add(settled);
    void settled.then(() => this.#inFlight.delete(settled));
  }

  /**
   * Terminates the workers. Calls still running have been cancelled by then (stop's grace is
   * over); their handlers get up to WORKER_STOP_MS to see the signal and end (their `finally`
   * blocks run) before the threads are terminated.
   */
  async destroy(): Promise<void> {
    if (this.#inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(this.#inFlight), new Promise<void>((resolve) => (timer = setTimeout(resolve, WORKER_STOP_MS)))]);
      clearTimeout(timer);
    }
    await this.#pool.destroy();
  }
}

/** The main thread's side of one call running in a worker: moves its bytes, status and signal. */
class MainSide {
  readonly #port: ServerCallPort;
  readonly #worker: MessagePort;
  readonly #report: ErrorReporter;
  // Worker messages waiting for port.send's room (at most WINDOW and an END).
  readonly #out: FromWorker[] = [];
  #sending = false;
  #gotEnd = false;
  #over = false;
  #credit = REQUEST_CREDIT;
  #wakePump: (() => void) | undefined;
  readonly #onAbort = (): void => {
    const reason = this.#port.signal.reason as unknown;
    const status = reason instanceof RpcError ? reason : new RpcError(StatusCode.CANCELLED, 'Call cancelled');
    this.#toWorker({ t: CANCEL, code: status.code, details: status.details });
    this.#wake();
  };

  constructor(port: ServerCallPort, worker: MessagePort, method: WorkerMethod, report: ErrorReporter) {
    this.#port = port;
    this.#worker = worker;
    this.#report = report;
    worker.on('message', (m: FromWorker) => this.#receive(m));
    port.signal.addEventListener('abort', this.#onAbort, { once: true });
    if (method.requestStreaming) void this.#pumpRequests();
  }

  /**
   * The pool's task has settled. What the worker posted before returning is queued on our port
   * already (postMessage enqueues at once), so it is taken now, in order, before judging.
   */
  settled(err: unknown): void {
    for (let m = receiveMessageOnPort(this.#worker); m !== undefined; m = receiveMessageOnPort(this.#worker)) this.#receive(m.message as FromWorker);
    this.#over = true;
    this.#worker.close();
    this.#port.signal.removeEventListener('abort', this.#onAbort);
    this.#wake();
    if (this.#gotEnd || !this.#port.active) return;
    if (err instanceof Error && QUEUE_FULL.has(err.message)) {
      this.#port.finish(StatusCode.RESOURCE_EXHAUSTED, 'Cannot run handler: every worker is busy and the queue is full');
      return;
    }
    // The worker exited (process.exit, an uncaught error, out of memory) or was terminated
    // mid-call: a fault of the server, not a transient condition a retry would cure, so
    // INTERNAL (statuscodes.md). The pool replaces the worker; other calls are not affected.
    this.#report(err ?? new Error('The worker finished without a status'), this.#port.path);
    this.#port.finish(StatusCode.INTERNAL, 'Cannot finish call: the worker thread running its handler exited');
  }

  #receive(m: FromWorker): void {
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
        this.#toWorker({ t: ACK });
        continue;
      }
      this.#sending = true;
      pending.then(
        () => {
          this.#sending = false;
          this.#toWorker({ t: ACK });
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
    this.#toWorker({ t: CANCEL, code: status.code, details: status.details });
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
          this.#toWorker({ t: HALF_CLOSE });
          return;
        }
        if (this.#over) break;
        this.#credit--;
        const bytes = transferable(r.value);
        this.#toWorker({ t: REQUEST, bytes, compressed: this.#port.lastMessageCompressed }, [bytes]);
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
    if (!this.#over) this.#worker.postMessage(message, transfer);
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

// piscina's rejections for a full queue (its Errors.TaskQueueAtLimit and NoTaskQueueAvailable).
const QUEUE_FULL: ReadonlySet<string> = new Set(['Task queue is at limit', 'No task queue available and all Workers are busy']);

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
