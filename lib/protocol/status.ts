/**
 * gRPC status codes, spelled as in `doc/statuscodes.md`.
 *
 * @example
 * ```ts
 * context.abort(StatusCode.NOT_FOUND, 'Cannot find feature: no such point');
 * ```
 */
export const StatusCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
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
