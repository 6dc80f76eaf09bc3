import { Metadata, type MetadataInit } from './metadata.js';
import { StatusCode, statusCodeName } from './status.js';
import { decodeErrorDetails, decodeRpcStatus, encodeRpcStatus, type Any, type ErrorDetail } from './status-details.js';

const brand = Symbol.for('grpc-iter.RpcError');

/**
 * A final status of an RPC: a code, details and trailing metadata (grpcio's `grpc.Status`).
 */
export interface Status {
  /** The status code. */
  readonly code: StatusCode;
  /** The status message sent as `grpc-message`. */
  readonly details: string;
  /** Trailing metadata sent with the status. */
  readonly trailingMetadata?: Metadata;
  /** Rich error details, sent in `grpc-status-details-bin` (see {@link RpcErrorOptions.errorDetails}). */
  readonly errorDetails?: readonly Any[] | undefined;
}

/** The trailer that carries a serialized `google.rpc.Status` (gRPC's rich error model). */
export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

/** Options of the {@link RpcError} constructor. */
export interface RpcErrorOptions {
  /** Trailing metadata of the failed call: a `Metadata`, `[key, value]` pairs or a plain object. */
  readonly trailingMetadata?: MetadataInit | undefined;
  /** What caused the error, kept for logs; never sent to the peer. */
  readonly cause?: unknown;
  /**
   * Rich error details (`BadRequest`, `RetryInfo`, your own messages), each packed with
   * `packDetail`. They are sent as a `google.rpc.Status` in the `grpc-status-details-bin`
   * trailer whose code and message are this error's `code` and `details`; that trailer replaces
   * one already in `trailingMetadata`.
   */
  readonly errorDetails?: readonly Any[] | undefined;
}

/**
 * The one error type of grpc-iter: an RPC ended with a non-OK status.
 *
 * A server handler throws it (or calls `context.abort`) to end the call with that status; a
 * client call rejects with it. Its message starts with the code name. `instanceof` works across
 * duplicate installs of the package.
 *
 * Rich error details (gRPC's `google.rpc.Status` model) go in the `errorDetails` option and come
 * back decoded in {@link RpcError.errorDetails}; `findDetails(err, BadRequest)` picks one type.
 *
 * @example
 * ```ts
 * try {
 *   await client.getFeature(point);
 * } catch (err) {
 *   if (err instanceof RpcError && err.code === StatusCode.NOT_FOUND) console.log(err.details);
 * }
 * ```
 */
export class RpcError extends Error {
  /** The status code. */
  readonly code: StatusCode;
  /** The status message. */
  readonly details: string;
  /** Trailing metadata of the call (on the client: the trailers the server sent). */
  readonly trailingMetadata: Metadata;
  #errorDetails: readonly ErrorDetail[] | undefined;

  /**
   * @param code - the status code
   * @param details - the status message
   * @param options - trailing metadata, rich error details and cause
   */
  constructor(code: StatusCode, details = '', options: RpcErrorOptions = {}) {
    super(details === '' ? statusCodeName(code) : `${statusCodeName(code)}: ${details}`, { cause: options.cause });
    this.name = 'RpcError';
    this.code = code;
    this.details = details;
    if (options.errorDetails !== undefined && options.errorDetails.length > 0) {
      // A copy: the caller's Metadata (often the context's trailers) is not changed behind its back.
      const trailers = options.trailingMetadata instanceof Metadata ? options.trailingMetadata.clone() : new Metadata(options.trailingMetadata);
      trailers.set(STATUS_DETAILS_KEY, encodeRpcStatus({ code, message: details, details: options.errorDetails }));
      this.trailingMetadata = trailers;
    } else {
      this.trailingMetadata = Metadata.from(options.trailingMetadata);
    }
  }

  /** The trailing metadata, under grpcio's name on the client side. */
  get metadata(): Metadata {
    return this.trailingMetadata;
  }

  /** The `grpc-status-details-bin` trailer (a serialized `google.rpc.Status`), when the peer sent one. */
  get statusDetailsBin(): Uint8Array | undefined {
    const value = this.trailingMetadata.get(STATUS_DETAILS_KEY);
    return value instanceof Uint8Array ? value : undefined;
  }

