/**
 * What the soak server and its clients agree on: the service, its methods, the receive limit and
 * how messages look. Requests and responses are JSON so that a client can send bytes the
 * server's deserializer rejects (an undecodable message) without any protobuf involved.
 * @packageDocumentation
 */

/** The soak service's name. */
export const SERVICE = 'soak.Soak';

/** Full method paths by RPC kind, plus `Hold` (a server stream that waits until cancelled). */
export const PATHS = {
  unary: `/${SERVICE}/Unary`,
  serverStream: `/${SERVICE}/ServerStream`,
  clientStream: `/${SERVICE}/ClientStream`,
  bidi: `/${SERVICE}/Bidi`,
  hold: `/${SERVICE}/Hold`,
  missing: `/${SERVICE}/Missing`,
} as const;

/**
 * The server's `grpc.max_receive_message_length`. Small, so that an oversized request costs the
 * clients little to send while still being far over the limit.
 */
export const MAX_RECEIVE = 64 * 1024;

/** A request: how many responses, how large, how long the handler waits before each. */
export interface SoakRequest {
  /** Responses to stream back (server streaming), or the request's index (bidi). */
  readonly n?: number;
  /** Bytes of padding in each response. */
  readonly size?: number;
  /** Milliseconds the handler waits (cancellably) before each response. */
  readonly delayMs?: number;
  /** Padding, to make a request oversized. */
  readonly pad?: string;
}

/** A response: its index (or the count of requests seen) and padding. */
export interface SoakResponse {
  readonly i: number;
  readonly pad: string;
}

/** Serializes a request or response as UTF-8 JSON. */
export const encodeJson = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');

/**
 * Parses UTF-8 JSON.
 * @throws SyntaxError for bytes that are not JSON: the server answers such a request `INTERNAL`
 */
export const decodeJson = <T>(bytes: Uint8Array): T => JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as T;

/** Bytes no JSON parser accepts (a lone UTF-8 continuation byte, then an unclosed brace). */
export const UNDECODABLE = Buffer.from([0x80, 0x7b, 0x7b]);

/** A request whose encoding is well over {@link MAX_RECEIVE}. */
export const oversizeRequest = (): SoakRequest => ({ pad: 'x'.repeat(MAX_RECEIVE + 1024) });

/** A gRPC length-prefixed message: flag byte, big-endian length, payload (PROTOCOL-HTTP2.md, Length-Prefixed-Message). */
export function frame(payload: Uint8Array, flag = 0, claimedLength = payload.length): Buffer {
  const out = Buffer.alloc(5 + payload.length);
  out[0] = flag;
  out.writeUInt32BE(claimedLength, 1);
  out.set(payload, 5);
  return out;
}

/** One line of the server's control protocol on stdout: a word, then JSON. */
export function controlLine(word: string, value: unknown): string {
  return `${word} ${JSON.stringify(value)}\n`;
}

/** Memory of the server process after a full GC, in bytes. */
export interface MemorySample {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
}

/** What the server's handlers have seen so far. */
export interface HandlerStats {
  /** Handlers entered. */
  readonly started: number;
  /** Calls that have terminated (their `addCallback` ran). */
  readonly ended: number;
  /** Handlers whose code has returned or thrown (their `finally` ran). */
  readonly settled: number;
  /** Handlers entered whose call has not yet terminated. */
  readonly active: number;
  /** Terminated calls whose `context.signal` had aborted, by the reason's status code name. */
  readonly aborted: Readonly<Record<string, number>>;
  /** `Hold` handlers now waiting. */
  readonly holding: number;
  /** Calls of the server's `onHandlerError`, by method and error name. */
  readonly handlerErrors: Readonly<Record<string, number>>;
}

/** What the server reports after `stop`: its active resources before serving and after stopping. */
export interface HandleReport {
  readonly baseline: readonly string[];
  readonly after: readonly string[];
  /** Resource types present after stopping more often than at baseline, with the excess count. */
  readonly leftover: Readonly<Record<string, number>>;
}
