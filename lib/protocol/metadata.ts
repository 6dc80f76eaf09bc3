import { base64Decode, base64Encode } from '../util/index.js';

// PROTOCOL-HTTP2.md, Requests: Custom-Metadata keys are lower-case ASCII of 0-9 a-z _ - .;
// keys ending in "-bin" carry base64 binary values, others printable ASCII.

/** A metadata value: a string, or bytes for keys that end in `-bin`. */
export type MetadataValue = string | Uint8Array;

/**
 * Anything taken where metadata is expected: a {@link Metadata}, `[key, value]` pairs (as in
 * grpcio), or a plain object whose values are a value or an array of values.
 */
export type MetadataInit =
  | Metadata
  | Iterable<readonly [string, MetadataValue]>
  | Readonly<Record<string, MetadataValue | readonly MetadataValue[]>>;

// Checked before lower-casing: String#toLowerCase maps a few non-ASCII letters to ASCII
// (U+212A KELVIN SIGN becomes "k"), and such a key can never be a header name.
const KEY = /^[0-9A-Za-z_.-]+$/;
// Header values: printable ASCII and space. RFC 9113 §8.2.1 forbids leading and trailing
// whitespace, and nghttp2 silently drops such a field, so it is refused here instead.
const VALUE = /^[\x20-\x7e]*$/;
const EDGE_SPACE = /^ | $/;

/** Headers that belong to the protocol and are never user metadata. */
const RESERVED = new Set([
  'content-type',
  'te',
  'content-length',
  'host',
  'connection',
  'transfer-encoding',
  'upgrade',
  'keep-alive',
  'proxy-connection',
]);

/**
 * Whether a header name is part of the protocol (pseudo-headers, `grpc-*` except
 * `grpc-status-details-bin` and `grpc-retry-pushback-ms`, `te`, `content-type`...) rather than
 * user metadata.
 * @internal
 */
export function isReservedHeader(key: string): boolean {
  if (key.charCodeAt(0) === 0x3a /* ':' */) return true;
  // grpc-status-details-bin (rich status) and grpc-retry-pushback-ms (gRFC A6, sent by the
  // server in trailers, read by the client's retry logic) are set and read as metadata.
  if (key.startsWith('grpc-')) return key !== 'grpc-status-details-bin' && key !== 'grpc-retry-pushback-ms';
  return RESERVED.has(key);
}

function checkKey(key: string): string {
  if (!KEY.test(key)) throw new TypeError(`Cannot use metadata key "${key}": keys are 0-9 a-z _ - . only`);
  return key.toLowerCase();
}

function checkValue(key: string, value: MetadataValue): MetadataValue {
  if (key.endsWith('-bin')) {
    if (value instanceof Uint8Array) return value;
    if (typeof value === 'string') return new TextEncoder().encode(value);
    throw new TypeError(`Cannot set metadata "${key}": a -bin value must be a Uint8Array`);
  }
  if (typeof value !== 'string') throw new TypeError(`Cannot set metadata "${key}": only -bin keys take bytes`);
  if (!VALUE.test(value)) throw new TypeError(`Cannot set metadata "${key}": values are printable ASCII only`);
  if (EDGE_SPACE.test(value)) throw new TypeError(`Cannot set metadata "${key}": a value may not start or end with a space`);
  return value;
}

/**
 * Request or response metadata: an ordered multimap of lower-case keys to values.
 *
 * Keys ending in `-bin` hold `Uint8Array`s (base64 on the wire); all others hold printable
 * ASCII strings that do not start or end with a space. Iterating yields `[key, value]` pairs,
 * as grpcio's metadata tuples do.
 *
 * @example
 * ```ts
 * const md = new Metadata({ authorization: 'Bearer abc' });
 * md.add('trace-bin', new Uint8Array([1, 2, 3]));
 * for (const [key, value] of md) console.log(key, value);
 * ```
 */
export class Metadata implements Iterable<[string, MetadataValue]> {
  readonly #map = new Map<string, MetadataValue[]>();

  /**
   * @param init - initial entries
   * @throws TypeError for a key or value that may not go on the wire
   */
  constructor(init?: MetadataInit) {
    if (init !== undefined) this.merge(init);
  }

  /**
   * Makes a Metadata from any accepted form; a Metadata is returned as it is.
   * @param init - metadata in any accepted form, or undefined for empty
   * @returns a Metadata
   */
  static from(init: MetadataInit | undefined): Metadata {
    return init instanceof Metadata ? init : new Metadata(init);
  }

  /**
   * Replaces all values of `key` with `value`.
   * @param key - the key (case-insensitive)
   * @param value - a string, or bytes for a `-bin` key
   * @returns this
   */
  set(key: string, value: MetadataValue): this {
    const k = checkKey(key);
    this.#map.set(k, [checkValue(k, value)]);
    return this;
  }

  /**
   * Appends a value to `key`.
   * @param key - the key (case-insensitive)
   * @param value - a string, or bytes for a `-bin` key
   * @returns this
   */
  add(key: string, value: MetadataValue): this {
    const k = checkKey(key);
    const v = checkValue(k, value);
    const list = this.#map.get(k);
    if (list === undefined) this.#map.set(k, [v]);
    else list.push(v);
    return this;
  }

