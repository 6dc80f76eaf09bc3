import { RpcError, StatusCode } from '../protocol/core.js';
import type { CallStatus, ClientCallPort } from '../transport/index.js';
import { onAbort } from '../util/index.js';
import type { RetryPolicy } from './retry.js';

/*
 * The attempts of one call (gRFC A6), for every call kind:
 *
 *   start(attempt) ──► committed (response headers) or OK ─────────────► that call
 *        ▲    │
 *        │    ├─ refused before processing, first time ──► start again, not counted (transparent)
 *        │    ├─ retryable status, attempts and deadline left ──► backoff or pushback, abort check
 *        └────┘
 *             └─ anything else ─────────────────────────────────────────► that call
 *
 * Call kinds differ only in how an attempt starts (what it sends, or replays) and whether the
 * decision waits for the status (unary responses) or only until headers (streaming responses).
 */

/** How the attempts of one call run. @internal */
export interface AttemptPlan {
  /** The method's retry policy, if retries are on and the service config has one. */
  readonly policy: RetryPolicy | undefined;
  /** Whether a refused stream may be retried transparently (retries are on). */
  readonly transparent: boolean;
  /** Milliseconds since the epoch, or Infinity. */
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
  /** Unary responses: decide once the call has ended. Streaming: once it committed or ended. */
  readonly untilStatus: boolean;
  /**
   * Opens attempt number `attempt` (the attempts before it, for grpc-previous-rpc-attempts):
   * the call itself when it could open at once, else a promise of it.
   */
  start(attempt: number): ClientCallPort | Promise<ClientCallPort>;
  /** Starts sending the requests on an attempt (the one request, or a replay and the rest). */
  send(call: ClientCallPort): void;
  /** Whether the requests sent so far can still be replayed. */
  replayable?(): boolean;
}

/**
 * Runs attempts until one commits, succeeds or may not be retried, and returns it. When the
 * plan has `untilStatus`, the returned call has ended.
 * @throws RpcError CANCELLED when the signal aborts during a backoff; whatever `start` throws
 * @internal
 */
export async function runAttempts(plan: AttemptPlan): Promise<ClientCallPort> {
  const { policy } = plan;
  let transparentLeft = plan.transparent;
  for (let attempt = 0; ; ) {
    // A ready connection opens the call at once: no await before its request goes out.
    const started = plan.start(attempt);
    const call = started instanceof Promise ? await started : started;
    plan.send(call);
    let status: CallStatus;
    if (plan.untilStatus) {
      status = await call.status();
    } else {
      await Promise.race([call.initialMetadata(), call.status()]);
      if (call.receivedHeaders) return call;
      status = await call.status();
    }
    if (status.code === StatusCode.OK || call.receivedHeaders) return call;
    if (plan.replayable !== undefined && !plan.replayable()) return call;
    if (call.refused && transparentLeft && plan.signal?.aborted !== true && Date.now() < plan.deadline) {
      // gRFC A6: the server never saw it, so it goes again at once and is not an attempt.
      transparentLeft = false;
      continue;
    }
    if (policy === undefined || attempt + 1 >= policy.maxAttempts || !policy.retryableStatusCodes.has(status.code)) return call;
    let waitMs = policy.nextBackoff(attempt);
    const pushback = status.metadata.get('grpc-retry-pushback-ms');
    if (typeof pushback === 'string') {
      if (!/^\d+$/.test(pushback)) return call; // gRFC A6: a malformed pushback stops retries
      waitMs = Number(pushback);
    }
    if (Date.now() + waitMs >= plan.deadline) return call;
    await sleepUnless(waitMs, plan.signal);
    if (plan.signal?.aborted === true) throw new RpcError(StatusCode.CANCELLED, 'Call cancelled');
    attempt++;
  }
}

/** Waits `ms`, or less if `signal` aborts. */
function sleepUnless(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    const remove = signal === undefined ? noop : onAbort(signal, done);
    function done(): void {
      clearTimeout(timer);
      remove();
      resolve();
    }
  });
}

function noop(): void {}

/**
 * Feeds a request stream into a call's attempts, pulled only as fast as the stream drains. Until
 * the call commits it keeps what it sent, up to `limit` bytes, so a new attempt can replay it
 * (gRFC A6); past the limit, or once committed, it keeps nothing and no attempt follows.
 * @internal
 */
export class RequestFeed<Req> {
  readonly #source: Iterator<Req> | AsyncIterator<Req>;
  readonly #serialize: (value: Req) => Uint8Array;
  readonly #compressible: (value: Req) => boolean;
  readonly #limit: number;
  #sent: Array<{ bytes: Uint8Array; compress: boolean }> | undefined = [];
  #buffered = 0;
  #sourceDone = false;
  // A read that outlived its attempt: the next attempt sends its value.
  #pending: Promise<IteratorResult<Req>> | undefined;

  constructor(requests: Iterable<Req> | AsyncIterable<Req>, serialize: (value: Req) => Uint8Array, compressible: (value: Req) => boolean, limit: number) {
    this.#source = Symbol.asyncIterator in requests ? requests[Symbol.asyncIterator]() : (requests as Iterable<Req>)[Symbol.iterator]();
    this.#serialize = serialize;
    this.#compressible = compressible;
    this.#limit = limit;
  }

  /** Whether everything sent so far is kept for a replay. */
  replayable(): boolean {
    return this.#sent !== undefined;
  }

  /** Sends the kept requests, then the rest of the source, into `call`; a failing source cancels it. */
  feed(call: ClientCallPort): void {
    this.#run(call).catch((err: unknown) => {
      call.cancel(err instanceof RpcError ? err : new RpcError(StatusCode.CANCELLED, `Request stream failed: ${(err as Error)?.message ?? String(err)}`, { cause: err }));
    });
  }

  /** Stops pulling the source (the call is over for good). */
  close(): void {
    if (this.#sourceDone) return;
    this.#sourceDone = true;
    this.#sent = undefined;
    // A source that fails while closing has nothing left to tell this call.
    Promise.resolve(this.#source.return?.()).catch(noop);
  }

  async #run(call: ClientCallPort): Promise<void> {
    for (const { bytes, compress } of this.#sent ?? []) {
      const wait = call.write(bytes, compress);
      if (wait !== undefined) await wait;
    }
    while (!this.#sourceDone && !call.done) {
      this.#pending ??= Promise.resolve(this.#source.next());
      const r = await this.#pending;
      if (call.done) return;
      this.#pending = undefined;
      if (r.done === true) {
        this.#sourceDone = true;
        break;
      }
      let bytes: Uint8Array;
      try {
        bytes = this.#serialize(r.value);
      } catch (err) {
        throw new RpcError(StatusCode.INTERNAL, 'Cannot serialize request', { cause: err });
      }
      const compress = this.#compressible(r.value);
      const sent = this.#sent;
      if (sent !== undefined) {
        if (call.receivedHeaders || this.#buffered + bytes.length > this.#limit) {
          this.#sent = undefined; // committed, or too much to replay: this attempt is the last
        } else {
          sent.push({ bytes, compress });
          this.#buffered += bytes.length;
        }
      }
      const wait = call.write(bytes, compress);
      if (wait !== undefined) await wait;
    }
    if (this.#sourceDone) call.halfClose();
  }
}
