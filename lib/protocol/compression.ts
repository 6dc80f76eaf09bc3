import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { RpcError } from './rpc-error.js';
import { StatusCode } from './status.js';

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

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);
const deflate = promisify(zlib.deflate);
const inflate = promisify(zlib.inflate);

/**
 * Compresses a message payload.
 * @internal
 */
export function compress(algorithm: Compression, payload: Uint8Array): Promise<Buffer> {
  switch (algorithm) {
    case Compression.Gzip:
      return gzip(payload);
    case Compression.Deflate:
      return deflate(payload);
    case Compression.NoCompression:
      return Promise.resolve(Buffer.from(payload));
  }
}

/**
 * Decompresses a message payload, refusing to produce more than `maxBytes` (negative: no
 * limit), so a small compressed message cannot expand without bound.
 * @internal
 * @throws RpcError RESOURCE_EXHAUSTED past the limit, INTERNAL for corrupt data
 */
export async function decompress(algorithm: Compression, payload: Uint8Array, maxBytes: number): Promise<Buffer> {
  if (algorithm === Compression.NoCompression) {
    throw new RpcError(StatusCode.INTERNAL, 'Cannot decompress message: compressed flag set but grpc-encoding is identity');
  }
  const options: zlib.ZlibOptions = maxBytes >= 0 ? { maxOutputLength: Math.max(1, maxBytes) } : {};
  let out: Buffer | undefined;
  try {
    out = algorithm === Compression.Gzip ? await gunzip(payload, options) : await inflate(payload, options);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_BUFFER_TOO_LARGE') {
      throw new RpcError(StatusCode.INTERNAL, `Cannot decompress message with ${compressionName(algorithm)}: ${(err as Error).message}`);
    }
  }
  if (out === undefined || (maxBytes >= 0 && out.length > maxBytes)) {
    throw new RpcError(StatusCode.RESOURCE_EXHAUSTED, `Received message larger than max after decompression (max ${maxBytes})`);
  }
  return out;
}
