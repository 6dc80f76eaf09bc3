import type { ClientHttp2Session } from 'node:http2';
import {
  Compression,
  Metadata,
  RpcError,
  ServingStatus,
  StatusCode,
  decodeHealthCheckResponse,
  encodeHealthCheckRequest,
  statusCodeName,
} from '../protocol/index.js';
import { ClientCall } from '../transport/index.js';
import { Backoff } from '../util/index.js';

/*
 * Client-side health checking (gRFC A17, doc/health-checking.md). Once a subchannel's connection
 * is READY, a `grpc.health.v1.Health/Watch` stream runs on it, and the subchannel's state follows
 * the server's answers:
 *
 *   CONNECTING ──an answer──► READY while it is SERVING
 *                             TRANSIENT_FAILURE while NOT_SERVING, SERVICE_UNKNOWN or UNKNOWN
 *                             (straight from one to the other as the answers change, A17)
 *
 *   the stream ends, with any status but UNIMPLEMENTED:
 *     after a response   ──► CONNECTING: a new stream at once (A17 resets the backoff)
 *     without a response ──► TRANSIENT_FAILURE naming the status, a new stream after a backoff
 *                            (doc/connection-backoff.md), CONNECTING when it starts
 *   the stream fails UNIMPLEMENTED ──► READY, no more watching on this connection (the server
 *   has no health service: A17 treats that as health checking disabled)
 *
 * The watch belongs to one connection: when the connection leaves READY the subchannel takes the
 * connection's state again and the watch is cancelled (A17: "When the client subchannel is shutting
 * down or when the backend sends a GOAWAY, the client will cancel the Watch() call"); the next
 * connection starts a new one, with a fresh backoff.
 *
 * The watch is not an application call: it is not counted on the connection (keepalive without
 * calls, doc/keepalive.md, still applies to a connection that only watches), and it does not hold
 * the process open (the channel does that for its calls; the session is unref'd).
 */

/** The method every gRPC health service answers (doc/health-checking.md). @internal */
export const HEALTH_WATCH_PATH = '/grpc.health.v1.Health/Watch';

// The largest HealthCheckResponse is a few bytes; anything near this is not a health service.
const MAX_RESPONSE_BYTES = 4 * 1024;

/** What a subchannel's health watch sends and how it backs off. @internal */
export interface HealthCheckOptions {
  /** healthCheckConfig.serviceName of the service config; `''` asks for the whole server. */
  readonly serviceName: string;
  /** The channel's authority, for the watch's `:authority`. */
  readonly authority: string;
  /** The channel's user agent. */
  readonly userAgent: string;
  /** The first delay before a watch that ended without a response is opened again. */
  readonly initialBackoffMs: number;
  /** The longest such delay. */
  readonly maxBackoffMs: number;
}

/** The state health checking gives a subchannel whose connection is READY. @internal */
export type HealthState = 'CONNECTING' | 'READY' | 'TRANSIENT_FAILURE';

/**
 * The health watch of one READY connection (gRFC A17): opens the Watch stream, reads the server's
 * answers into {@link HealthWatch.state}, reopens the stream with backoff when it ends, and calls
 * `onChange` whenever the state or the error changes.
 * @internal
 */
export class HealthWatch {
  readonly #session: ClientHttp2Session;
  readonly #options: HealthCheckOptions;
  readonly #onChange: () => void;
  #state: HealthState = 'CONNECTING';
  #lastError = '';
  #call: ClientCall | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #backoff: Backoff;
  #closed = false;

  constructor(session: ClientHttp2Session, options: HealthCheckOptions, onChange: () => void) {
    this.#session = session;
    this.#options = options;
    this.#onChange = onChange;
    this.#backoff = new Backoff(options.initialBackoffMs, options.maxBackoffMs);
  }

  /** CONNECTING until the first answer, then READY while the server says SERVING. */
  get state(): HealthState {
    return this.#state;
  }

  /** Why the server is not healthy, or ''. */
  get lastError(): string {
    return this.#lastError;
  }

  /** Opens the first Watch stream (separate from the constructor, so its owner can hold the watch before any change is reported). */
  start(): void {
    this.#open();
  }

