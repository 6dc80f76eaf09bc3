// doc/connection-backoff.md: each retry waits 1.6 times longer than the last, up to a cap, with
// ±20% jitter so that clients that failed together do not retry together.
const MULTIPLIER = 1.6;
const JITTER = 0.2;

/**
 * Exponential backoff as gRPC does it (doc/connection-backoff.md), for reconnects, DNS
 * re-resolution and health-watch retries.
 * @internal
 */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  #currentMs: number;

  constructor(initialMs: number, maxMs: number) {
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
    this.#currentMs = initialMs;
  }

  /** The un-jittered delay the next retry would wait, in milliseconds. */
  get currentMs(): number {
    return this.#currentMs;
  }

  /** The delay before the next retry, jittered, in milliseconds; the one after grows. */
  next(): number {
    const delay = this.#currentMs * (1 + JITTER * (Math.random() * 2 - 1));
    this.#currentMs = Math.min(this.#currentMs * MULTIPLIER, this.#maxMs);
    return delay;
  }

  /** Back to the initial delay, after a success. */
  reset(): void {
    this.#currentMs = this.#initialMs;
  }
}
