import {
  Metadata,
  RpcError,
  StatusCode,
  checkCompression,
  isStatusCode,
  type Compression,
  type MetadataInit,
  type Status,
} from '../protocol/index.js';
import type { AuthContext, ServerCallPort, ServerCallStatus } from '../transport/index.js';

export type { AuthContext };

/**
 * What a handler knows and can do about its call (grpcio's `ServicerContext`).
 *
 * `signal` aborts only when the call ends abnormally — the client cancels or disconnects, the
 * deadline passes, the server stops, or `cancel()` — and its `reason` is an {@link RpcError}
 * saying which. A normal finish does not abort it.
 */
export interface ServicerContext {
  /** Aborts when the call ends abnormally; `signal.reason` is an RpcError. Pass it to anything that waits. */
  readonly signal: AbortSignal;
  /** When the call's deadline passes, or undefined when the client set none. */
  readonly deadline: Date | undefined;
  /** The path of the method, `/package.Service/Method`. */
  readonly method: string;
  /** @returns the metadata the client sent */
  invocationMetadata(): Metadata;
  /** @returns the peer's address: `ipv4:1.2.3.4:5678`, `ipv6:[::1]:5678` or `unix:path` */
  peer(): string;
  /** @returns the peer's identities from its verified certificate, or null when not authenticated */
  peerIdentities(): Uint8Array[] | null;
  /** @returns the auth property that identifies the peer, or null when not authenticated */
  peerIdentityKey(): string | null;
  /** @returns every auth property of the call (`transport_security_type`, `x509_common_name`, ...) */
  authContext(): AuthContext;
  /**
   * Sends the response headers now, with `initialMetadata`.
   * @throws Error when headers were already sent (explicitly or by the first response message)
   */
  sendInitialMetadata(initialMetadata: MetadataInit): void;
  /** Sets the metadata sent with the status (replacing what was set before). */
  setTrailingMetadata(trailingMetadata: MetadataInit): void;
  /**
   * Ends the RPC with a non-OK status: throws, so nothing after it runs.
   * @throws RpcError always; TypeError when `code` is OK
   */
  abort(code: StatusCode, details: string): never;
  /**
   * Ends the RPC with `status` (its trailing metadata included): throws, so nothing after it runs.
   * With `status.errorDetails`, the trailers carry them as a `google.rpc.Status` in
   * `grpc-status-details-bin` whose code and message are `status.code` and `status.details`.
   * @throws RpcError always; TypeError when the code is OK
   * @example
   * ```ts
   * context.abortWithStatus({
   *   code: StatusCode.INVALID_ARGUMENT,
   *   details: 'Cannot create user: 1 bad field',
   *   errorDetails: [packDetail(BadRequest, { fieldViolations: [{ field: 'email', description: 'is empty' }] })],
   * });
   * ```
   */
  abortWithStatus(status: Status): never;
  /** Sets the status code sent when the handler returns (a non-OK code drops the response). */
  setCode(code: StatusCode): void;
  /** Sets the status message sent when the handler returns. */
  setDetails(details: string): void;
  /** @returns the code set with `setCode`, or undefined (grpcio's `code()`) */
  code(): StatusCode | undefined;
  /** @returns the details set with `setDetails`, or undefined (grpcio's `details()`) */
  details(): string | undefined;
  /** @returns the trailing metadata set so far (grpcio's `trailing_metadata()`) */
  trailingMetadata(): Metadata;
  /** Compresses this call's responses with `compression` (if the client accepts it); only before the first response. */
  setCompression(compression: Compression): void;
  /** Sends the next response message uncompressed. */
  disableNextMessageCompression(): void;
  /** @returns whether the request message read last arrived compressed (its compressed flag was set) */
  requestCompressed(): boolean;
  /** @returns true until the RPC has terminated in any way */
  isActive(): boolean;
  /** @returns seconds left before the deadline, or null when there is none */
  timeRemaining(): number | null;
  /**
   * Runs `callback` when the RPC terminates, however it ends (grpcio's `add_callback`).
   * @returns true when registered; false when the RPC has already terminated (finished,
   *   cancelled by either side, or past its deadline), in which case `callback` is never run
   */
  addCallback(callback: () => void): boolean;
  /** Cancels the RPC: the client sees CANCELLED and `signal` aborts. */
  cancel(): void;
}

/** The server's context for one call, over its call port (whatever the transport). @internal */
export class ServerContext implements ServicerContext {
  readonly #call: ServerCallPort;
  statusCode: StatusCode | undefined;
  statusDetails: string | undefined;
  trailers: Metadata | undefined;
  compressNext = true;

  constructor(call: ServerCallPort) {
    this.#call = call;
  }

  /**
   * The host (and port) the client addressed: the request's `:authority` (PROTOCOL-HTTP2.md,
   * Requests), else the local address the connection arrived on, or undefined on a unix socket.
   */
  serverAuthority(): string | undefined {
    return this.#call.authority;
  }

