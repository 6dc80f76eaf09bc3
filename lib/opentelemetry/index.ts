/**
 * OpenTelemetry tracing and metrics for grpc-iter servers and clients, by the semantic
 * conventions for RPC, interoperating in one trace with `@opentelemetry/instrumentation-grpc`
 * on `@grpc/grpc-js` (W3C trace context in the metadata). Needs `@opentelemetry/api` (an
 * optional peer dependency); nothing here is loaded unless this entry is imported.
 *
 * @example
 * ```ts
 * import { createClient, insecureChannel, interceptChannel, server } from 'grpc-iter';
 * import { openTelemetryClientInterceptor, openTelemetryServerInterceptor } from 'grpc-iter/opentelemetry';
 *
 * const srv = server({ interceptors: [openTelemetryServerInterceptor()] });
 * const target = 'localhost:50051';
 * const channel = interceptChannel(insecureChannel(target), openTelemetryClientInterceptor({ target }));
 * ```
 * @packageDocumentation
 */
export { openTelemetryServerInterceptor } from './server.js';
export { openTelemetryClientInterceptor, type OpenTelemetryClientOptions } from './client.js';
export { type OpenTelemetryOptions } from './options.js';
export { type SemconvStability } from './semconv.js';
