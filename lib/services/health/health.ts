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

// doc/health-checking.md: service grpc.health.v1.Health with Check (unary) and Watch (server
// streaming). HealthCheckRequest { string service = 1; }, HealthCheckResponse { ServingStatus
// status = 1; }. The two messages are small enough to encode here by hand.

/** A HealthCheckRequest: which service to report on. */
export interface HealthCheckRequest {
  /** The full service name, or `''` for the whole server. */
  readonly service: string;
}

/** A HealthCheckResponse: the service's status. */
export interface HealthCheckResponse {
  /** The service's status. */
  readonly status: ServingStatus;
}

/** A service's health, as `grpc.health.v1.HealthCheckResponse.ServingStatus`. */
export const ServingStatus = {
  /** Not known yet. */
  UNKNOWN: 0,
  /** Serving requests. */
  SERVING: 1,
  /** Not serving requests. */
  NOT_SERVING: 2,
  /** Used only by Watch: the service is not registered with the health servicer. */
  SERVICE_UNKNOWN: 3,
} as const;

/** One of the values of {@link ServingStatus}. */
export type ServingStatus = (typeof ServingStatus)[keyof typeof ServingStatus];

/** The full name of the health service. */
export const HEALTH_SERVICE_NAME = 'grpc.health.v1.Health';

/** Decodes a HealthCheckRequest: the service name (field 1), other fields skipped. @internal */
export function decodeHealthCheckRequest(bytes: Uint8Array): HealthCheckRequest {
  let service = '';
  let i = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (i >= bytes.length) throw new RangeError('Cannot decode HealthCheckRequest: truncated varint');
      const b = bytes[i++]!;
      if (shift < 28) result |= (b & 0x7f) << shift;
      else result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new RangeError('Cannot decode HealthCheckRequest: varint too long');
    }
  };
  while (i < bytes.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 0) varint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const length = varint();
      if (i + length > bytes.length) throw new RangeError('Cannot decode HealthCheckRequest: truncated field');
      if (tag >>> 3 === 1) service = Buffer.from(bytes.buffer, bytes.byteOffset + i, length).toString('utf8');
      i += length;
    } else throw new RangeError(`Cannot decode HealthCheckRequest: wire type ${wire}`);
  }
  if (i > bytes.length) throw new RangeError('Cannot decode HealthCheckRequest: truncated field');
  return { service };
}

/** Encodes a HealthCheckResponse. @internal */
export function encodeHealthCheckResponse(response: HealthCheckResponse): Uint8Array {
  // proto3 leaves a zero enum out.
  return response.status === 0 ? new Uint8Array(0) : Uint8Array.of(0x08, response.status);
}

/**
 * The health service (grpcio-health-checking's `HealthServicer`): keeps each service's status
 * and answers `Check` and `Watch`. The empty service name `''` stands for the whole server.
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
