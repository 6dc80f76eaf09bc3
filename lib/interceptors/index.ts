/**
 * Ready-made interceptors: logging and bearer-token authentication for servers.
 *
 * @example
 * ```ts
 * import { server } from 'grpc-iter';
 * import { loggingInterceptor, bearerTokenInterceptor } from 'grpc-iter/interceptors';
 *
 * const srv = server({
 *   interceptors: [loggingInterceptor(), bearerTokenInterceptor({ verify: (token) => token === 'secret' })],
 * });
 * ```
 * @packageDocumentation
 */
export { loggingInterceptor, bearerTokenInterceptor, type RpcLogEntry, type LoggingInterceptorOptions, type BearerTokenInterceptorOptions } from './server-interceptors.js';
export { type RpcOutcome } from './observe.js';
