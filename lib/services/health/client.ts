import { delay, isAbortError } from 'abort-controller-x';
import type { CallCredentials, CallOptions, Invoker, UnaryStreamMultiCallable } from '../../client/index.js';
import { RpcError, StatusCode, type MetadataInit } from '../../protocol/index.js';
import {
  ServingStatus,
  decodeHealthCheckResponse,
  decodeHealthListResponse,
  encodeHealthCheckRequest,
  encodeHealthListRequest,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthListResponse,
} from './codec.js';

/** What the health client calls through: a `Channel`, an intercepted channel, or anything with their unary methods. */
export type HealthInvoker = Pick<Invoker, 'unaryUnary' | 'unaryStream'>;

const CHECK_PATH = '/grpc.health.v1.Health/Check';
const LIST_PATH = '/grpc.health.v1.Health/List';
const WATCH_PATH = '/grpc.health.v1.Health/Watch';

/**
 * Asks a server once how `service` is (the `Check` method).
 *
 * doc/health-checking.md: "a deadline should be set on the rpc", so pass `timeout` or `deadline`;
 * a server that does not answer in time may be declared unhealthy.
 *
 * @param channel - the channel to the server
 * @param service - the full service name, or `''` (the default) for the whole server
 * @param options - the call's options
 * @returns the status the server reports
 * @throws RpcError NOT_FOUND when the server does not know `service`, UNIMPLEMENTED when it has no
 *   health service, or the call's status when it fails otherwise
 *
 * @example
 * ```ts
 * const status = await checkHealth(channel, 'helloworld.Greeter', { timeout: 1 });
 * if (status !== ServingStatus.SERVING) console.warn('greeter is not serving');
 * ```
 */
export async function checkHealth(channel: HealthInvoker, service = '', options?: CallOptions): Promise<ServingStatus> {
  const check = channel.unaryUnary<HealthCheckRequest, HealthCheckResponse>(CHECK_PATH, encodeHealthCheckRequest, decodeHealthCheckResponse);
  return (await check({ service }, options)).status;
}

/**
 * Asks a server for every service it reports on, with each one's status (the `List` method,
 * gRFC A90). The answer is a snapshot: services come and go over a server's life.
 *
 * @param channel - the channel to the server
 * @param options - the call's options; set a deadline, as for {@link checkHealth}
 * @returns each service's status by full name (`''` is the whole server)
 * @throws RpcError RESOURCE_EXHAUSTED when the server has more services than it lists (100 in
 *   health.proto), UNIMPLEMENTED when it does not implement `List`, or the call's status otherwise
 *
 * @example
 * ```ts
 * for (const [service, status] of await listHealth(channel, { timeout: 1 })) console.log(service || '(server)', status);
 * ```
 */
export async function listHealth(channel: HealthInvoker, options?: CallOptions): Promise<Map<string, ServingStatus>> {
  const list = channel.unaryUnary<Record<string, never>, HealthListResponse>(LIST_PATH, encodeHealthListRequest, decodeHealthListResponse);
  const response = await list({}, options);
  const statuses = new Map<string, ServingStatus>();
  for (const [service, { status }] of response.statuses) statuses.set(service, status);
  return statuses;
}

/**
 * The backoff between `Watch` attempts, in doc/connection-backoff.md's terms: the first wait is
 * `initialMs`, each next one `multiplier` times longer up to `maxMs`, and each is randomised by
 * ±`jitter` (a fraction).
 */
export interface HealthWatchBackoff {
  /**
   * The first wait, in milliseconds.
   * @default 1000
   */
  readonly initialMs?: number;
  /**
   * How much longer each next wait is, at least 1.
   * @default 1.6
   */
  readonly multiplier?: number;
  /**
   * How much each wait is randomised, as a fraction in [0, 1).
   * @default 0.2
   */
  readonly jitter?: number;
  /**
   * The longest wait, in milliseconds.
   * @default 120000
   */
  readonly maxMs?: number;
}

/** Options of {@link watchHealth}. */
export interface WatchHealthOptions {
  /** Aborting it ends the watch: the call is cancelled, any wait stops, and the iterable ends. */
  readonly signal?: AbortSignal;
  /** Request metadata of each `Watch` call. */
  readonly metadata?: MetadataInit;
  /** Credentials of each `Watch` call. */
  readonly credentials?: CallCredentials;
  /** The backoff between attempts that got no message; doc/connection-backoff.md's values by default. */
  readonly backoff?: HealthWatchBackoff;
}

function checkBackoff(backoff: HealthWatchBackoff = {}): Required<HealthWatchBackoff> {
  const { initialMs = 1000, multiplier = 1.6, jitter = 0.2, maxMs = 120_000 } = backoff;
  if (!(initialMs > 0) || !Number.isFinite(initialMs)) throw new RangeError(`Cannot watch health: backoff.initialMs is ${initialMs}, not a positive number`);
  if (!(multiplier >= 1) || !Number.isFinite(multiplier)) throw new RangeError(`Cannot watch health: backoff.multiplier is ${multiplier}, not at least 1`);
  if (!(jitter >= 0 && jitter < 1)) throw new RangeError(`Cannot watch health: backoff.jitter is ${jitter}, not in [0, 1)`);
  if (!(maxMs >= initialMs) || !Number.isFinite(maxMs)) throw new RangeError(`Cannot watch health: backoff.maxMs is ${maxMs}, below initialMs`);
  return { initialMs, multiplier, jitter, maxMs };
}

