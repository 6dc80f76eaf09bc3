import type { Compression, Metadata, RpcError, StatusCode } from '../protocol/index.js';
import type { ConnectivityState } from './client-connection.js';

/*
 * The call ports: what the server and the client see of one call, whatever wire it came on
 * (DESIGN.md §1). A transport adapts each call into a port; nothing above transport/ knows
 * which wire that was. Implementations: node:http2 (http2-server-call.ts, client-call.ts),
 * gRPC-Web on the server (grpc-web-server-call.ts) and the in-process transport (in-process.ts).
 *
 *   server side                                    client side
 *   ───────────                                    ───────────
 *   requests(decode) ◄── message bytes ◄────────── write / sendUnary / halfClose
 *   send / sendUnary ──► message bytes ──────────► next / response
 *   sendHeaders ───────► initial metadata ───────► initialMetadata
 *   finish ────────────► status + trailers ──────► status
 *   signal ◄──────────── cancel / deadline ───────  cancel
 */

/** Auth properties of a call: property name → values (bytes, as grpcio gives them). */
export type AuthContext = Record<string, Uint8Array[]>;

/** Who is calling, as the transport knows it. @internal */
export interface PeerInfo {
  /** `ipv4:1.2.3.4:5678`, `ipv6:[::1]:5678`, `unix:path`, or the in-process transport's name. */
  readonly peer: string;
  /** Auth properties with grpcio's names (`transport_security_type`, `x509_common_name`, ...). */
  readonly auth: AuthContext;
  /** The auth property that identifies the peer, or null when it is not authenticated. */
  readonly identityKey: string | null;
}

/** The final status of a server call. @internal */
export interface ServerCallStatus {
  /** The status code. */
  readonly code: StatusCode;
  /** The status message. */
  readonly details: string;
}

/** Per-call limits, from the server's options. @internal */
export interface ServerCallLimits {
  /** Largest request message in bytes; negative: no limit. */
  readonly maxReceiveMessageBytes: number;
  /** Largest response message in bytes; negative: no limit. */
  readonly maxSendMessageBytes: number;
}

/**
 * One call as the server sees it. The transport has admitted it already (content type,
 * method, `grpc-timeout`, request encoding, metadata size): what arrives here is a gRPC call.
 *
 * Ends exactly once: `finish` (or `sendUnary`) sends a status, or `cancel` ends it abnormally,
 * which aborts `signal`. Operations after the end are ignored.
 * @internal
 */
export interface ServerCallPort {
  /** The method's path, `/package.Service/Method`. */
  readonly path: string;
  /** The request's user metadata (reserved headers left out). */
  readonly metadata: Metadata;
  /** Milliseconds since the epoch when the deadline passes, or Infinity. */
  readonly deadline: number;
  /** The host (and port) the client addressed, if known. */
  readonly authority: string | undefined;
  /** Aborts when the call ends abnormally (peer cancel, deadline, server stop); the reason is an RpcError. */
  readonly signal: AbortSignal;
  /** Whether the call has neither finished nor been cancelled. */
  readonly active: boolean;
  /** Whether the call was cancelled. */
  readonly cancelled: boolean;
  /** Whether response headers have been sent. */
  readonly headersSent: boolean;
  /** The status the call ended with, once it has (for a cancelled call: why). */
  readonly status: ServerCallStatus | undefined;
  /** Whether the request message read last arrived compressed. */
  readonly lastMessageCompressed: boolean;
  /**
   * Whether messages cross this port as the values themselves, not serialized (an in-process
   * channel that opted out of serialization): the server then skips the method's codecs.
   */
  readonly passesValues?: boolean;
  /** @returns the peer and its auth facts */
  peerInfo(): PeerInfo;
  /** Runs `callback` once the call has ended, cancelled or not (at once if it has). */
  onDone(callback: (cancelled: boolean) => void): void;
  /**
   * The one request message of a unary-request call, once the client half-closed.
   * @throws RpcError for zero or several messages, a bad frame, one over the receive limit, or cancellation
   */
  readUnary(): Promise<Uint8Array>;
  /**
   * The request messages, each passed through `decode`, pulled only as fast as they are read so
   * the client is paused. Ends when the client half-closes; throws an AbortError (its `cause`
   * the RpcError) when the call is cancelled. A bad message, or a `decode` that throws an
   * RpcError, ends the call with that status before the error is thrown.
   */
  requests<T>(decode: (bytes: Uint8Array) => T): AsyncIterable<T>;
  /** Compresses responses with `compression` if the client accepts it; only before headers are sent. */
  setResponseCompression(compression: Compression): void;
  /** Sends the response headers with `metadata`, once. */
  sendHeaders(metadata?: Metadata): void;
  /**
   * Sends one response message (headers first, if not yet sent). A transport may gather the
   * messages sent within one turn of the event loop into one write, but it puts each on the wire
   * by the end of that turn, in order, and before the status (or a reset by `cancel`).
   * @returns a promise to await before sending more (compression, or the peer is not reading)
   * @throws RpcError RESOURCE_EXHAUSTED over the send limit
   */
  send(payload: Uint8Array, compress: boolean): Promise<void> | undefined;
  /**
   * Sends the one response of a unary-response call and an OK status with `trailers`,
   * together where the wire allows.
   * @throws RpcError RESOURCE_EXHAUSTED over the send limit
   */
  sendUnary(payload: Uint8Array, compress: boolean, trailers: Metadata | undefined, details: string): Promise<void> | undefined;
  /** Ends the call with a status (Trailers-Only when no headers were sent). */
  finish(code: StatusCode, details: string, trailers?: Metadata): void;
  /** Ends the call abnormally: aborts `signal` with `reason`, and with `sendStatus` tells the client that status. */
  cancel(reason: RpcError, sendStatus: boolean): void;
}

