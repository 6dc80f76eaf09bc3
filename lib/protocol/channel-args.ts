// Channel arguments (grpc/grpc include/grpc/impl/channel_arg_names.h): options named like
// 'grpc.keepalive_time_ms', taken as [key, value] pairs (grpcio) or an object (grpc-js).

// grpc-core treats INT_MAX as "never" for durations and "no limit" for sizes.
const INT_MAX = 2_147_483_647;

/** Typed, checked reads of channel arguments; unknown keys are never looked at. @internal */
export interface ChannelArgs {
  /** An integer of at least `min`. */
  int(key: string, fallback: number, min: number): number;
  /** Milliseconds of at least `min`; INT_MAX or more means Infinity. */
  duration(key: string, fallback: number, min?: number): number;
  /** A size in bytes; -1, or INT_MAX or more, means no limit (-1). */
  limit(key: string, fallback: number): number;
  /** 0, 1 or a boolean. */
  flag(key: string, fallback: boolean): boolean;
  /** A non-empty string, or undefined when absent. */
  text(key: string): string | undefined;
  /** The raw value. */
  raw(key: string): unknown;
}

/**
 * Reads channel arguments given as pairs or an object.
 * @internal
 * @throws TypeError when `init` is neither, or a pair is malformed; the getters throw
 *   TypeError or RangeError naming the key of a bad value
 */
export function readChannelArgs(init: object | undefined, what: string): ChannelArgs {
  const values = new Map<string, unknown>();
  if (init !== undefined) {
    if (typeof init !== 'object' || init === null) throw new TypeError(`Cannot read ${what}: expected [key, value] pairs or an object`);
    if (Symbol.iterator in init) {
      for (const pair of init as Iterable<readonly [string, unknown]>) {
        if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string') throw new TypeError(`Cannot read ${what}: each option must be a [key, value] pair`);
        values.set(pair[0], pair[1]);
      }
    } else for (const [k, v] of Object.entries(init)) values.set(k, v);
  }
  const show = (v: unknown): string => (typeof v === 'string' ? `"${v}"` : String(v));
  const int = (key: string, fallback: number, min: number): number => {
    const v = values.get(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`Cannot use option "${key}": expected an integer, got ${show(v)}`);
    if (v < min) throw new RangeError(`Cannot use option "${key}": ${v} is below the minimum of ${min}`);
    return v;
  };
  return {
    int,
    duration: (key, fallback, min = 0) => {
      const v = int(key, fallback, min);
      return v >= INT_MAX ? Infinity : v;
    },
    limit: (key, fallback) => {
      const v = int(key, fallback, -1);
      return v >= INT_MAX ? -1 : v;
    },
    flag: (key, fallback) => {
      const v = values.get(key);
      if (v === undefined) return fallback;
      if (v === 0 || v === 1 || typeof v === 'boolean') return v === 1 || v === true;
      throw new TypeError(`Cannot use option "${key}": expected 0, 1 or a boolean, got ${show(v)}`);
    },
    text: (key) => {
      const v = values.get(key);
      if (v === undefined) return undefined;
      if (typeof v !== 'string' || v === '') throw new TypeError(`Cannot use option "${key}": expected a non-empty string`);
      return v;
    },
    raw: (key) => values.get(key),
  };
}

/** The value grpc-core reads as "never" or "no limit". @internal */
export const CHANNEL_ARG_INT_MAX = INT_MAX;