/**
 * Watches how `service` is (the `Watch` method) as an async iterable of statuses: the current one
 * first, then each change, for as long as the caller iterates.
 *
 * It follows the Watch semantics of grpc/grpc-proto health.proto and gRFC A17:
 * - `SERVICE_UNKNOWN` (a service the server does not know yet) is a status like the others, not an
 *   error; the server sends the real status once the service is registered.
 * - When the call ends with any status but UNIMPLEMENTED (OK included: a server restarting, a
 *   dropped connection), the iterable yields `UNKNOWN` once (the health is not known while the
 *   watch is down; treat it as not serving) and calls again: at once when the broken call had
 *   delivered a message, otherwise after an exponential backoff (doc/connection-backoff.md).
 * - When the call ends UNIMPLEMENTED the server has no `Watch`: the iterable throws that
 *   `RpcError` and does not retry. gRFC A17 treats such a server as healthy.
 *
 * It ends (without throwing) when `options.signal` aborts or the loop is left; the call in
 * flight is cancelled and a pending backoff timer cleared.
 *
 * @param channel - the channel to the server
 * @param service - the full service name, or `''` (the default) for the whole server
 * @param options - a signal, call metadata and credentials, the backoff
 * @returns the statuses, as they arrive
 * @throws RangeError at once for a backoff it cannot use; while iterating, RpcError UNIMPLEMENTED
 *   when the server has no `Watch`
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * try {
 *   for await (const status of watchHealth(channel, 'helloworld.Greeter', { signal: stop.signal })) {
 *     pool.setHealthy(backend, status === ServingStatus.SERVING);
 *   }
 * } catch (err) {
 *   if (err instanceof RpcError && err.code === StatusCode.UNIMPLEMENTED) pool.setHealthy(backend, true);
 *   else throw err;
 * }
 * ```
 */
export function watchHealth(channel: HealthInvoker, service = '', options: WatchHealthOptions = {}): AsyncIterable<ServingStatus> {
  const backoff = checkBackoff(options.backoff);
  const watch = channel.unaryStream<HealthCheckRequest, HealthCheckResponse>(WATCH_PATH, encodeHealthCheckRequest, decodeHealthCheckResponse);
  return watchLoop(watch, { service }, options, backoff);
}

async function* watchLoop(
  watch: UnaryStreamMultiCallable<HealthCheckRequest, HealthCheckResponse>,
  request: HealthCheckRequest,
  options: WatchHealthOptions,
  backoff: Required<HealthWatchBackoff>,
): AsyncGenerator<ServingStatus, void, undefined> {
  const { signal } = options;
  // A signal for the backoff wait when the caller gave none: the loop then ends only by `break`,
  // which reaches the generator at a `yield`, never during the wait.
  const waitSignal = signal ?? new AbortController().signal;
  const callOptions: CallOptions = {
    ...(signal !== undefined && { signal }),
    ...(options.metadata !== undefined && { metadata: options.metadata }),
    ...(options.credentials !== undefined && { credentials: options.credentials }),
  };
  // A function, so the compiler does not narrow `aborted` across the awaits that change it.
  const aborted = (): boolean => signal?.aborted === true;
  let nextBackoff = backoff.initialMs;
  let last: ServingStatus | undefined;
  while (!aborted()) {
    let received = false;
    try {
      for await (const { status } of watch(request, callOptions)) {
        received = true;
        last = status;
        yield status;
      }
    } catch (err) {
      if (aborted()) return;
      // health.proto, Watch: "If the call terminates with status UNIMPLEMENTED, then clients should
      // assume this method is not supported and should not retry the call."
      if (!(err instanceof RpcError) || err.code === StatusCode.UNIMPLEMENTED) throw err;
    }
    if (aborted()) return;
    // "If the call terminates with any other status (including OK), clients should retry the
    // call with appropriate exponential backoff."
    if (last !== ServingStatus.UNKNOWN) {
      last = ServingStatus.UNKNOWN;
      yield ServingStatus.UNKNOWN;
    }
    // gRFC A17: "When the client receives a message from the server on a given call, the backoff
    // state is reset, so the next attempt will occur immediately".
    if (received) {
      nextBackoff = backoff.initialMs;
      continue;
    }
    const wait = nextBackoff * (1 + backoff.jitter * (Math.random() * 2 - 1));
    nextBackoff = Math.min(nextBackoff * backoff.multiplier, backoff.maxMs);
    try {
      await delay(waitSignal, wait);
    } catch (err) {
      if (isAbortError(err)) return;
      throw err;
    }
  }
}