  /**
   * The rich error details of the `grpc-status-details-bin` trailer, decoded: the standard
   * `google.rpc` details typed, any other type as its raw Any (read it with `findDetails`).
   *
   * Empty when there is no such trailer, when it does not parse, and when its code or message
   * differs from the call's `grpc-status` / `grpc-message`: the status line wins and details that
   * contradict it are not trusted (grpcio raises and grpc-go reports INTERNAL instead; grpc-iter
   * keeps the call's own status so a bad trailer never hides the real error). The raw bytes stay
   * in {@link RpcError.statusDetailsBin}.
   */
  get errorDetails(): readonly ErrorDetail[] {
    return (this.#errorDetails ??= this.#decodeErrorDetails());
  }

  #decodeErrorDetails(): readonly ErrorDetail[] {
    const bin = this.statusDetailsBin;
    if (bin === undefined) return [];
    try {
      const status = decodeRpcStatus(bin);
      if (status.code !== this.code || status.message !== this.details) return [];
      return decodeErrorDetails(status.details);
    } catch {
      return [];
    }
  }

  /** @internal */
  get [brand](): true {
    return true;
  }

  /** Recognizes RpcErrors from any copy of this package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }
}

/**
 * The trailers to send with an error status: the error's own trailing metadata when it has
 * any besides the status details, else the context's, with the error's status details either way.
 * @param err - the error being sent
 * @param contextTrailers - what the handler set with `setTrailingMetadata`
 * @internal
 */
export function errorTrailers(err: RpcError, contextTrailers: Metadata | undefined): Metadata | undefined {
  const bin = err.statusDetailsBin;
  if (err.trailingMetadata.size > (bin === undefined ? 0 : 1)) return err.trailingMetadata; // its own trailers win
  if (bin === undefined) return contextTrailers;
  if (contextTrailers === undefined || contextTrailers.size === 0) return err.trailingMetadata;
  return contextTrailers.clone().set(STATUS_DETAILS_KEY, bin);
}

/** The details sent for an error that is not an RpcError: never the error's own text (STYLE.md §5). */
export const UNEXPECTED_ERROR_DETAILS = 'Unexpected error in handler';

/**
 * The one map from anything a handler, interceptor or observer throws to the status sent
 * (STYLE.md §5):
 *
 * | thrown | status |
 * | --- | --- |
 * | `RpcError` | itself (an OK code becomes UNKNOWN: a thrown error is never a success) |
 * | AbortError whose `cause` is an RpcError | that RpcError (why the call was cancelled) |
 * | other AbortError | CANCELLED |
 * | TimeoutError (`AbortSignal.timeout`) | DEADLINE_EXCEEDED |
 * | anything else | UNKNOWN with `unexpectedDetails`, the original as `cause` |
 *
 * Only the last row is a bug worth reporting; {@link isUnexpectedError} says which it is.
 * @param err - what was thrown
 * @param unexpectedDetails - the generic details for the last row
 * @internal
 */
export function toRpcError(err: unknown, unexpectedDetails: string = UNEXPECTED_ERROR_DETAILS): RpcError {
  if (err instanceof RpcError) {
    if (err.code !== StatusCode.OK) return err;
    // The details are re-sent under the new code, so the trailer still matches the status line.
    const errorDetails = err.errorDetails.map((detail) => detail.any);
    return new RpcError(StatusCode.UNKNOWN, err.details, { trailingMetadata: err.trailingMetadata, cause: err, errorDetails });
  }
  const name = errorName(err);
  if (name === 'AbortError') {
    const reason = (err as { cause?: unknown }).cause;
    if (reason instanceof RpcError) return reason;
    return new RpcError(StatusCode.CANCELLED, 'Call cancelled', { cause: err });
  }
  if (name === 'TimeoutError') return new RpcError(StatusCode.DEADLINE_EXCEEDED, 'Deadline exceeded', { cause: err });
  return new RpcError(StatusCode.UNKNOWN, unexpectedDetails, { cause: err });
}

/**
 * Whether {@link toRpcError} maps `err` to UNKNOWN: a value that is neither an RpcError nor an
 * abort or timeout, i.e. a bug to report.
 * @internal
 */
export function isUnexpectedError(err: unknown): boolean {
  if (err instanceof RpcError) return false;
  const name = errorName(err);
  return name !== 'AbortError' && name !== 'TimeoutError';
}

// DOMException (what AbortSignal.timeout() and abort() reject with) is not always an Error
// subclass across realms, so the name is read from any object.
function errorName(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { name?: unknown }).name : undefined;
}
