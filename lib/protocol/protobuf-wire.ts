/**
 * A minimal protobuf wire-format reader and writer (varints, length-delimited fields), enough
 * for the few fixed messages grpc-iter must read and write itself — `google.rpc.Status` and its
 * details, the health service's messages, server reflection's requests, responses and
 * descriptors — without depending on a protobuf library.
 * See https://protobuf.dev/programming-guides/encoding/.
 */

/** Wire types of protobuf fields (encoding.md, "Message Structure"). @internal */
export const WireType = { VARINT: 0, I64: 1, LEN: 2, SGROUP: 3, EGROUP: 4, I32: 5 } as const;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });
const TWO_32 = 4294967296;

/**
 * Appends protobuf fields to a growing buffer. Fields equal to their proto3 default are
 * skipped by the callers, as every protobuf encoder does.
 * @internal
 */
export class ProtoWriter {
  #buf = new Uint8Array(64);
  #len = 0;

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  /** Writes an unsigned varint of a non-negative integer up to 2^53. */
  #varint(value: number): void {
    this.#reserve(10);
    let lo = value >>> 0;
    let hi = Math.floor(value / TWO_32) >>> 0;
    while (hi > 0 || lo > 0x7f) {
      this.#buf[this.#len++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.#buf[this.#len++] = lo;
  }

  /** Writes a signed 64-bit varint (negative values take ten bytes, as int32/int64 require). */
  #signedVarint(value: number): void {
    if (value >= 0) {
      this.#varint(value);
      return;
    }
    this.#reserve(10);
    let bits = BigInt.asUintN(64, BigInt(value));
    while (bits > 0x7fn) {
      this.#buf[this.#len++] = Number(bits & 0x7fn) | 0x80;
      bits >>= 7n;
    }
    this.#buf[this.#len++] = Number(bits);
  }

  #tag(field: number, wireType: number): void {
    this.#varint(field * 8 + wireType);
  }

  /**
   * An int32 or int64 field; integers beyond ±2^53 are not representable and not expected here.
   * Zero is written only when `always` (a field with explicit presence).
   */
  int(field: number, value: number, always = false): this {
    if (value === 0 && !always) return this;
    if (!Number.isSafeInteger(value)) throw new RangeError(`Cannot encode field ${field}: ${value} is not a safe integer`);
    this.#tag(field, WireType.VARINT);
    this.#signedVarint(value);
    return this;
  }

  /** A bytes field (also used for embedded messages); empty bytes are written only when `always`. */
  bytes(field: number, value: Uint8Array, always = false): this {
    if (value.length === 0 && !always) return this;
    this.#tag(field, WireType.LEN);
    this.#varint(value.length);
    this.#reserve(value.length);
    this.#buf.set(value, this.#len);
    this.#len += value.length;
    return this;
  }

  /** A string field; `''` is written only when `always` (a set oneof member, a map key). */
  string(field: number, value: string, always = false): this {
    return value === '' && !always ? this : this.bytes(field, textEncoder.encode(value), true);
  }

  /**
   * A packed repeated int32 or int64 field (proto3 packs repeated scalars); nothing when empty.
   * Each value is a signed varint, as {@link ProtoWriter.int} writes it.
   */
  packed(field: number, values: readonly number[]): this {
    if (values.length === 0) return this;
    const inner = new ProtoWriter();
    for (const value of values) {
      if (!Number.isSafeInteger(value)) throw new RangeError(`Cannot encode field ${field}: ${value} is not a safe integer`);
      inner.#signedVarint(value);
    }
    return this.bytes(field, inner.finish(), true);
  }

  /** An embedded message field, written even when empty (message fields have presence). */
  message(field: number, value: Uint8Array): this {
    return this.bytes(field, value, true);
  }

  /** @returns the bytes written so far */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** One field read by {@link readFields}: its number, wire type and value. @internal */
export interface ProtoField {
  /** The field number. */
  readonly field: number;
  /** The wire type. */
  readonly wireType: number;
  /** For VARINT: the value as a signed 64-bit number (exact up to 2^53). */
  readonly int: number;
  /** For LEN: the bytes (a view into the input). */
  readonly bytes: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/**
 * Reads every field of a message, skipping fixed-width ones; unknown field numbers are the
 * caller's to ignore, as protobuf parsers do.
 * @param bytes - the encoded message
 * @param what - the message's name, for errors: `Cannot decode <what>: <why>`
 * @throws RangeError on truncated or malformed input
 * @internal
 */
export function readFields(bytes: Uint8Array, what = 'protobuf'): ProtoField[] {
  const fields: ProtoField[] = [];
  let pos = 0;
  const varint = (): [number, number] => {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= bytes.length) throw new RangeError(`Cannot decode ${what}: truncated varint`);
      const b = bytes[pos++]!;
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (7 * i - 32);
      if ((b & 0x80) === 0) return [lo >>> 0, hi >>> 0];
    }
    throw new RangeError(`Cannot decode ${what}: varint longer than 10 bytes`);
  };
  while (pos < bytes.length) {
    const [tagLo, tagHi] = varint();
    if (tagHi !== 0) throw new RangeError(`Cannot decode ${what}: field number out of range`);
    const field = tagLo >>> 3;
    const wireType = tagLo & 7;
    if (field === 0) throw new RangeError(`Cannot decode ${what}: field number 0`);
    switch (wireType) {
      case WireType.VARINT: {
        const [lo, hi] = varint();
        // Two's complement: a set top bit is a negative int64 (or a sign-extended int32).
        const int = hi >= 0x80000000 ? -((~hi >>> 0) * TWO_32 + (~lo >>> 0) + 1) : hi * TWO_32 + lo;
        fields.push({ field, wireType, int, bytes: EMPTY });
        break;
      }
      case WireType.LEN: {
        const [lo, hi] = varint();
        if (hi !== 0 || lo > bytes.length - pos) throw new RangeError(`Cannot decode ${what}: length past the end of the message`);
        fields.push({ field, wireType, int: 0, bytes: bytes.subarray(pos, pos + lo) });
        pos += lo;
        break;
      }
      case WireType.I64:
      case WireType.I32: {
        pos += wireType === WireType.I64 ? 8 : 4;
        if (pos > bytes.length) throw new RangeError(`Cannot decode ${what}: truncated fixed-width field`);
        break;
      }
      default:
        throw new RangeError(`Cannot decode ${what}: wire type ${wireType} is not supported`);
    }
  }
  return fields;
}

/**
 * Decodes a string field's bytes.
 * @throws TypeError when they are not valid UTF-8
 * @internal
 */
export function readString(bytes: Uint8Array): string {
  return textDecoder.decode(bytes);
}