/** Receives each call a transport has admitted. @internal */
export type CallSink = (port: ServerCallPort) => void;

/** The end of a client call: its status, details and trailers. @internal */
export interface CallStatus {
  readonly code: StatusCode;
  readonly details: string;
  readonly metadata: Metadata;
}

/** How a client call is set up. @internal */
export interface ClientCallOptions {
  readonly path: string;
  readonly authority: string;
  readonly metadata: Metadata;
  /** Milliseconds since the epoch, or Infinity. */
  readonly deadline: number;
  readonly compression: Compression;
  readonly maxSendMessageBytes: number;
  readonly maxReceiveMessageBytes: number;
  readonly userAgent: string;
  /** For a retry (gRFC A6): how many attempts came before this one. */
  readonly previousAttempts?: number;
}

/**
 * One call as the client sees it: request messages out, response messages in with a bounded
 * buffer, and exactly one final status.
 * @internal
 */
export interface ClientCallPort {
  /** Whether the call has ended. */
  readonly done: boolean;
  /** The final status, if the call has ended. */
  readonly statusNow: CallStatus | undefined;
  /** Whether response headers (not a Trailers-Only answer) arrived: the call is committed (gRFC A6). */
  readonly receivedHeaders: boolean;
  /** Whether the server refused the call before processing it (gRFC A6 transparent retry). */
  readonly refused: boolean;
  /** Whether the response message taken last arrived compressed. */
  readonly lastResponseCompressed: boolean;
  /** The response headers if they have arrived (empty once the call ended without any). */
  readonly initialMetadataNow: Metadata | undefined;
  /**
   * Sends one serialized request.
   * @returns a promise to await before sending more
   * @throws RpcError RESOURCE_EXHAUSTED over the send limit (the call ends with it)
   */
  write(payload: Uint8Array, compressible?: boolean): Promise<void> | undefined;
  /** Sends one request and half-closes (unary-request calls). */
  sendUnary(payload: Uint8Array, compressible?: boolean): void;
  /** Tells the server no more requests follow. */
  halfClose(): void;
  /** Ends the call now with `reason` (CANCELLED by default); the server's signal aborts. */
  cancel(reason?: RpcError): void;
  /** @returns the response headers, once they arrive (empty for Trailers-Only) */
  initialMetadata(): Promise<Metadata>;
  /** @returns the final status, once the call ends */
  status(): Promise<CallStatus>;
  /** Runs `callback` once the call ends (at once if it has). */
  onDone(callback: (status: CallStatus) => void): void;
  /**
   * The next response message, or undefined at the end of an OK call.
   * @throws RpcError with the call's status when it ended otherwise
   */
  next(): Promise<Uint8Array | undefined>;
  /**
   * The next response message if one is ready now, taken without a promise; undefined when
   * {@link ClientCallPort.next} has to wait (nothing queued, a message inflating, the end).
   * Optional: a port without it is read through `next` alone.
   */
  nextNow?(): Uint8Array | undefined;
  /**
   * The single response of a unary-response call.
   * @throws RpcError with the call's status, or INTERNAL when the server sent no or several messages
   */
  response(): Promise<Uint8Array>;
  /** The single response once the call has ended OK, without waiting; undefined when not yet available. */
  responseNow(): Uint8Array | undefined;
}

/**
 * What a channel drives: where its calls go. It knows connections (or their absence); the
 * channel above it owns calls, retries, credentials and deadlines.
 * @internal
 */
export interface ClientTransport {
  /** Whether calls are protected by TLS (call credentials need it). */
  readonly secure: boolean;
  /** Whether messages cross as values, not serialized (see {@link ServerCallPort.passesValues}). */
  readonly passesValues?: boolean;
  /**
   * Set when the transport cannot carry request streams (gRPC-Web on fetch sends the request as
   * one body): the details client-streaming and bidi calls then fail with, UNIMPLEMENTED, before
   * any request is pulled.
   */
  readonly requestStreamsUnsupported?: string;
  /** The connectivity state; `tryToConnect` starts connecting when idle. Never SHUTDOWN: the channel says that. */
  getState(tryToConnect: boolean): Exclude<ConnectivityState, 'SHUTDOWN'>;
  /** Calls `listener` whenever the state may have changed. */
  onStateChange(listener: () => void): void;
  /** Whether a call can be opened now without waiting. */
  ready(): boolean;
  /**
   * Opens a call; only when {@link ClientTransport.ready}.
   * @throws RpcError when the call cannot start (the connection went away, headers refused)
   */
  open(options: ClientCallOptions): ClientCallPort;
  /** Why the last connection attempt failed, or ''. */
  lastError(): string;
  /** Skips the current backoff and connects again. */
  resetBackoff(): void;
  /** Closes the transport's connections. */
  close(): void;
}
