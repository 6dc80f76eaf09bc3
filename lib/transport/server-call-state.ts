import { AbortError } from 'abort-controller-x';
import { Compression, RpcError, StatusCode, compressionFromName, compressionName } from '../protocol/index.js';
import type { ServerCallStatus } from './call-port.js';

/*
 * Life of a server call, whatever its transport:
 *
 *   OPEN ──sendHeaders──► HEADERS_SENT ──finish──► FINISHED (status queued)
 *     │                        │                       │
 *     └──────finish────────────┴──► FINISHED           └──transport closed──► done callbacks
 *     (Trailers-Only)
 *
 *   Any state before FINISHED ──peer cancel / connection lost / deadline / cancel──► CANCELLED
 *
 * The call's signal aborts only on the CANCELLED transition (an abnormal end). `finish` after
 * a cancel is ignored.
 */
/** @internal */
export const OPEN = 0;
/** @internal */
export const HEADERS_SENT = 1;
/** @internal */
export const FINISHED = 2;
/** @internal */
export const CANCELLED = 3;

/**
 * The state every server call port shares: where it is in its life, its signal, its deadline
 * timer and its done callbacks. Transports extend it with their wire.
 * @internal
 */
export abstract class ServerCallState {
  /** Milliseconds since the epoch when the call's deadline passes, or Infinity. */
  deadline = Infinity;
  /** Whether the last request message read had its compressed flag set. */
  lastMessageCompressed = false;
  /** Whether response headers have been sent (set by the transport as they go). */
  headersSent = false;

  protected state = OPEN;
  /** The codec of the request's compressed messages (its `grpc-encoding`). */
  protected requestCompression: Compression = Compression.NoCompression;
  /** The codec responses are compressed with, once chosen. */
  protected responseCompression: Compression = Compression.NoCompression;
  /** The request's `grpc-accept-encoding`: what the client takes. */
  protected acceptEncoding: string | undefined;
  #controller: AbortController | undefined;
  #abortReason: RpcError | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  /** One callback as it is (the common case: no array per call), several in an array. */
  #doneCallbacks: ((cancelled: boolean) => void) | Array<(cancelled: boolean) => void> | undefined;
  #done = false;
  #status: ServerCallStatus | undefined;

  /** Aborts when the call ends abnormally; the reason is an RpcError. Made on first use. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /** Whether the call has neither finished nor been cancelled. */
  get active(): boolean {
    return this.state < FINISHED;
  }

  /** Whether the call was cancelled (peer cancel, deadline, server stop, `cancel()`). */
  get cancelled(): boolean {
    return this.state === CANCELLED;
  }


  /** The status the call ended with: what was sent, or why it was cancelled. */
  get status(): ServerCallStatus | undefined {
    return this.#status;
  }

  /** Why the call was cancelled, once it has been. */
  get cancelReason(): RpcError | undefined {
    return this.#abortReason;
  }

  /** Runs `callback` once the call has ended, cancelled or not (at once if it has). */
  onDone(callback: (cancelled: boolean) => void): void {
    if (this.#done) {
      callback(this.state === CANCELLED);
      return;
    }
    const callbacks = this.#doneCallbacks;
    if (callbacks === undefined) this.#doneCallbacks = callback;
    else if (typeof callbacks === 'function') this.#doneCallbacks = [callbacks, callback];
    else callbacks.push(callback);
  }

  /** Starts the deadline timer; when it fires the call ends DEADLINE_EXCEEDED. */
  setDeadline(timeoutMs: number): void {
    this.deadline = Date.now() + timeoutMs;
    // setTimeout takes at most 2^31-1 ms; longer deadlines never fire in practice.
    if (timeoutMs < 2_147_483_647) {
      this.#deadlineTimer = setTimeout(() => this.#onDeadline(), Math.max(0, timeoutMs));
      this.#deadlineTimer.unref?.();
    }
  }