  /**
   * The first value of `key`.
   * @param key - the key (case-insensitive)
   * @returns the value, or undefined when absent
   */
  get(key: string): MetadataValue | undefined {
    return this.#map.get(key.toLowerCase())?.[0];
  }

  /**
   * Every value of `key`, in order.
   * @param key - the key (case-insensitive)
   * @returns the values (empty when absent)
   */
  getAll(key: string): MetadataValue[] {
    return [...(this.#map.get(key.toLowerCase()) ?? [])];
  }

  /**
   * Whether `key` has a value.
   * @param key - the key (case-insensitive)
   * @returns true when present
   */
  has(key: string): boolean {
    return this.#map.has(key.toLowerCase());
  }

  /**
   * Removes every value of `key`.
   * @param key - the key (case-insensitive)
   * @returns true when something was removed
   */
  delete(key: string): boolean {
    return this.#map.delete(key.toLowerCase());
  }

  /**
   * Adds every entry of `init` to this metadata.
   * @param init - metadata in any accepted form
   * @returns this
   */
  merge(init: MetadataInit): this {
    if (init instanceof Metadata || Symbol.iterator in init) {
      for (const [key, value] of init as Iterable<readonly [string, MetadataValue]>) this.add(key, value);
    } else {
      for (const [key, value] of Object.entries(init)) {
        if (Array.isArray(value)) for (const v of value as MetadataValue[]) this.add(key, v);
        else this.add(key, value as MetadataValue);
      }
    }
    return this;
  }

  /** The number of distinct keys. */
  get size(): number {
    return this.#map.size;
  }

  /** @returns a copy of this metadata */
  clone(): Metadata {
    const copy = new Metadata();
    for (const [key, values] of this.#map) copy.#map.set(key, [...values]);
    return copy;
  }

  /** @returns the distinct keys, in insertion order */
  keys(): IterableIterator<string> {
    return this.#map.keys();
  }

  /** Iterates `[key, value]` pairs, one per value. */
  *[Symbol.iterator](): IterableIterator<[string, MetadataValue]> {
    for (const [key, values] of this.#map) for (const value of values) yield [key, value];
  }

  /** @returns a plain object of key → values, for logging */
  toJSON(): Record<string, MetadataValue[]> {
    return Object.fromEntries([...this.#map].map(([k, v]) => [k, [...v]]));
  }
}

/** HTTP/2 header values as node:http2 represents them. @internal */
export type HeaderMap = Record<string, string | string[] | undefined | number>;

/**
 * Copies user metadata into an outgoing header object; `-bin` values become base64 without
 * padding (PROTOCOL-HTTP2.md allows either, and C-core sends unpadded).
 * @internal
 */
export function metadataToHeaders(metadata: Metadata, headers: HeaderMap): HeaderMap {
  for (const key of metadata.keys()) {
    if (isReservedHeader(key)) continue;
    const values = metadata.getAll(key);
    const encoded = key.endsWith('-bin')
      ? values.map((v) => base64Encode(v as Uint8Array, false))
      : (values as string[]);
    const value = encoded.length === 1 ? encoded[0]! : encoded;
    // "__proto__" is a valid key, but assigning it would set the object's prototype instead.
    if (key === '__proto__') Object.defineProperty(headers, key, { value, enumerable: true, writable: true, configurable: true });
    else headers[key] = value;
  }
  return headers;
}

/**
 * Reads user metadata out of a raw header list (`[name, value, name, value, ...]`, as node:http2
 * gives it), keeping each repeated header as its own value. Protocol headers are left out and
 * invalid entries dropped.
 * @internal
 */
export function rawHeadersToMetadata(raw: readonly string[]): Metadata {
  const md = new Metadata();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i]!;
    if (isReservedHeader(key)) continue;
    addReceived(md, key, raw[i + 1]!);
  }
  return md;
}

function addReceived(md: Metadata, key: string, value: string): void {
  try {
    if (key.endsWith('-bin')) {
      // PROTOCOL-HTTP2.md: padded and unpadded values are both accepted; bad base64 throws and
      // the entry is dropped below. Several binary values may also arrive joined with commas.
      for (const part of value.split(',')) md.add(key, base64Decode(part.trim()));
    } else {
      md.add(key, value);
    }
  } catch {
    // An entry that is not valid metadata is ignored, as other implementations do.
  }
}

/**
 * Reads user metadata out of received headers, leaving protocol headers out. Invalid entries
 * are dropped rather than failing the call, as other implementations do.
 * @internal
 */
export function headersToMetadata(headers: HeaderMap): Metadata {
  const md = new Metadata();
  for (const key in headers) {
    if (isReservedHeader(key)) continue;
    const raw = headers[key];
    if (raw === undefined) continue;
    const values = Array.isArray(raw) ? raw : [String(raw)];
    for (const v of values) addReceived(md, key, v);
  }
  return md;
}
