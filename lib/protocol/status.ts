/**
 * gRPC status codes, spelled as in `doc/statuscodes.md`.
 *
 * @example
 * ```ts
 * context.abort(StatusCode.NOT_FOUND, 'Cannot find feature: no such point');
 * ```
 */
export const StatusCode = {
  /** Not an error; returned on success. */
  OK: 0,
  /** The operation was cancelled, typically by the caller. */
  CANCELLED: 1,
  /** Unknown error, e.g. an exception a handler threw. */
  UNKNOWN: 2,
  /** The client specified an invalid argument. */
  INVALID_ARGUMENT: 3,
  /** The deadline expired before the operation could complete. */
  DEADLINE_EXCEEDED: 4,
  /** Some requested entity was not found. */
  NOT_FOUND: 5,
  /** The entity a client attempted to create already exists. */
  ALREADY_EXISTS: 6,
  /** The caller does not have permission to execute the operation. */
  PERMISSION_DENIED: 7,
  /** Some resource has been exhausted (a quota, a size limit, a concurrency limit). */
  RESOURCE_EXHAUSTED: 8,
  /** The system is not in a state required for the operation. */
  FAILED_PRECONDITION: 9,
  /** The operation was aborted, typically by a concurrency issue. */
  ABORTED: 10,
  /** The operation was attempted past the valid range. */
  OUT_OF_RANGE: 11,
  /** The server does not support the operation (an unknown method or service, say). */
  UNIMPLEMENTED: 12,
  /** Internal error: an invariant the system expects has been broken. */
  INTERNAL: 13,
  /** The service is currently unavailable; retrying may succeed. */
  UNAVAILABLE: 14,
  /** Unrecoverable data loss or corruption. */
  DATA_LOSS: 15,
  /** The request does not have valid authentication credentials. */
  UNAUTHENTICATED: 16,
} as const;

/** One of the values of {@link StatusCode}. */
export type StatusCode = (typeof StatusCode)[keyof typeof StatusCode];

const names: string[] = [];
for (const [name, value] of Object.entries(StatusCode)) names[value] = name;

/**
 * The spec name of a status code (`'NOT_FOUND'`), or `'CODE_<n>'` for a number outside the table.
 * @param code - a status code
 * @returns its name
 */
export function statusCodeName(code: number): string {
  return names[code] ?? `CODE_${code}`;
}

/**
 * Whether `value` is one of the seventeen defined status codes.
 * @param value - anything
 * @returns true for an integer from 0 to 16
 */
export function isStatusCode(value: unknown): value is StatusCode {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 16;
}

/**
 * A status parsed from a `grpc-status` header value. Per `doc/statuscodes.md`, a value that is
 * not a known code is treated as UNKNOWN.
 * @internal
 */
export function parseStatusHeader(value: string | undefined): StatusCode | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,3}$/.test(value)) return StatusCode.UNKNOWN;
  const n = Number(value);
  return isStatusCode(n) ? n : StatusCode.UNKNOWN;
}
