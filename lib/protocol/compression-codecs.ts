import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { Compression, compressionName } from './compression.js';
import { RpcError } from './rpc-error.js';
import { StatusCode } from './status.js';

// The zlib codecs of doc/compression.md's algorithms, apart from compression.ts so that only the
// node:http2 transports (which use them) import node:zlib.

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
