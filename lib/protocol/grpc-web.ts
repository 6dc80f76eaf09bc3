import { RpcError } from './rpc-error.js';
import { StatusCode } from './status.js';

/*
 * gRPC-Web's wire rules (grpc/grpc doc/PROTOCOL-WEB.md), shared by the server's gRPC-Web
 * transport and the browser client. Nothing here uses Buffer or any node:* module, so the
 * browser client can ship it.
 *
 *   body    = *( frame )                       frame = flag(1) length(4, big-endian) payload
 *   flag    = 0x00 message | 0x01 compressed message | 0x80 trailers (| 0x01 if compressed)
 *   trailers payload = *( lower-case-key ": " value "\r\n" )
 *   text mode (application/grpc-web-text): the body is base64; each chunk a sender flushes is
 *   encoded whole, so a text stream may hold padding ("=") between chunks.
 */

/** The flag bit of a trailers frame. @internal */
export const TRAILER_FLAG = 0x80;

/** What a gRPC-Web content type says about a request or response. @internal */
export interface GrpcWebFormat {
  /** Whether the body is base64 (`application/grpc-web-text`). */
  readonly text: boolean;
  /** The message codec after `+` (`proto` when none is given). */
  readonly codec: string;
}

/**
 * Reads a gRPC-Web content type: `application/grpc-web` or `application/grpc-web-text`, with an
 * optional `+codec` suffix and parameters (`; charset=...`).
 * @returns undefined for anything else (including plain `application/grpc`)
 * @internal
 */
export function parseGrpcWebContentType(value: string | undefined): GrpcWebFormat | undefined {
  if (value === undefined) return undefined;
  const semicolon = value.indexOf(';');
  const type = (semicolon < 0 ? value : value.slice(0, semicolon)).trim().toLowerCase();
  const match = /^application\/grpc-web(-text)?(?:\+([a-z0-9._-]+))?$/.exec(type);
  if (match === null) return undefined;
  return { text: match[1] !== undefined, codec: match[2] ?? 'proto' };
}

/** The content type of a gRPC-Web response in `format`. @internal */
export function grpcWebContentType(format: GrpcWebFormat): string {
  return `application/grpc-web${format.text ? '-text' : ''}+${format.codec}`;
}

/**
 * Frames one message (or, with `flag` {@link TRAILER_FLAG}, a trailers block) without Buffer.
 * @internal
 */
