/**
 * The standard health service, `grpc.health.v1.Health` (doc/health-checking.md): the server side
 * (`Check`, `List`, `Watch`) and a client (check once, list, watch with reconnects).
 *
 * @example
 * ```ts
 * import { server } from 'grpc-iter';
 * import { HealthServicer, ServingStatus, addHealthServicer } from 'grpc-iter/health';
 *
 * const srv = server();
 * const health = new HealthServicer();
 * addHealthServicer(srv, health);
 * health.set('helloworld.Greeter', ServingStatus.SERVING);
 * ```
 * @packageDocumentation
 */
export { HealthServicer, HEALTH_SERVICE_NAME, HEALTH_LIST_LIMIT, addHealthServicer, healthHandler } from './health.js';
export { ServingStatus, type HealthCheckRequest, type HealthCheckResponse, type HealthListResponse } from './codec.js';
export { checkHealth, listHealth, watchHealth, type HealthInvoker, type WatchHealthOptions, type HealthWatchBackoff } from './client.js';
/** @internal The FileDescriptorProto of health.proto, for server reflection. */
export { HEALTH_DESCRIPTOR } from './descriptor.js';
