/**
 * The standard health service, `grpc.health.v1.Health` (doc/health-checking.md).
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
export {
  HealthServicer,
  ServingStatus,
  HEALTH_SERVICE_NAME,
  addHealthServicer,
  healthHandler,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from './health.js';