export function encodeWebFrame(payload: Uint8Array, flag: number): Uint8Array {
  const frame = new Uint8Array(5 + payload.length);
  frame[0] = flag;
  new DataView(frame.buffer).setUint32(1, payload.length);
  frame.set(payload, 5);
  return frame;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The trailers frame of a response: `grpc-status`, `grpc-message` (already percent-encoded) and
 * the other trailers, HTTP/1-style, keys lower-case.
 * @param fields - `[key, value]` pairs, values as they go on the wire (`-bin` ones base64)
 * @internal
 */
export function encodeTrailerFrame(fields: ReadonlyArray<readonly [string, string]>): Uint8Array {
  let block = '';
  for (const [key, value] of fields) block += `${key.toLowerCase()}: ${value}\r\n`;
  return encodeWebFrame(encoder.encode(block), TRAILER_FLAG);
}

/**
 * Parses a trailers frame's payload into `[key, value]` pairs, keys lower-case, values trimmed.
 * @throws RpcError INTERNAL for a line without a colon
 * @internal
 */
export function parseTrailerBlock(payload: Uint8Array): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of decoder.decode(payload).split('\r\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new RpcError(StatusCode.INTERNAL, 'Cannot decode gRPC-Web trailers: a line has no "key: value" form');
    out.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return out;
}

/** One frame of a gRPC-Web body. @internal */
export interface WebFrame {
  /** Whether this is the trailers frame. */
  readonly trailers: boolean;
  /** Whether the payload is compressed. */
  readonly compressed: boolean;
  readonly payload: Uint8Array;
}

/** An incremental decoder of gRPC-Web frames (binary bytes in, frames out). @internal */
export interface WebFrameDecoder {
  /**
   * Takes the next bytes and returns the frames they complete.
   * @throws RpcError RESOURCE_EXHAUSTED for a message over the limit (before buffering it),
   *   INTERNAL for an unknown flag or data after the trailers
   */
  decode(chunk: Uint8Array): WebFrame[];
  /** Whether the body ended on a frame boundary. */
  readonly atBoundary: boolean;
}

/**
 * @param maxMessageBytes - the largest message payload accepted; negative: no limit. Trailers
 *   frames are bounded by the same limit.
 * @internal
 */
export function createWebFrameDecoder(maxMessageBytes: number): WebFrameDecoder {
  // Bytes of an unfinished frame, kept as the chunks they came in: they are joined once the
  // frame is whole (`need` bytes), not on every chunk, so a large message in small chunks
  // costs linear time, not quadratic.
  let parts: Uint8Array[] = [];
  let buffered = 0;
  let need = 5;
  let sawTrailers = false;
  return {
    get atBoundary() {
      return buffered === 0;
    },
    decode(chunk) {
      if (chunk.length === 0) return [];
      parts.push(chunk);
      buffered += chunk.length;
      if (buffered < need) return [];
      const bytes = parts.length === 1 ? parts[0]! : concat(parts, buffered);
      parts = [];
      buffered = 0;
      need = 5;
      const out: WebFrame[] = [];
      let offset = 0;
      while (bytes.length - offset >= 5) {
        const flag = bytes[offset]!;
        if ((flag & ~(TRAILER_FLAG | 1)) !== 0) throw new RpcError(StatusCode.INTERNAL, `Cannot decode gRPC-Web frame: unknown flag 0x${flag.toString(16)}`);
        if (sawTrailers) throw new RpcError(StatusCode.INTERNAL, 'Cannot decode gRPC-Web body: data after the trailers');
        const length = new DataView(bytes.buffer, bytes.byteOffset + offset + 1, 4).getUint32(0);
        if (maxMessageBytes >= 0 && length > maxMessageBytes) {
          throw new RpcError(StatusCode.RESOURCE_EXHAUSTED, `Received message larger than max (${length} vs. ${maxMessageBytes})`);
        }
        if (bytes.length - offset - 5 < length) {
          need = 5 + length;
          break;
        }
        const trailers = (flag & TRAILER_FLAG) !== 0;
        sawTrailers ||= trailers;
        out.push({ trailers, compressed: (flag & 1) !== 0, payload: bytes.slice(offset + 5, offset + 5 + length) });
        offset += 5 + length;
      }
      if (offset < bytes.length) {
        // A copy, so a large chunk is not kept alive by a few bytes of the next frame.
        const rest = bytes.slice(offset);
        parts.push(rest);
        buffered = rest.length;
      }
      return out;
    },
  };
}

function concat(parts: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

// Encoding is util/base64.ts's; the decoder here is incremental, for text bodies.
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

/**
 * An incremental base64 decoder for gRPC-Web text bodies: chunks may split anywhere, and
 * padding may end each chunk the sender flushed (PROTOCOL-WEB.md), so every 4-character group
 * is decoded on its own.
 * @internal
 */
export interface Base64Decoder {
  /**
   * @returns the bytes the complete groups so far decode to
   * @throws RpcError INTERNAL for a character outside the alphabet or misplaced padding
   */
  decode(text: string): Uint8Array;
  /** Whether the text so far ended on a group boundary. */
  readonly atBoundary: boolean;
}

/** @internal */
export function createBase64Decoder(): Base64Decoder {
  let carry = '';
  return {
    get atBoundary() {
      return carry.length === 0;
    },
    decode(text) {
      // Whitespace is not part of gRPC-Web text, but line breaks are tolerated as browsers' btoa peers may add none.
      const all = carry + text.replace(/[\r\n]/g, '');
      const whole = all.length - (all.length % 4);
      carry = all.slice(whole);
      const out = new Uint8Array((whole / 4) * 3);
      let n = 0;
      for (let i = 0; i < whole; i += 4) {
        const c0 = value(all, i);
        const c1 = value(all, i + 1);
        const pad2 = all.charCodeAt(i + 2) === 0x3d;
        const pad3 = all.charCodeAt(i + 3) === 0x3d;
        if (pad2 && !pad3) throw badBase64();
        const c2 = pad2 ? 0 : value(all, i + 2);
        const c3 = pad3 ? 0 : value(all, i + 3);
        const v = (c0 << 18) | (c1 << 12) | (c2 << 6) | c3;
        out[n++] = v >> 16;
        if (!pad2) out[n++] = (v >> 8) & 255;
        if (!pad3) out[n++] = v & 255;
      }
      return n === out.length ? out : out.subarray(0, n);
    },
  };
}

function value(text: string, i: number): number {
  const code = text.charCodeAt(i);
  const v = code < 128 ? LOOKUP[code]! : -1;
  if (v < 0) throw badBase64();
  return v;
}

function badBase64(): RpcError {
  return new RpcError(StatusCode.INTERNAL, 'Cannot decode gRPC-Web text body: invalid base64');
}
