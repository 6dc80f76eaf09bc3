import { StatusCode, statusCodeName } from '../protocol/core.js';
import type { ServiceConfig } from './options.js';

/** A method's retry policy, from the service config (gRFC A6). @internal */
export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly retryableStatusCodes: ReadonlySet<StatusCode>;
  /** Milliseconds to wait before attempt `attempt + 1`: random in [0, min(initial * multiplier^attempt, max)). */
  nextBackoff(attempt: number): number;
}

/** What the service config says about one method. @internal */
export interface MethodSettings {
  timeoutMs?: number;
  waitForReady?: boolean;
  retryPolicy?: RetryPolicy;
}

function seconds(value: string | undefined, what: string): number {
  const m = /^(\d+(?:\.\d{1,9})?)s$/.exec(value ?? '');
  if (m === null) throw new TypeError(`Cannot use service config: ${what} "${String(value)}" is not a duration like "0.5s"`);
  return Number(m[1]) * 1000;
}

const byName = new Map(Object.entries(StatusCode).map(([name, code]) => [name, code]));

/**
 * The settings of the most specific methodConfig entry naming `path` (service and method, then
 * service alone, then the default entry), per doc/service_config.md.
 * @internal
 * @throws TypeError for a malformed retry policy
 */
export function methodConfigFor(config: ServiceConfig | undefined, path: string): MethodSettings {
  if (config?.methodConfig === undefined) return {};
  const slash = path.lastIndexOf('/');
  const service = path.slice(1, slash);
  const method = path.slice(slash + 1);
  let best: NonNullable<ServiceConfig['methodConfig']>[number] | undefined;
  let rank = 0;
  for (const entry of config.methodConfig) {
    for (const name of entry.name ?? []) {
      const r = name.service === service && name.method === method ? 3 : name.service === service && (name.method ?? '') === '' ? 2 : (name.service ?? '') === '' ? 1 : 0;
      if (r > rank) {
        rank = r;
        best = entry;
      }
    }
  }
  if (best === undefined) return {};
  const settings: MethodSettings = {};
  if (best.timeout !== undefined) settings.timeoutMs = seconds(best.timeout, 'timeout');
  if (best.waitForReady !== undefined) settings.waitForReady = best.waitForReady;
  const p = best.retryPolicy;
  if (p !== undefined) {
    if (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 2) throw new TypeError('Cannot use service config: retryPolicy.maxAttempts must be an integer of at least 2');
    if (!(p.backoffMultiplier > 0)) throw new TypeError('Cannot use service config: retryPolicy.backoffMultiplier must be above 0');
    const initial = seconds(p.initialBackoff, 'retryPolicy.initialBackoff');
    const max = seconds(p.maxBackoff, 'retryPolicy.maxBackoff');
    const codes = new Set<StatusCode>();
    for (const c of p.retryableStatusCodes ?? []) {
      const code = typeof c === 'number' ? c : byName.get(String(c).toUpperCase());
      if (code === undefined || statusCodeName(code).startsWith('CODE_')) throw new TypeError(`Cannot use service config: unknown status code "${String(c)}" in retryableStatusCodes`);
      codes.add(code as StatusCode);
    }
    if (codes.size === 0) throw new TypeError('Cannot use service config: retryPolicy.retryableStatusCodes must not be empty');
    settings.retryPolicy = {
      // gRFC A6: maxAttempts above 5 is treated as 5.
      maxAttempts: Math.min(p.maxAttempts, 5),
      retryableStatusCodes: codes,
      nextBackoff: (attempt) => Math.random() * Math.min(initial * p.backoffMultiplier ** attempt, max),
    };
  }
  return settings;
}
