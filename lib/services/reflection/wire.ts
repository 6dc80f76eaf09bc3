// The few protobuf messages server reflection reads and writes, coded by hand (as the health
// service does) so this folder needs no protobuf runtime: grpc/grpc-proto
// grpc/reflection/v1/reflection.proto (v1alpha has the same field numbers), and the parts of
// google/protobuf/descriptor.proto that name symbols.

/** A decoded ServerReflectionRequest. @internal */
export type ReflectionRequest =
  | { readonly host: string; readonly kind: 'fileByFilename' | 'fileContainingSymbol' | 'allExtensionNumbersOfType' | 'listServices'; readonly name: string }
  | { readonly host: string; readonly kind: 'fileContainingExtension'; readonly name: string; readonly number: number }
  | { readonly host: string; readonly kind: 'none'; readonly name: '' };

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/**
 * Calls `onField` for each field of a protobuf message. Length-delimited values are views into
 * `bytes`; varints are numbers (only int32-sized ones are used here).
 * @internal
 */
export function readFields(bytes: Uint8Array, what: string, onField: (field: number, wire: number, varint: number, value: Uint8Array) => void): void {
  let i = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (i >= bytes.length) throw new RangeError(`Cannot decode ${what}: truncated varint`);
      const b = bytes[i++]!;
      if (shift < 28) result |= (b & 0x7f) << shift;
      else result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new RangeError(`Cannot decode ${what}: varint too long`);
    }
  };
  const empty = new Uint8Array(0);
  while (i < bytes.length) {
    const tag = varint();
    const wire = tag & 7;
    const field = tag >>> 3;
    if (wire === 0) onField(field, 0, varint(), empty);
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const length = varint();
      if (i + length > bytes.length) throw new RangeError(`Cannot decode ${what}: truncated field`);
      onField(field, 2, 0, bytes.subarray(i, i + length));
      i += length;
    } else throw new RangeError(`Cannot decode ${what}: wire type ${wire}`);
    if (i > bytes.length) throw new RangeError(`Cannot decode ${what}: truncated field`);
  }
}

/** Decodes UTF-8 text, rejecting malformed bytes. @internal */
export const text = (bytes: Uint8Array): string => utf8.decode(bytes);

/** Decodes a ServerReflectionRequest. @internal */
export function decodeReflectionRequest(bytes: Uint8Array): ReflectionRequest {
  let host = '';
  let request: ReflectionRequest | undefined;
  readFields(bytes, 'ServerReflectionRequest', (field, wire, _varint, value) => {
    if (wire !== 2) return;
    if (field === 1) host = text(value);
    else if (field === 3) request = { host: '', kind: 'fileByFilename', name: text(value) };
    else if (field === 4) request = { host: '', kind: 'fileContainingSymbol', name: text(value) };
    else if (field === 6) request = { host: '', kind: 'allExtensionNumbersOfType', name: text(value) };
    else if (field === 7) request = { host: '', kind: 'listServices', name: text(value) };
    else if (field === 5) {
      let name = '';
      let number = 0;
      readFields(value, 'ExtensionRequest', (f, w, v, sub) => {
        if (f === 1 && w === 2) name = text(sub);
        else if (f === 2 && w === 0) number = v | 0;
      });
      request = { host: '', kind: 'fileContainingExtension', name, number };
    }
  });
  return request === undefined ? { host, kind: 'none', name: '' } : { ...request, host };
}

/** Writes protobuf fields into one buffer. @internal */
export class Writer {
  readonly #parts: Uint8Array[] = [];
  #length = 0;

  #push(bytes: Uint8Array): void {
    this.#parts.push(bytes);
    this.#length += bytes.length;
  }

  #varint(value: number): void {
    const out: number[] = [];
    // Negative int32s are written as ten-byte 64-bit varints (protobuf encoding, int32).
    let v = value < 0 ? BigInt.asUintN(64, BigInt(value)) : BigInt(value);
    while (v > 0x7fn) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.#push(Uint8Array.from(out));
  }

  /** A varint field; zero is left out, as proto3 does. */
  varint(field: number, value: number): this {
    if (value === 0) return this;
    this.#varint(field << 3);
    this.#varint(value);
    return this;
  }

  /** A packed repeated int32 field (proto3 packs repeated scalars). */
  packed(field: number, values: readonly number[]): this {
    if (values.length === 0) return this;
    const inner = new Writer();
    for (const v of values) inner.#varint(v);
    return this.bytes(field, inner.finish());
  }

  /** A length-delimited field, written even when empty (a set oneof member or a repeated entry). */
  bytes(field: number, value: Uint8Array): this {
    this.#varint((field << 3) | 2);
    this.#varint(value.length);
    this.#push(value);
    return this;
  }

  /** A string field; `''` is left out unless `always`. */
  string(field: number, value: string, always = false): this {
    if (value === '' && !always) return this;
    return this.bytes(field, encoder.encode(value));
  }

  /** The bytes written. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let offset = 0;
    for (const part of this.#parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}
