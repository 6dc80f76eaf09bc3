/** How many RPCs may wait for a worker when {@link ExecutorOptions.maxQueued} is not given. */
export const DEFAULT_MAX_QUEUED = 1000;

/**
 * Bounds how many handlers run at once (the analogue of grpcio's thread pool). RPCs beyond
 * the bound wait in arrival order; one whose call ends while waiting (deadline, cancel) leaves
 * the queue without running. A unary request is read whole before its RPC takes a worker or a
 * place in the queue, so a client slow to upload holds neither.
 */
export interface ExecutorOptions {
  /** How many handlers may run at once; at least 1. */
  readonly maxWorkers: number;
  /**
   * How many RPCs may wait for a worker; one more is answered `RESOURCE_EXHAUSTED` at once.
   * `0` queues nothing: every RPC past `maxWorkers` is refused.
   * @default 1000
   */
  readonly maxQueued?: number;
}

interface Waiter {
  run: () => void;
  cancelled: boolean;
  started: boolean;
}

/** A FIFO semaphore over handler executions. @internal */
export class Executor {
  readonly #max: number;
  readonly #maxQueued: number;
  #running = 0;
  #waiting = 0;
  #queue: Waiter[] = [];
  #head = 0;

  constructor(options: ExecutorOptions) {
    const max = options.maxWorkers;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) {
      throw new RangeError(`Cannot create executor: maxWorkers must be an integer of at least 1, got ${String(max)}`);
    }
    this.#max = max;
    const queued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    if (typeof queued !== 'number' || !Number.isInteger(queued) || queued < 0) {
      throw new RangeError(`Cannot create executor: maxQueued must be a non-negative integer, got ${String(queued)}`);
    }
    this.#maxQueued = queued;
  }

  /** Handlers running now. */
  get running(): number {
    return this.#running;
  }

  /** RPCs waiting for a worker. */
  get waiting(): number {
    return this.#waiting;
  }

  /**
   * Runs `task` when a worker is free. Returns a function that withdraws the task if it has
   * not started yet, or null (and never runs `task`) when the queue is full.
   */
  submit(task: () => Promise<void>): (() => void) | null {
    const waiter: Waiter = {
      cancelled: false,
      started: false,
      run: () => {
        waiter.started = true;
        this.#running++;
        const done = (): void => {
          this.#running--;
          this.#next();
        };
        // Tasks never reject (runCall); should one, the worker is freed all the same.
        task().then(done, done);
      },
    };
    if (this.#running < this.#max) {
      waiter.run();
      return noop;
    }
    if (this.#waiting >= this.#maxQueued) return null;
    this.#waiting++;
    this.#queue.push(waiter);
    return () => {
      if (waiter.cancelled || waiter.started) return;
      waiter.cancelled = true;
      this.#waiting--;
    };
  }

  #next(): void {
    while (this.#head < this.#queue.length && this.#running < this.#max) {
      const waiter = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as Waiter;
      if (waiter.cancelled) continue;
      this.#waiting--;
      waiter.run();
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}

function noop(): void {}
