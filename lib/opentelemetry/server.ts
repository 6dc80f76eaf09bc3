import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { RpcError, StatusCode, isUnexpectedError } from '../protocol/index.js';
import { onCallEnd, serverAuthorityOf, type AnyRpcMethodHandler, type InterceptedHandler, type ServerInterceptor, type ServicerContext } from '../server/index.js';
import { metadataGetter, meterOf, serverCallContexts, tracerOf, type OpenTelemetryOptions } from './options.js';
import { SERVER_ERROR_CODES, createInstruments, endAttributes, parseAddress, parseMethod, parseStabilityOptIn, spanAttributes, spanName, startAttributes, type Instruments, type MethodName } from './semconv.js';
import { inContext, isIterable } from './streams.js';

type Behavior = (input: unknown, context: ServicerContext) => unknown;

/**
 * A server interceptor that traces and measures each call by the OpenTelemetry semantic
 * conventions for RPC: a SERVER span named `package.Service/Method`, the child of the trace
 * context the client sent in its metadata (extracted with the global propagator, W3C
 * `traceparent` / `tracestate` by default), and the `rpc.server.*` histograms.
 *
 * The handler — a plain or async function, or a (sync or async) generator, between its yields
 * too — runs inside the span's context, so spans it starts, and calls it makes through a
 * channel with {@link openTelemetryClientInterceptor}, are children of it. The span ends when
 * the call has ended, with the status the client was sent; its status is ERROR for UNKNOWN,
 * DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and DATA_LOSS (the conventions'
 * server-side rule), and an unexpected exception is recorded on it, never sent to the client.
 *
 * @param options - providers, a filter, message events, the conventions to emit
 * @returns the interceptor; put it first so the span covers the others
 * @example
 * ```ts
 * import { server } from 'grpc-iter';
 * import { openTelemetryServerInterceptor } from 'grpc-iter/opentelemetry';
 *
 * const srv = server({ interceptors: [openTelemetryServerInterceptor({ filter: (m) => !m.startsWith('/grpc.health.') })] });
 * ```
 */
export function openTelemetryServerInterceptor(options: OpenTelemetryOptions = {}): ServerInterceptor {
  const stability = options.semconvStability ?? parseStabilityOptIn(process.env.OTEL_SEMCONV_STABILITY_OPT_IN);
  const tracer = tracerOf(options);
  let instruments: Instruments | undefined; // made at the first call, so a meter provider registered after this still counts
  const { filter, messageEvents = false } = options;
  const wrap = (handler: InterceptedHandler, path: string): InterceptedHandler => {
    instruments ??= createInstruments(meterOf(options), 'server', stability);
    // No handler: the server would answer UNIMPLEMENTED. A handler giving the same answer lets
    // that call have its span and duration too (rpc-spans.md counts UNIMPLEMENTED an error).
    const known = handler !== null && handler !== undefined;
    return instrument(known ? handler : unimplemented(path), new ServerCallTrace(tracer, instruments, stability, parseMethod(path, known), messageEvents));
  };
  // interceptService, not the one-shape interceptCall: a call with no handler must get its span
  // too, and message sizes are the bytes the handler's codecs make, which only a replaced
  // handler can wrap (interceptCall sees decoded messages). The two forms share no per-call
  // key (HandlerCallDetails carries no context), so the span cannot begin in interceptCall
  // and still be the one those codecs record into.
  return {
    interceptService(continuation, details) {
      if (filter !== undefined && !filter(details.method)) return continuation(details);
      const handler = continuation(details);
      return handler instanceof Promise ? handler.then((h) => wrap(h, details.method)) : wrap(handler as InterceptedHandler, details.method);
    },
  };
}

