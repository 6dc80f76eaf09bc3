import { context, metrics, propagation, trace, type Context, type MeterProvider, type TextMapGetter, type TextMapSetter, type TracerProvider } from '@opentelemetry/api';
import type { Metadata } from '../protocol/index.js';
import type { SemconvStability } from './semconv.js';

/** Options shared by the server and client interceptors. */
export interface OpenTelemetryOptions {
  /** Where spans go; the globally registered provider by default. */
  readonly tracerProvider?: TracerProvider;
  /** Where measurements go; the globally registered provider (as it is at the first call) by default. */
  readonly meterProvider?: MeterProvider;
  /**
   * Which calls to trace and measure, by method path (`/package.Service/Method`); the others pass
   * through untouched. Everything by default.
   * @example
   * ```ts
   * filter: (method) => !method.startsWith('/grpc.health.v1.Health/')
   * ```
   */
  readonly filter?: (method: string) => boolean;
  /**
   * Adds an `rpc.message` event (`rpc.message.type` SENT or RECEIVED, `rpc.message.id`,
   * `rpc.message.uncompressed_size` where known) for each message.
   * @default false
   */
  readonly messageEvents?: boolean;
  /**
   * Which semantic conventions to emit; by default read from `OTEL_SEMCONV_STABILITY_OPT_IN`
   * (`rpc` for the stable ones, `rpc/dup` for both).
   */
  readonly semconvStability?: SemconvStability;
}

/** The instrumentation scope name of the spans and measurements. @internal */
export const SCOPE = 'grpc-iter';

/** Reads propagation fields from gRPC metadata (text values only). @internal */
export const metadataGetter: TextMapGetter<Metadata> = {
  keys: (carrier) => [...carrier.keys()],
  get(carrier, key) {
    const values = carrier.getAll(key).filter((v): v is string => typeof v === 'string');
    return values.length === 0 ? undefined : values.length === 1 ? values[0] : values;
  },
};

/** Writes propagation fields into gRPC metadata. @internal */
export const metadataSetter: TextMapSetter<Metadata> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

/** @internal */
export function tracerOf(options: OpenTelemetryOptions) {
  return (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE);
}

/** @internal */
export function meterOf(options: OpenTelemetryOptions) {
  return (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE);
}

/**
 * The span context of each server call the server interceptor traces, keyed by its
 * `ServicerContext`, so that a client call made with `{ parent: context }` is its child even
 * where the async context was lost (a callback from a library that does not keep it).
 * @internal
 */
export const serverCallContexts = new WeakMap<object, Context>();

export { context, propagation };
