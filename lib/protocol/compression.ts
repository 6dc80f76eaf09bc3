// The algorithms and their names only, with no codec, so code that never compresses (the browser
// client) does not pull node:zlib; the codecs are in compression-codecs.ts.
// doc/compression.md: grpc-encoding names the codec of the messages whose compressed flag is
// set; grpc-accept-encoding lists what the sender can decode. "identity" means none.

/**
 * Compression algorithms, as grpcio's `grpc.Compression` (`NoCompression`, `Deflate`, `Gzip`).
 *
 * @example
 * ```ts
 * const srv = server({ compression: Compression.Gzip });
 * ```
 */
export const Compression = {
  /** No compression (`identity`). */
  NoCompression: 0,
  /** zlib deflate (`deflate`). */
  Deflate: 1,
  /** gzip (`gzip`). */
  Gzip: 2,
} as const;

/** One of the values of {@link Compression}. */
export type Compression = (typeof Compression)[keyof typeof Compression];

const names = ['identity', 'deflate', 'gzip'] as const;

/**
 * The `grpc-encoding` name of an algorithm.
 * @internal
 */
export function compressionName(algorithm: Compression): 'identity' | 'deflate' | 'gzip' {
  return names[algorithm];
}

/**
 * The algorithm a `grpc-encoding` name stands for, or undefined when not supported.
 * @internal
 */
export function compressionFromName(name: string): Compression | undefined {
  const i = (names as readonly string[]).indexOf(name);
  return i < 0 ? undefined : (i as Compression);
}

/**
 * Checks that a value is one of {@link Compression}.
 * @internal
 */
export function checkCompression(value: unknown, what: string): Compression {
  if (value === 0 || value === 1 || value === 2) return value;
  throw new TypeError(`Cannot use ${what}: ${String(value)} is not a Compression value`);
}

/** What this implementation accepts, for `grpc-accept-encoding`. @internal */
export const ACCEPT_ENCODING = 'identity,deflate,gzip';