  get signal(): AbortSignal {
    return this.#call.signal;
  }

  get deadline(): Date | undefined {
    return this.#call.deadline === Infinity ? undefined : new Date(this.#call.deadline);
  }

  get method(): string {
    return this.#call.path;
  }

  invocationMetadata(): Metadata {
    return this.#call.metadata;
  }

  peer(): string {
    return this.#call.peerInfo().peer;
  }

  peerIdentities(): Uint8Array[] | null {
    const { auth, identityKey } = this.#call.peerInfo();
    return identityKey === null ? null : (auth[identityKey] ?? null);
  }

  peerIdentityKey(): string | null {
    return this.#call.peerInfo().identityKey;
  }

  authContext(): AuthContext {
    const { auth } = this.#call.peerInfo();
    return Object.fromEntries(Object.entries(auth).map(([k, v]) => [k, [...v]]));
  }

  sendInitialMetadata(initialMetadata: MetadataInit): void {
    if (!this.#call.active) throw new Error('Cannot send initial metadata: the call has ended');
    if (this.#call.headersSent) throw new Error('Cannot send initial metadata: it was already sent');
    this.#call.sendHeaders(Metadata.from(initialMetadata));
  }

  setTrailingMetadata(trailingMetadata: MetadataInit): void {
    this.trailers = Metadata.from(trailingMetadata);
  }

  code(): StatusCode | undefined {
    return this.statusCode;
  }

  details(): string | undefined {
    return this.statusDetails;
  }

  trailingMetadata(): Metadata {
    return (this.trailers ??= new Metadata());
  }

  abort(code: StatusCode, details: string): never {
    checkAbortCode(code);
    throw new RpcError(code, String(details ?? ''), { trailingMetadata: this.trailers });
  }

  abortWithStatus(status: Status): never {
    if (status.trailingMetadata !== undefined) this.trailers = status.trailingMetadata;
    if (status.errorDetails === undefined || status.errorDetails.length === 0) this.abort(status.code, status.details);
    checkAbortCode(status.code);
    throw new RpcError(status.code, String(status.details ?? ''), { trailingMetadata: this.trailers, errorDetails: status.errorDetails });
  }

  setCode(code: StatusCode): void {
    if (!isStatusCode(code)) throw new TypeError(`Cannot set code: ${String(code)} is not a status code`);
    this.statusCode = code;
  }

  setDetails(details: string): void {
    this.statusDetails = String(details);
  }

  setCompression(compression: Compression): void {
    this.#call.setResponseCompression(checkCompression(compression, 'setCompression'));
  }

  disableNextMessageCompression(): void {
    this.compressNext = false;
  }

  requestCompressed(): boolean {
    return this.#call.lastMessageCompressed;
  }

  isActive(): boolean {
    return this.#call.active;
  }

  timeRemaining(): number | null {
    const deadline = this.#call.deadline;
    return deadline === Infinity ? null : Math.max(0, (deadline - Date.now()) / 1000);
  }

  addCallback(callback: () => void): boolean {
    if (typeof callback !== 'function') throw new TypeError('Cannot add callback: expected a function');
    // grpcio's add_callback: False once the RPC has terminated (finished, cancelled or
    // reset), and then the callback is not called.
    if (!this.#call.active) return false;
    this.#call.onDone(() => callback());
    return true;
  }

  /** Runs `callback` with the status the call ended with, once it has ended (stream closed or cancelled). */
  onEnd(callback: (status: ServerCallStatus) => void): void {
    const call = this.#call;
    call.onDone(() => callback(call.status ?? { code: StatusCode.UNKNOWN, details: '' }));
  }

  cancel(): void {
    this.#call.cancel(new RpcError(StatusCode.CANCELLED, 'Call cancelled by the server'), false);
  }

  /** Takes the one-shot "do not compress the next message" flag. */
  takeCompressNext(): boolean {
    const c = this.compressNext;
    this.compressNext = true;
    return c;
  }
}

/**
 * Runs `callback` with the status a call ended with, once it has ended: what the client was
 * sent, not what the handler returned (a response that fails to serialize ends INTERNAL).
 * @returns false, and never runs `callback`, for a context this server did not make
 * @internal
 */
export function onCallEnd(context: ServicerContext, callback: (status: ServerCallStatus) => void): boolean {
  if (!(context instanceof ServerContext)) return false;
  context.onEnd(callback);
  return true;
}

/**
 * The host (and port) a call was addressed to (see {@link ServerContext.serverAuthority}).
 * @returns undefined for a context this server did not make
 * @internal
 */
export function serverAuthorityOf(context: ServicerContext): string | undefined {
  return context instanceof ServerContext ? context.serverAuthority() : undefined;
}

function checkAbortCode(code: StatusCode): void {
  if (!isStatusCode(code)) throw new TypeError(`Cannot abort: ${String(code)} is not a status code`);
  if (code === StatusCode.OK) throw new TypeError('Cannot abort with OK: abort ends the call with an error status');
}