  #onDeadline(): void {
    this.#deadlineTimer = undefined;
    if (this.state >= FINISHED) return;
    this.cancel(new RpcError(StatusCode.DEADLINE_EXCEEDED, 'Deadline exceeded'), true);
  }

  /** Ends the call abnormally; see {@link ServerCallPort.cancel}. */
  abstract cancel(reason: RpcError, sendStatus: boolean): void;

  /** Ends the call with a status; see {@link ServerCallPort.finish}. */
  abstract finish(code: StatusCode, details: string): void;

  /**
   * Takes the request's `grpc-encoding`. Returns false (after answering UNIMPLEMENTED) when the
   * codec is unknown: doc/compression.md asks for UNIMPLEMENTED and our accept list.
   */
  acceptRequestEncoding(name: string | undefined): boolean {
    if (name === undefined || name === 'identity') return true;
    const algorithm = compressionFromName(name);
    if (algorithm === undefined) {
      this.finish(StatusCode.UNIMPLEMENTED, `Cannot decompress request: unsupported grpc-encoding "${name}"`);
      return false;
    }
    this.requestCompression = algorithm;
    return true;
  }

  /** Compresses responses with `algorithm` if the client listed it (doc/compression.md: never send an encoding the peer did not list); only before headers. */
  setResponseCompression(algorithm: Compression): void {
    if (this.headersSent) return;
    if (algorithm === Compression.NoCompression) {
      this.responseCompression = algorithm;
      return;
    }
    const accepted = this.acceptEncoding;
    if (accepted !== undefined && accepted.split(',').some((e) => e.trim() === compressionName(algorithm))) {
      this.responseCompression = algorithm;
    }
  }

  /** Records that the status `code`/`details` is being sent: the call is FINISHED. */
  protected markFinished(code: StatusCode, details: string): void {
    this.state = FINISHED;
    this.#status = { code, details };
    this.clearDeadline();
  }

  /**
   * The CANCELLED transition: wakes whatever waits on the transport (`onCancel`), aborts the
   * signal with `reason` and runs the done callbacks. Returns false when already cancelled.
   */
  protected markCancelled(reason: RpcError): boolean {
    if (this.state === CANCELLED) return false;
    this.state = CANCELLED;
    this.#abortReason = reason;
    this.#status ??= { code: reason.code, details: reason.details };
    this.clearDeadline();
    this.onCancel(reason);
    this.#controller?.abort(reason);
    this.runDone();
    return true;
  }

  /** Wakes readers and writers waiting on the transport. */
  protected abstract onCancel(reason: RpcError): void;

  /** Runs the done callbacks, once: the transport is finished with the call. */
  protected runDone(): void {
    if (this.#done) return;
    this.#done = true;
    const callbacks = this.#doneCallbacks;
    if (callbacks === undefined) return;
    this.#doneCallbacks = undefined;
    const cancelled = this.state === CANCELLED;
    if (typeof callbacks === 'function') runDoneCallback(callbacks, cancelled);
    else for (const cb of callbacks) runDoneCallback(cb, cancelled);
  }

  protected clearDeadline(): void {
    if (this.#deadlineTimer !== undefined) {
      clearTimeout(this.#deadlineTimer);
      this.#deadlineTimer = undefined;
    }
  }

  /** The error a request iterator throws once the call is cancelled. */
  protected abortError(): Error {
    return abortError(this.#abortReason);
  }
}

function runDoneCallback(callback: (cancelled: boolean) => void, cancelled: boolean): void {
  try {
    callback(cancelled);
  } catch (err) {
    process.emitWarning(`A call's done callback threw: ${String(err)}`);
  }
}

/** abort-controller-x's AbortError, so handlers can tell it apart with `isAbortError`; `cause` says why. @internal */
export function abortError(reason: RpcError | undefined): Error {
  return Object.assign(new AbortError(reason?.message ?? 'Call cancelled'), { cause: reason }) as Error;
}

/**
 * Checks a response message against the send limit.
 * @throws RpcError RESOURCE_EXHAUSTED over it
 * @internal
 */
export function checkSendSize(payload: Uint8Array, max: number): void {
  if (max >= 0 && payload.length > max) {
    throw new RpcError(StatusCode.RESOURCE_EXHAUSTED, `Cannot send message: ${payload.length} bytes is over the limit of ${max}`);
  }
}
