import { RpcError } from './rpc-error.js';
import { StatusCode } from './status.js';
import { parseGrpcTimeout } from './timeout.js';

/*
 * The gRPC rules a transport applies to each request before it becomes a call, whatever the
 * wire (PROTOCOL-HTTP2.md, Requests). Each transport reads its own headers and answers in its
 * own way; what counts as acceptable is decided here, once.
 */

/**
 * Whether `value` is a gRPC content type: `application/grpc`, optionally with a `+suffix`
 * (`+proto`, `+json`) or parameters.
 * @internal
 */
export function isGrpcContentType(value: string): boolean {
  if (!value.startsWith('application/grpc')) return false;
  const next = value.charCodeAt(16);
  return Number.isNaN(next) || next === 0x2b /* + */ || next === 0x3b /* ; */;
}

/**
 * The size of a request's header list as RFC 9113 §6.5.2 counts it (name and value octets plus
 * 32 per field), from node's raw list of alternating names and values (latin1 strings, one char
 * per octet), for `grpc.max_metadata_size`.
 * @internal
 */
export function headerListSize(rawHeaders: readonly string[]): number {
  let size = 0;
  for (let i = 0; i < rawHeaders.length; i++) size += rawHeaders[i]!.length + (i % 2 === 0 ? 32 : 0);
  return size;
}

/**
 * The error for request metadata over `grpc.max_metadata_size`: RESOURCE_EXHAUSTED, as C-core
 * answers it, before any handler runs.
 * @internal
 */
export function metadataTooLarge(size: number, limit: number): RpcError {
  return new RpcError(StatusCode.RESOURCE_EXHAUSTED, `Cannot accept call: request metadata of ${size} bytes is larger than grpc.max_metadata_size (${limit} bytes)`);
}

/**
 * The timeout a request's `grpc-timeout` asks for, in milliseconds.
 * @returns undefined when the header is absent
 * @throws RpcError INTERNAL for a malformed value (never a crash)
 * @internal
 */
export function requestTimeoutMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseGrpcTimeout(value);
  } catch (err) {
    throw new RpcError(StatusCode.INTERNAL, (err as Error).message);
  }
}
