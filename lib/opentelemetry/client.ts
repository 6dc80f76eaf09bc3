import { SpanKind, SpanStatusCode, context, propagation, trace, type Context } from '@opentelemetry/api';
import { messageSizes, type CallOptions, type ClientInterceptor, type MessageSizeObserver } from '../client/index.js';
import { Metadata, StatusCode, isUnexpectedError, toRpcError } from '../protocol/index.js';
import { metadataSetter, meterOf, serverCallContexts, tracerOf, type OpenTelemetryOptions } from './options.js';
import { createInstruments, endAttributes, parseAddress, parseMethod, parseStabilityOptIn, spanAttributes, startAttributes, type Instruments } from './semconv.js';

/** Options of {@link openTelemetryClientInterceptor}. */
export interface OpenTelemetryClientOptions extends OpenTelemetryOptions {
  /**
   * The target the channel was made with (`host:port`, `dns:///host:port`...), for the
   * `server.address` and `server.port` attributes; without it they are left out.
   */
  readonly target?: string;
}

/**
 * A client interceptor that traces and measures each call by the OpenTelemetry semantic
 * conventions for RPC: a CLIENT span named `package.Service/Method`, the child of the active
 * span (or, when none is active, of the server call given as `{ parent: context }`), its
 * context injected into the request metadata with the global propagator (W3C `traceparent` /
 * `tracestate` by default), and the `rpc.client.*` histograms.
 *
 * The span ends when the call does, with ERROR status for any code but OK; a call the
 * consumer leaves early ends CANCELLED. Message sizes (and the optional message events) are
 * those of the bytes the channel sends and reads, serializers or not.
 *
 * @param options - providers, a filter, message events, the conventions, the target
 * @returns the interceptor, for `interceptChannel`
 * @example
 * ```ts
 * import { createClient, insecureChannel, interceptChannel } from 'grpc-iter';
 * import { openTelemetryClientInterceptor } from 'grpc-iter/opentelemetry';
 *
 * const target = 'localhost:50051';
 * const channel = interceptChannel(insecureChannel(target), openTelemetryClientInterceptor({ target }));
 * const client = createClient(Greeter, channel);
 * ```
 */
export function openTelemetryClientInterceptor(options: OpenTelemetryClientOptions = {}): ClientInterceptor {
  const stability = options.semconvStability ?? parseStabilityOptIn(process.env.OTEL_SEMCONV_STABILITY_OPT_IN);
  const tracer = tracerOf(options);
  const server = options.target === undefined ? undefined : parseAddress(options.target);
  const { filter, messageEvents = false } = options;
  let instruments: Instruments | undefined;
  return (details, requests, next) => {
    if (filter !== undefined && !filter(details.method)) return next(details, requests);
    instruments ??= createInstruments(meterOf(options), 'client', stability);
    const i = instruments;
    const startedAt = performance.now();
    const name = parseMethod(details.method);
    // Read the active context now, as the call is made: the generator below runs later.
    const active = context.active();
    const parentCall = details.options.parent;
    const parent: Context = trace.getSpan(active) === undefined && parentCall !== undefined ? (serverCallContexts.get(parentCall) ?? active) : active;
    const span = tracer.startSpan(name.full, { kind: SpanKind.CLIENT, attributes: spanAttributes(stability, (c) => startAttributes(c, name, server)) }, parent);
    const ctx = trace.setSpan(parent, span);
    const metadata = new Metadata(details.options.metadata);
    propagation.inject(ctx, metadata, metadataSetter);
    const old = startAttributes('old', name, server, 'metric');
    const counts = { sent: 0, received: 0 };
    // The interceptor sees messages as the caller gives them (objects, with serializers): their
    // sizes come from the channel as it serializes each request and reads each response.
    const serialized = { sent: 0, received: 0 };
    const message = (type: 'SENT' | 'RECEIVED', id: number, size: number): void => {
      (type === 'SENT' ? i.requestSize : i.responseSize)?.record(size, old);
      // rpc-spans.md, "Events": one rpc.message event per message, ids counted per direction from 1.
      if (messageEvents) span.addEvent('rpc.message', { 'rpc.message.type': type, 'rpc.message.id': id, 'rpc.message.uncompressed_size': size });
    };
    const sizes: MessageSizeObserver = {
      sent: (bytes) => message('SENT', ++serialized.sent, bytes),
      received: (bytes) => message('RECEIVED', ++serialized.received, bytes),
    };
    const callOptions = { ...details.options, metadata, [messageSizes]: sizes } as CallOptions;
    const end = (code: StatusCode, statusDetails: string, error: unknown): void => {
      const isError = code !== StatusCode.OK;
      span.setAttributes(spanAttributes(stability, (c) => endAttributes(c, code, isError)));
      if (error !== undefined && isUnexpectedError(error)) span.recordException(error instanceof Error ? error : String(error));
      if (isError) span.setStatus({ code: SpanStatusCode.ERROR, message: statusDetails });
      span.end();
      const ms = performance.now() - startedAt;
      const oldEnd = { ...old, ...endAttributes('old', code, isError) };
      i.duration?.record(ms, oldEnd);
      i.callDuration?.record(ms / 1000, { ...startAttributes('stable', name, server, 'metric'), ...endAttributes('stable', code, isError) });
      i.requestsPerRpc?.record(counts.sent, oldEnd);
      i.responsesPerRpc?.record(counts.received, oldEnd);
    };
    async function* sent(): AsyncGenerator<unknown> {
      for await (const r of requests) {
        counts.sent++;
        yield r;
      }
    }
    return (async function* traced(): AsyncGenerator<unknown> {
      let outcome: { code: StatusCode; details: string; error?: unknown } | undefined;
      let it: AsyncIterator<unknown> | undefined;
      try {
        const responses = context.with(ctx, () => next({ ...details, options: callOptions }, sent()));
        it = responses[Symbol.asyncIterator]();
        const source = it;
        for (let r = await context.with(ctx, () => source.next()); r.done !== true; r = await context.with(ctx, () => source.next())) {
          counts.received++;
          yield r.value;
        }
        outcome = { code: StatusCode.OK, details: '' };
      } catch (err) {
        const status = toRpcError(err);
        outcome = { code: status.code, details: status.details, error: err };
        throw err;
      } finally {
        // No outcome: the consumer left early; returning the inner iterator cancels the call.
        if (outcome === undefined) await it?.return?.();
        if (outcome === undefined) end(StatusCode.CANCELLED, 'Call cancelled', undefined);
        else end(outcome.code, outcome.details, outcome.error);
      }
    })();
  };
}
