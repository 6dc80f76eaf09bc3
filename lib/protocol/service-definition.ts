/**
 * One RPC method of a service: its path, streaming flags and message codecs.
 *
 * The field names match `@grpc/grpc-js`'s method definitions, so definitions produced by
 * `@grpc/proto-loader` work here and ours work there.
 *
 * @typeParam Req - the request message type
 * @typeParam Res - the response message type
 */
export interface MethodDefinition<Req, Res> {
  /** The HTTP/2 path, `/package.Service/Method`. */
  readonly path: string;
  /** Whether the client sends a stream of requests. */
  readonly requestStream: boolean;
  /** Whether the server sends a stream of responses. */
  readonly responseStream: boolean;
  /** Encodes a request message. */
  readonly requestSerialize: (value: Req) => Uint8Array;
  /** Decodes a request message. */
  readonly requestDeserialize: (bytes: Uint8Array) => Req;
  /** Encodes a response message. */
  readonly responseSerialize: (value: Res) => Uint8Array;
  /** Decodes a response message. */
  readonly responseDeserialize: (bytes: Uint8Array) => Res;
  /** The method's name as written in the `.proto` file, when it differs from the key. */
  readonly originalName?: string;
}

/**
 * A method definition with its message types erased: every `MethodDefinition<Req, Res>` is
 * one, so definitions of unrelated message types fit in one {@link ServiceDefinition}.
 */
export interface AnyMethodDefinition {
  /** The HTTP/2 path, `/package.Service/Method`. */
  readonly path: string;
  /** Whether the client sends a stream of requests. */
  readonly requestStream: boolean;
  /** Whether the server sends a stream of responses. */
  readonly responseStream: boolean;
  /** Encodes a request message. */
  readonly requestSerialize: (value: never) => Uint8Array;
  /** Decodes a request message. */
  readonly requestDeserialize: (bytes: Uint8Array) => unknown;
  /** Encodes a response message. */
  readonly responseSerialize: (value: never) => Uint8Array;
  /** Decodes a response message. */
  readonly responseDeserialize: (bytes: Uint8Array) => unknown;
  /** The method's name as written in the `.proto` file, when it differs from the key. */
  readonly originalName?: string;
}

/** A service: its methods by name (the name as in the `.proto` file). */
export type ServiceDefinition = { readonly [method: string]: AnyMethodDefinition };

/**
 * Splits `/package.Service/Method` into service and method names.
 * @internal
 */
export function splitMethodPath(path: string): { service: string; method: string } | undefined {
  const slash = path.indexOf('/', 1);
  if (path.charCodeAt(0) !== 0x2f || slash < 0 || slash === path.length - 1 || path.indexOf('/', slash + 1) >= 0) return undefined;
  return { service: path.slice(1, slash), method: path.slice(slash + 1) };
}
