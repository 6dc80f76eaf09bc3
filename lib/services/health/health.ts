import { pushable } from 'it-pushable';
import { RpcError, StatusCode } from '../../protocol/index.js';
import {
  methodHandlersGenericHandler,
  unaryStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
  type Server,
  type ServiceRpcHandler,
  type ServicerContext,
} from '../../server/index.js';
import {
  ServingStatus,
  decodeHealthCheckRequest,
  decodeHealthListRequest,
  encodeHealthCheckResponse,
  encodeHealthListResponse,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthListResponse,
} from './codec.js';

// doc/health-checking.md and grpc/grpc-proto grpc/health/v1/health.proto: service
// grpc.health.v1.Health with Check (unary), List (unary, gRFC A90) and Watch (server streaming).

/** The full name of the health service. */
export const HEALTH_SERVICE_NAME = 'grpc.health.v1.Health';

/**
 * The most services `List` answers; over it the call fails RESOURCE_EXHAUSTED (health.proto, List:
 * "The maximum number of services to return is 100").
 */
export const HEALTH_LIST_LIMIT = 100;

/**
 * The health service (grpcio-health-checking's `HealthServicer`): keeps each service's status
 * and answers `Check`, `List` and `Watch`. The empty service name `''` stands for the whole server.
 *
 * Watchers get the current status at once and every change after; a watcher that does not
 * read is sent only the newest status when it reads again, so a slow watcher costs no memory.
 *
 * @example
 * ```ts
 * const health = new HealthServicer();
 * addHealthServicer(srv, health);
 * health.set('helloworld.Greeter', ServingStatus.SERVING);
 * process.on('SIGTERM', () => { health.enterGracefulShutdown(); void srv.stop(10); });
 * ```
 */
export class HealthServicer {
  readonly #statuses = new Map<string, ServingStatus>([['', ServingStatus.SERVING]]);
  readonly #watchers = new Map<string, Set<() => void>>();
  #shuttingDown = false;

  /**
   * Sets the status of `service` (`''` for the whole server) and tells its watchers.
   * Ignored after {@link HealthServicer.enterGracefulShutdown}.
   * @param service - the full service name
   * @param status - its new status
   */
  set(service: string, status: ServingStatus): void {
    if (this.#shuttingDown) return;
    this.#update(service, status);
  }

  /** Marks every service NOT_SERVING and ignores later updates: call it when the server starts to stop. */
  enterGracefulShutdown(): void {
    if (this.#shuttingDown) return;
    for (const service of this.#statuses.keys()) this.#update(service, ServingStatus.NOT_SERVING);
    this.#shuttingDown = true;
  }

  /**
   * The status of `service`.
   * @param service - the full service name
   * @returns its status, or undefined when it was never set
   */
  get(service: string): ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  #update(service: string, status: ServingStatus): void {
    if (this.#statuses.get(service) === status) return;
    this.#statuses.set(service, status);
    for (const notify of this.#watchers.get(service) ?? []) notify();
  }

  /**
   * The `Check` method: the service's status, or NOT_FOUND when it is not registered.
   * @param request - the decoded request
   * @returns the response
   * @throws RpcError NOT_FOUND for an unknown service
   */
  check(request: HealthCheckRequest): HealthCheckResponse {
    const status = this.#statuses.get(request.service);
    if (status === undefined) throw new RpcError(StatusCode.NOT_FOUND, `Unknown service "${request.service}"`);
    return { status };
  }

  /**
   * The `List` method: every service with its status, the whole server (`''`) included. The
   * answer is a snapshot; services may be added later (health.proto, List).
   * @returns the response
   * @throws RpcError RESOURCE_EXHAUSTED when more than {@link HEALTH_LIST_LIMIT} services are known
   */
  list(): HealthListResponse {
    if (this.#statuses.size > HEALTH_LIST_LIMIT) {
      throw new RpcError(StatusCode.RESOURCE_EXHAUSTED, `Cannot list health statuses: ${this.#statuses.size} services are over the limit of ${HEALTH_LIST_LIMIT}`);
    }
    const statuses = new Map<string, HealthCheckResponse>();
    for (const [service, status] of this.#statuses) statuses.set(service, { status });
    return { statuses };
  }

  /**
   * The `Watch` method: the current status at once, then each change, until the call ends.
   * @param request - the decoded request
   * @param context - the call's context; its signal ends the watch
   * @returns the stream of responses
   */
  async *watch(request: HealthCheckRequest, context: ServicerContext): AsyncGenerator<HealthCheckResponse> {
    const { service } = request;
    // Each entry is a "something changed" tick, read when dequeued, so at most one is queued
    // however slowly the client reads: the bound of this push source.
    const ticks = pushable<null>({ objectMode: true });
    const notify = (): void => {
      if (ticks.readableLength === 0) ticks.push(null);
    };
    const onAbort = (): void => {
      ticks.end();
    };
    let watchers = this.#watchers.get(service);
    if (watchers === undefined) this.#watchers.set(service, (watchers = new Set()));
    watchers.add(notify);
    context.signal.addEventListener('abort', onAbort, { once: true });
    try {
      let last: ServingStatus | undefined;
      notify();
      for await (const _ of ticks) {
        const status = this.#statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN;
        if (status === last) continue;
        last = status;
        yield { status };
      }
    } finally {
      context.signal.removeEventListener('abort', onAbort);
      watchers.delete(notify);
      if (watchers.size === 0) this.#watchers.delete(service);
    }
  }
}

/**
 * The health service as a generic handler, to register with `addGenericRpcHandlers`.
 * @param servicer - the health servicer
 * @returns a handler for `grpc.health.v1.Health`
 */
export function healthHandler(servicer: HealthServicer): ServiceRpcHandler {
  return methodHandlersGenericHandler(HEALTH_SERVICE_NAME, {
    Check: unaryUnaryRpcMethodHandler((request: HealthCheckRequest) => servicer.check(request), decodeHealthCheckRequest, encodeHealthCheckResponse),
    List: unaryUnaryRpcMethodHandler(() => servicer.list(), decodeHealthListRequest, encodeHealthListResponse),
    Watch: unaryStreamRpcMethodHandler(
      (request: HealthCheckRequest, context) => servicer.watch(request, context),
      decodeHealthCheckRequest,
      encodeHealthCheckResponse,
    ),
  });
}

/**
 * Registers `servicer` on `server` (grpcio-health-checking's `add_HealthServicer_to_server`).
 * @param server - a server not yet started
 * @param servicer - the health servicer
 */
export function addHealthServicer(server: Server, servicer: HealthServicer): void {
  server.addGenericRpcHandlers([healthHandler(servicer)]);
}
