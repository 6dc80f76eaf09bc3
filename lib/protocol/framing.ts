import { RpcError } from './rpc-error.js';
import { StatusCode } from './status.js';

// PROTOCOL-HTTP2.md, Length-Prefixed-Message → Compressed-Flag Message-Length Message:
// one byte 0 or 1, a four-byte big-endian length, then the payload. A message may span many
// DATA frames and one DATA frame may carry many messages.

/** Bytes of the length prefix. @internal */
export const FRAME_HEADER_BYTES = 5;

/**
 * Frames one message: the compressed flag, the big-endian length and the payload, in one buffer.
 * @internal
 */
export function encodeFrame(payload: Uint8Array, compressed = false): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame[0] = compressed ? 1 : 0;
  frame.writeUInt32BE(payload.length, 1);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Frames one message into `target` at `offset`, for a sender that gathers several messages in
 * one buffer; the caller checks that {@link FRAME_HEADER_BYTES} + `payload.length` bytes fit.
 * @returns the offset just past the frame
 * @internal
 */
export function encodeFrameInto(target: Buffer, offset: number, payload: Uint8Array, compressed: boolean): number {
  const length = payload.length;
  // Byte by byte: the prefix of every message is written here, and writeUInt32BE checks its range.
  target[offset] = compressed ? 1 : 0;
  target[offset + 1] = length >>> 24;
  target[offset + 2] = (length >>> 16) & 0xff;
  target[offset + 3] = (length >>> 8) & 0xff;
  target[offset + 4] = length & 0xff;
  target.set(payload, offset + FRAME_HEADER_BYTES);
  return offset + FRAME_HEADER_BYTES + length;
}

/** One decoded message: its payload and whether the sender compressed it. @internal */
export interface Frame {
  readonly compressed: boolean;
  readonly payload: Buffer;
}

/** A synchronous, incremental length-prefixed message decoder. @internal */
export interface FrameDecoder {
  /**
   * Takes the next chunk of the stream and returns the messages it completes.
   * @throws RpcError RESOURCE_EXHAUSTED for a length over the limit (before allocating it),
   *   INTERNAL for a compressed flag other than 0 or 1
   */
  decode(chunk: Uint8Array): Frame[];
  /**
   * Checks that the stream ended on a message boundary.
   * @throws RpcError INTERNAL when a message was cut short
   */
  end(): void;
  /**
   * Whether no part of a message is held: every chunk so far ended on a message boundary. A
   * reader may then drop the decoder and start a new one with the next chunk.
   */
  readonly idle: boolean;
}

/** Options of {@link createFrameDecoder}. @internal */
export interface FrameDecoderOptions {
  /** Largest payload accepted, in bytes; negative means no limit. */
  readonly maxMessageBytes: number;
}

/** @internal */
export function createFrameDecoder({ maxMessageBytes }: FrameDecoderOptions): FrameDecoder {
  return new IncrementalFrameDecoder(maxMessageBytes);
}

// A class, not closures over shared variables: one small object per stream that has received
// data, which matters with many idle streams.
class IncrementalFrameDecoder implements FrameDecoder {
  readonly #maxMessageBytes: number;
  #header: Buffer | undefined; // only for a prefix split across chunks
  #headerFilled = 0;
  #compressed = false;
  // The body is gathered as the chunks that carry it and joined once complete, so memory grows
  // with the bytes received, never with the length a peer merely claims.
  #parts: Buffer[] | undefined;
  #expected = 0;
  #bodyFilled = 0;

  constructor(maxMessageBytes: number) {
    this.#maxMessageBytes = maxMessageBytes;
  }

  #startMessage(header: Buffer): void {
    const flag = header[0]!;
    if (flag > 1) throw new RpcError(StatusCode.INTERNAL, `Cannot decode message: compressed flag is ${flag}, not 0 or 1`);
    const length = header.readUInt32BE(1);
    const max = this.#maxMessageBytes;
    if (max >= 0 && length > max) {
      throw new RpcError(StatusCode.RESOURCE_EXHAUSTED, `Received message larger than max (${length} vs. ${max})`);
    }
    this.#compressed = flag === 1;
    this.#parts = [];
    this.#expected = length;
    this.#bodyFilled = 0;
  }

  decode(chunk: Uint8Array): Frame[] {
    const out: Frame[] = [];
    const max = this.#maxMessageBytes;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let offset = 0;
    while (offset < buf.length) {
      if (this.#parts === undefined) {
        // Fast path: a whole message inside this chunk is sliced, not copied.
        if (this.#headerFilled === 0 && buf.length - offset >= FRAME_HEADER_BYTES) {
          const flag = buf[offset]!;
          const length = buf.readUInt32BE(offset + 1);
          if (flag <= 1 && (max < 0 || length <= max) && buf.length - offset - FRAME_HEADER_BYTES >= length) {
            const start = offset + FRAME_HEADER_BYTES;
            out.push({ compressed: flag === 1, payload: buf.subarray(start, start + length) });
            offset = start + length;
            continue;
          }
        }
        const header = (this.#header ??= Buffer.allocUnsafe(FRAME_HEADER_BYTES));
        const n = Math.min(FRAME_HEADER_BYTES - this.#headerFilled, buf.length - offset);
        buf.copy(header, this.#headerFilled, offset, offset + n);
        this.#headerFilled += n;
        offset += n;
        if (this.#headerFilled < FRAME_HEADER_BYTES) break;
        this.#startMessage(header);
      }
      const list: Buffer[] = this.#parts!;
      const n = Math.min(this.#expected - this.#bodyFilled, buf.length - offset);
      if (n > 0) list.push(buf.subarray(offset, offset + n));
      this.#bodyFilled += n;
      offset += n;
      if (this.#bodyFilled === this.#expected) {
        out.push({ compressed: this.#compressed, payload: list.length === 1 ? list[0]! : Buffer.concat(list, this.#expected) });
        this.#parts = undefined;
        this.#headerFilled = 0;
      }
    }
    return out;
  }

  get idle(): boolean {
    return this.#headerFilled === 0 && this.#parts === undefined;
  }

  end(): void {
    if (this.#headerFilled !== 0 || this.#parts !== undefined) {
      throw new RpcError(StatusCode.INTERNAL, 'Cannot decode message: stream ended in the middle of a message');
    }
  }
}
