import { RpcError, StatusCode, type Compression, type Metadata, type MetadataInit } from '../protocol/core.js';
import type { CallCredentials } from './credentials.js';

/*
 * What a caller hands a channel's multi-callables and gets back: call options, results, the
 * callable shapes, and the per-message hooks (serializers, size observers, uncompressed marks).
 */

/** A server call an outgoing call serves: a handler's `context` is one. */
export interface ParentCall {
  /** Aborts when the server call ends abnormally; the outgoing call is then cancelled. */
  readonly signal: AbortSignal;
  /** The server call's deadline, which the outgoing call inherits when earlier than its own. */
  readonly deadline: Date | undefined;
}

/** Options of one call. */
export interface CallOptions {
  /** Request metadata. */
  readonly metadata?: MetadataInit;
  /** Seconds the call may take (grpcio's `timeout`). */
  readonly timeout?: number;
  /** When the call must be done by; the earlier of this and `timeout` wins. */
  readonly deadline?: Date;
  /** Aborting it cancels the call: RST_STREAM CANCEL to the server, CANCELLED here. */
  readonly signal?: AbortSignal;
  /** Compression of this call's requests. */
  readonly compression?: Compression;
  /** Wait for the channel to be ready instead of failing at once while it cannot connect. */
  readonly waitForReady?: boolean;
  /** Credentials for this call only. */
  readonly credentials?: CallCredentials;
  /**
   * A server call this one serves: its deadline and cancellation carry over (pass the
   * handler's `context`).
   */
  readonly parent?: ParentCall;
}

/**
 * Learns the serialized size of each message of one call, for instrumentation: the channel
 * calls it as it encodes each request and as it reads each response's bytes.
 * @internal
 */
export interface MessageSizeObserver {
  /** A request of `bytes` bytes was serialized to be sent. */
  sent(bytes: number): void;
  /** A response of `bytes` bytes arrived, before it was deserialized. */
  received(bytes: number): void;
}

/**
 * The key, in a call's options, of its {@link MessageSizeObserver}. A symbol, so it survives the
 * `{ ...options }` copies interceptors make and is no option users see.
 * @internal
 */
export const messageSizes: unique symbol = Symbol('grpc-iter.messageSizes');

/** Call options with the internal size observer. */
type ObservedOptions = CallOptions & { readonly [messageSizes]?: MessageSizeObserver };

/** `serialize` reporting each size to the call's observer; `serialize` itself when there is none (one check per call). @internal */
export function sizedSerializer<Req>(options: CallOptions | undefined, serialize: RequestSerializer<Req>): RequestSerializer<Req> {
  const sizes = (options as ObservedOptions | undefined)?.[messageSizes];
  if (sizes === undefined) return serialize;
  return (request) => {
    const bytes = serialize(request);
    sizes.sent(bytes.byteLength);
    return bytes;
  };
}

/** `deserialize` reporting each size to the call's observer; `deserialize` itself when there is none. @internal */
export function sizedDeserializer<Res>(options: CallOptions | undefined, deserialize: ResponseDeserializer<Res>): ResponseDeserializer<Res> {
  const sizes = (options as ObservedOptions | undefined)?.[messageSizes];
  if (sizes === undefined) return deserialize;
  return (bytes) => {
    sizes.received(bytes.byteLength);
    return deserialize(bytes);
  };
}

/** What `withCall` gives: the response and everything the call reported. */
export interface CallResult<Res> {
  /** The response message. */
  readonly response: Res;
  /** The response headers. */
  readonly initialMetadata: Metadata;
  /** The trailers sent with the status. */
  readonly trailingMetadata: Metadata;
  /** The status code (OK). */
  readonly code: StatusCode;
  /** The status message. */
  readonly details: string;
  /** Whether the response arrived compressed (its message's compressed flag was set). */
  readonly responseCompressed: boolean;
}

/** A unary-request, unary-response method of a channel (grpcio's `UnaryUnaryMultiCallable`). */
export interface UnaryUnaryMultiCallable<Req, Res> {
  /**
   * Calls the method.
   * @throws RpcError with the status when it is not OK
   */
  (request: Req, options?: CallOptions): Promise<Res>;
  /** Calls the method and resolves with the response, metadata and status (grpcio's `with_call`). */
  withCall(request: Req, options?: CallOptions): Promise<CallResult<Res>>;
}

