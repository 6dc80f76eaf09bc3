// PROTOCOL-HTTP2.md, Requests: Timeout → "grpc-timeout" TimeoutValue TimeoutUnit,
// TimeoutValue → {positive integer as ASCII string of at most 8 digits},
// TimeoutUnit → Hours / Minutes / Seconds / Milliseconds / Microseconds / Nanoseconds.

const unitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
const MAX_VALUE = 99_999_999;

/**
 * Parses a `grpc-timeout` header value into milliseconds.
 * @param value - e.g. `'100m'`, `'5S'`
 * @returns the timeout in milliseconds (possibly fractional)
 * @throws RangeError when the value is not 1–8 digits followed by one of `H M S m u n`
 */
export function parseGrpcTimeout(value: string): number {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) throw new RangeError(`Cannot parse grpc-timeout: "${value.slice(0, 32)}" is not 1-8 digits and a unit`);
  return Number(match[1]) * (unitMs[match[2]!] ?? 0);
}

/**
 * Encodes a timeout for the `grpc-timeout` header, choosing the finest unit whose value fits
 * in eight digits, rounding up so the server never sees a shorter deadline than meant.
 * @param ms - milliseconds, at least 0
 * @returns the header value
 */
export function encodeGrpcTimeout(ms: number): string {
  const value = Math.max(0, ms);
  for (const [unit, scale] of [['n', 1e-6], ['u', 1e-3], ['m', 1], ['S', 1000], ['M', 60_000], ['H', 3_600_000]] as const) {
    const n = Math.ceil(value / scale);
    if (n <= MAX_VALUE) return `${n}${unit}`;
  }
  return `${MAX_VALUE}H`;
}