/** What one traced server call knows; the span starts when the behavior does. */
class ServerCallTrace {
  readonly #tracer;
  readonly #instruments: Instruments;
  readonly #stability;
  readonly #name: MethodName;
  readonly #events: boolean;
  readonly #startedAt = performance.now();
  #span: Span | undefined;
  #metricAttributes: { old: Attributes; stable: Attributes } | undefined;
  #received = 0;
  #sent = 0;
  #early: number[] = []; // sizes of requests decoded before the span started (a unary request)
  #error: unknown;

  constructor(tracer: ReturnType<typeof tracerOf>, instruments: Instruments, stability: ReturnType<typeof parseStabilityOptIn>, name: MethodName, events: boolean) {
    this.#tracer = tracer;
    this.#instruments = instruments;
    this.#stability = stability;
    this.#name = name;
    this.#events = events;
  }

  /** Starts the span as the behavior starts; returns the context to run it in. */
  begin(call: ServicerContext): Context {
    const known = serverCallContexts.get(call);
    if (known !== undefined) return known; // a second behavior slot of the same call: already traced
    const parent = propagation.extract(ROOT_CONTEXT, call.invocationMetadata(), metadataGetter);
    // rpc-spans.md, server span: server.address / server.port are the logical host the client
    // addressed, its :authority (the local address when it sent none).
    const authority = serverAuthorityOf(call);
    const server = authority === undefined ? undefined : parseAddress(authority);
    const attributes = spanAttributes(this.#stability, (c) => startAttributes(c, this.#name, server));
    const peer = parseAddress(call.peer());
    if (peer !== undefined) {
      attributes['network.peer.address'] = peer.address;
      if (peer.port !== undefined) attributes['network.peer.port'] = peer.port;
    }
    const span = this.#tracer.startSpan(spanName(this.#stability, this.#name), { kind: SpanKind.SERVER, attributes, startTime: this.#startedAt }, parent);
    this.#span = span;
    // Not on the metrics: the client picks the :authority, so its values are unbounded.
    this.#metricAttributes = { old: startAttributes('old', this.#name, undefined, 'metric'), stable: startAttributes('stable', this.#name, undefined, 'metric') };
    const ctx = trace.setSpan(parent, span);
    serverCallContexts.set(call, ctx);
    for (const size of this.#early) this.#message('RECEIVED', this.#received - this.#early.length + 1, size);
    this.#early = [];
    const ended = onCallEnd(call, (status) => this.#end(status.code, status.details));
    // A context this server did not make (a test double): end when its callbacks run.
    if (!ended) call.addCallback(() => this.#end(call.code() ?? StatusCode.OK, call.details() ?? ''));
    return ctx;
  }

  /** Notes what a behavior threw, to record on the span if it was not an RpcError. */
  failed(error: unknown): void {
    if (isUnexpectedError(error)) this.#error = error;
  }

  received(bytes: Uint8Array): void {
    this.#received++;
    this.#instruments.requestSize?.record(bytes.byteLength, this.#metricAttributes?.old ?? startAttributes('old', this.#name, undefined, 'metric'));
    if (!this.#events) return;
    if (this.#span === undefined) this.#early.push(bytes.byteLength);
    else this.#message('RECEIVED', this.#received, bytes.byteLength);
  }

  sent(bytes: Uint8Array): void {
    this.#sent++;
    this.#instruments.responseSize?.record(bytes.byteLength, this.#metricAttributes?.old ?? startAttributes('old', this.#name, undefined, 'metric'));
    if (this.#events) this.#message('SENT', this.#sent, bytes.byteLength);
  }

  #message(type: 'SENT' | 'RECEIVED', id: number, size: number): void {
    // rpc-spans.md, "Events": one rpc.message event per message, ids counted per direction from 1.
    this.#span?.addEvent('rpc.message', { 'rpc.message.type': type, 'rpc.message.id': id, 'rpc.message.uncompressed_size': size });
  }

  #end(code: StatusCode, details: string): void {
    const span = this.#span;
    const attributes = this.#metricAttributes;
    if (span === undefined || attributes === undefined) return;
    this.#span = undefined;
    const isError = SERVER_ERROR_CODES.has(code);
    span.setAttributes(spanAttributes(this.#stability, (c) => endAttributes(c, code, isError)));
    if (this.#error !== undefined) span.recordException(this.#error instanceof Error ? this.#error : String(this.#error));
    if (isError) span.setStatus({ code: SpanStatusCode.ERROR, message: details });
    span.end();
    const ms = performance.now() - this.#startedAt;
    const i = this.#instruments;
    const old = { ...attributes.old, ...endAttributes('old', code, isError) };
    i.duration?.record(ms, old);
    i.callDuration?.record(ms / 1000, { ...attributes.stable, ...endAttributes('stable', code, isError) });
    i.requestsPerRpc?.record(this.#received, old);
    i.responsesPerRpc?.record(this.#sent, old);
  }
}

/**
 * What the server does for a method it does not have, as a handler: UNIMPLEMENTED at once, with
 * the server's own details, reading no request (a streaming handler is not made to wait for one).
 */
function unimplemented(path: string): AnyRpcMethodHandler {
  return {
    requestStreaming: true,
    responseStreaming: true,
    requestDeserializer: undefined,
    responseSerializer: undefined,
    unaryUnary: undefined,
    unaryStream: undefined,
    streamUnary: undefined,
    streamStream: () => {
      throw new RpcError(StatusCode.UNIMPLEMENTED, `Method not found: ${path}`);
    },
  };
}

function instrument(erased: AnyRpcMethodHandler, call: ServerCallTrace): AnyRpcMethodHandler {
  const deserialize = erased.requestDeserializer;
  const serialize = erased.responseSerializer as ((value: unknown) => Uint8Array) | undefined;
  const unary = (behavior: Behavior | undefined) =>
    behavior === undefined
      ? undefined
      : (input: unknown, ctx: ServicerContext): unknown => {
          const otel = call.begin(ctx);
          try {
            const result = context.with(otel, behavior, undefined, input, ctx);
            if (result === null || typeof result !== 'object' || typeof (result as PromiseLike<unknown>).then !== 'function') return result;
            return Promise.resolve(result).catch((err: unknown) => {
              call.failed(err);
              throw err;
            });
          } catch (err) {
            call.failed(err);
            throw err;
          }
        };
  const streaming = (behavior: Behavior | undefined) =>
    behavior === undefined
      ? undefined
      : (input: unknown, ctx: ServicerContext): unknown => {
          const otel = call.begin(ctx);
          let result: unknown;
          try {
            result = context.with(otel, behavior, undefined, input, ctx);
          } catch (err) {
            call.failed(err);
            throw err;
          }
          const failed = (err: unknown): void => call.failed(err);
          if (isIterable(result)) return inContext(otel, result, failed);
          // A result that is not iterable is passed on untouched, so the server refuses it as
          // it would without the interceptor.
          if (result === null || typeof result !== 'object' || typeof (result as PromiseLike<unknown>).then !== 'function') return result;
          return Promise.resolve(result).then(
            (source) => (isIterable(source) ? inContext(otel, source, failed) : source),
            (err: unknown) => {
              failed(err);
              throw err;
            },
          );
        };
  return {
    ...erased,
    requestDeserializer: (bytes: Uint8Array) => {
      call.received(bytes);
      return deserialize === undefined ? bytes : deserialize(bytes);
    },
    responseSerializer: ((value: unknown) => {
      const bytes = serialize === undefined ? (value as Uint8Array) : serialize(value);
      call.sent(bytes);
      return bytes;
    }) as (value: never) => Uint8Array,
    unaryUnary: unary(erased.unaryUnary as Behavior | undefined),
    streamUnary: unary(erased.streamUnary as Behavior | undefined),
    unaryStream: streaming(erased.unaryStream as Behavior | undefined),
    streamStream: streaming(erased.streamStream as Behavior | undefined),
  };
}