  /** Opens the stream now if it waits for its backoff (the channel was asked to reconnect at once). */
  resetBackoff(): void {
    if (this.#retryTimer === undefined) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#backoff.reset();
    this.#open();
  }

  /** Cancels the stream and any retry: the connection left READY or the subchannel closed. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const call = this.#call;
    this.#call = undefined;
    call?.cancel(new RpcError(StatusCode.CANCELLED, 'Health watch cancelled: the connection is no longer used'));
  }

  #open(): void {
    if (this.#closed || this.#gone()) return;
    // A17: "When the next attempt starts, the subchannel will transition to state CONNECTING."
    this.#set('CONNECTING', '');
    let call: ClientCall;
    try {
      call = new ClientCall(this.#session, {
        path: HEALTH_WATCH_PATH,
        authority: this.#options.authority,
        metadata: new Metadata(),
        deadline: Infinity,
        compression: Compression.NoCompression,
        maxSendMessageBytes: -1,
        maxReceiveMessageBytes: MAX_RESPONSE_BYTES,
        userAgent: this.#options.userAgent,
      });
    } catch (err) {
      this.#ended(err instanceof RpcError ? err : new RpcError(StatusCode.UNAVAILABLE, String(err)), false);
      return;
    }
    this.#call = call;
    call.sendUnary(encodeHealthCheckRequest({ service: this.#options.serviceName }));
    void this.#read(call);
  }

  async #read(call: ClientCall): Promise<void> {
    let received = false;
    let error: RpcError | undefined;
    try {
      for (let message = await call.next(); message !== undefined; message = await call.next()) {
        if (call !== this.#call) return;
        received = true;
        let status: number;
        try {
          status = decodeHealthCheckResponse(message).status;
        } catch (err) {
          call.cancel(new RpcError(StatusCode.INTERNAL, 'Cannot decode health check response', { cause: err }));
          continue;
        }
        if (status === ServingStatus.SERVING) this.#set('READY', '');
        else this.#set('TRANSIENT_FAILURE', `health check of ${this.#describeService()} reported ${servingStatusName(status)}`);
      }
    } catch (err) {
      error = err instanceof RpcError ? err : new RpcError(StatusCode.UNKNOWN, String(err));
    }
    if (call !== this.#call) return;
    this.#call = undefined;
    // A server ending Watch with OK is still an ended watch: A17 retries "any other status".
    this.#ended(error ?? new RpcError(StatusCode.OK, 'the server ended the stream'), received);
  }

  #ended(error: RpcError, received: boolean): void {
    if (this.#closed) return;
    // The connection went away under the stream: its own state change reports that, and
    // closes this watch.
    if (this.#gone()) return;
    if (error.code === StatusCode.UNIMPLEMENTED) {
      // A17: the server has no health service; act as if health checking were disabled.
      this.#set('READY', '');
      return;
    }
    if (received) {
      // A17: a received message resets the backoff, so the next attempt is immediate. Its
      // TRANSIENT_FAILURE would last no time at all, so the subchannel goes straight to the
      // attempt's CONNECTING (as C-core does): calls wait for the new answer instead of failing.
      this.#backoff.reset();
      this.#open();
      return;
    }
    this.#set('TRANSIENT_FAILURE', `health check stream of ${this.#describeService()} ended with ${statusCodeName(error.code)}${error.details === '' ? '' : `: ${error.details}`}`);
    const delay = this.#backoff.next();
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#open();
    }, delay);
    // The watch never holds the process open.
    this.#retryTimer.unref();
  }

  #gone(): boolean {
    return this.#session.closed || this.#session.destroyed;
  }

  #describeService(): string {
    return this.#options.serviceName === '' ? 'the server' : `service "${this.#options.serviceName}"`;
  }

  #set(state: HealthState, lastError: string): void {
    if (this.#state === state && this.#lastError === lastError) return;
    this.#state = state;
    this.#lastError = lastError;
    this.#onChange();
  }
}

function servingStatusName(status: number): string {
  for (const [name, value] of Object.entries(ServingStatus)) if (value === status) return name;
  return `status ${status}`;
}