/** A stream-request, unary-response method (grpcio's `StreamUnaryMultiCallable`). */
export interface StreamUnaryMultiCallable<Req, Res> {
  /**
   * Calls the method with a stream of requests, pulled only as fast as the connection sends them.
   * @throws RpcError with the status when it is not OK
   */
  (requests: Iterable<Req> | AsyncIterable<Req>, options?: CallOptions): Promise<Res>;
  /** As the call, resolving with the response, metadata and status. */
  withCall(requests: Iterable<Req> | AsyncIterable<Req>, options?: CallOptions): Promise<CallResult<Res>>;
}

/**
 * A call whose responses are a stream: iterate it with `for await`. Leaving the loop early
 * cancels the call. The iterator throws an RpcError when the call ends with a non-OK status.
 */
export interface StreamingCall<Res> extends AsyncIterable<Res> {
  /** @returns the response headers, once they arrive */
  initialMetadata(): Promise<Metadata>;
  /** @returns the trailers, once the call ends */
  trailingMetadata(): Promise<Metadata>;
  /** @returns the status code, once the call ends */
  code(): Promise<StatusCode>;
  /** @returns the status message, once the call ends */
  details(): Promise<string>;
  /** Cancels the call (RST_STREAM CANCEL; the stream ends with CANCELLED). */
  cancel(): void;
  /** @returns whether the response read last arrived compressed (its compressed flag was set) */
  responseCompressed(): boolean;
}

/** A unary-request, stream-response method (grpcio's `UnaryStreamMultiCallable`). */
export type UnaryStreamMultiCallable<Req, Res> = (request: Req, options?: CallOptions) => StreamingCall<Res>;
/** A stream-request, stream-response method (grpcio's `StreamStreamMultiCallable`). */
export type StreamStreamMultiCallable<Req, Res> = (requests: Iterable<Req> | AsyncIterable<Req>, options?: CallOptions) => StreamingCall<Res>;

/** Turns a request into bytes. */
export type RequestSerializer<Req> = (value: Req) => Uint8Array;
/** Turns response bytes into a response. */
export type ResponseDeserializer<Res> = (bytes: Uint8Array) => Res;

/** The serializer and deserializer of a method whose messages are bytes. @internal */
export const identityBytes = (b: Uint8Array): Uint8Array => b;

const uncompressedMessages = new WeakSet<object>();

/**
 * Marks a request message to be sent uncompressed even when its call compresses (C-core's
 * `GRPC_WRITE_NO_COMPRESS`, grpc-js's `WriteFlags.NoCompress`): for data that is compressed
 * already, or a secret sent next to data an attacker chooses. Works for messages that are
 * objects (protobuf objects, Buffers, Uint8Arrays).
 * @param message - the request, as it will be passed to the call or yielded by its request stream
 * @returns the same message
 *
 * @example
 * ```ts
 * await upload([first, uncompressed(alreadyZipped)], { compression: Compression.Gzip });
 * ```
 */
export function uncompressed<T extends object>(message: T): T {
  uncompressedMessages.add(message);
  return message;
}

/** Whether `message` may be compressed (it was not marked {@link uncompressed}). @internal */
export function compressible(message: unknown): boolean {
  return typeof message !== 'object' || message === null || !uncompressedMessages.has(message);
}

/**
 * Serializes a request.
 * @throws RpcError INTERNAL when `serialize` throws
 * @internal
 */
export function encodeRequest<Req>(serialize: RequestSerializer<Req>, request: Req): Uint8Array {
  try {
    return serialize(request);
  } catch (err) {
    throw new RpcError(StatusCode.INTERNAL, 'Cannot serialize request', { cause: err });
  }
}

/**
 * Deserializes a response.
 * @throws RpcError INTERNAL when `deserialize` throws
 * @internal
 */
export function decodeResponse<Res>(deserialize: ResponseDeserializer<Res>, bytes: Uint8Array): Res {
  try {
    return deserialize(bytes);
  } catch (err) {
    throw new RpcError(StatusCode.INTERNAL, 'Cannot deserialize response', { cause: err });
  }
}
