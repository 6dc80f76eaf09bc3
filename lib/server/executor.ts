/**
 * Bounds how many handlers run at once (the analogue of grpcio's thread pool). RPCs beyond
 * the bound wait in arrival order; one whose call ends while waiting (deadline, cancel) leaves
 * the queue without running.
 */
export interface ExecutorOptions {
  /** How many handlers may run at once; at least 1. */
  readonly maxWorkers: number;
}

interface Waiter {
  run: () => void;
  cancelled: boolean;
}

/** A FIFO semaphore over handler executions. @internal */
export class Executor {
  readonly #max: number;
  #running = 0;
  #queue: Waiter[] = [];
  #head = 0;

  constructor(options: ExecutorOptions) {
    const max = options.maxWorkers;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) {
      throw new RangeError(`Cannot create executor: maxWorkers must be an integer of at least 1, got ${String(max)}`);
    }
    this.#max = max;
  }

  /** Handlers running now. */
  get running(): number {
    return this.#running;
  }

  /** RPCs waiting for a worker. */
  get waiting(): number {
    let n = 0;
    for (let i = this.#head; i < this.#queue.length; i++) if (!this.#queue[i]!.cancelled) n++;
    return n;
  }

  /**
   * Runs `task` when a worker is free. Returns a function that withdraws the task if it has
   * not started yet.
   */
  submit(task: () => Promise<void>): () => void {
    const waiter: Waiter = {
      cancelled: false,
      run: () => {
        this.#running++;
        task().finally(() => {
          this.#running--;
          this.#next();
        });
      },
    };
    if (this.#running < this.#max) {
      waiter.run();
      return noop;
    }
    this.#queue.push(waiter);
    return () => {
      waiter.cancelled = true;
    };
  }

  #next(): void {
    while (this.#head < this.#queue.length && this.#running < this.#max) {
      const waiter = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as Waiter;
      if (!waiter.cancelled) waiter.run();
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}

function noop(): void {}
