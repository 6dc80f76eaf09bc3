// What grpc-iter/opentelemetry costs per unary call: the same closed loop of unary calls
// (16 in flight, 100-byte messages, over loopback), against a server and through a channel
// without the interceptors, with pass-through interceptors (the framework's own cost), with
// them and no SDK registered (the API's no-op tracer), and with
// them and a recording SDK (every span sampled and ended, histograms aggregated). Rounds are
// interleaved; the figure is the median round's microseconds per call and its difference.
//   node --import tsx bench/opentelemetry-overhead.ts [--calls=20000] [--rounds=5]
import { context, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { insecureChannel, interceptChannel, methodHandlersGenericHandler, server, unaryUnaryRpcMethodHandler, type ClientInterceptor, type Invoker, type ServerInterceptor } from '../lib/index.js';
import { openTelemetryClientInterceptor, openTelemetryServerInterceptor, type OpenTelemetryOptions } from '../lib/opentelemetry/index.js';

const flag = (name: string, fallback: number): number => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const CALLS = flag('calls', 20_000);
const ROUNDS = flag('rounds', 5);
const IN_FLIGHT = 16;

class DiscardingReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}
// Spans are made, recorded and ended, then dropped: the exporter's cost is not ours.
const dropping: SpanProcessor = { onStart() {}, onEnd() {}, forceFlush: async () => {}, shutdown: async () => {} };

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

// The framework's own cost of having any interceptor (the server leaves its unary fast path,
// the channel runs the interceptor chain), so the figure for OpenTelemetry is its own.
const passThrough = {
  server: { interceptService: (continuation, details) => continuation(details) } satisfies ServerInterceptor,
  client: ((details, requests, next) => next(details, requests)) satisfies ClientInterceptor,
};

async function setup(otel: OpenTelemetryOptions | 'pass-through' | undefined): Promise<{ call: Invoker; close: () => Promise<void> }> {
  const serverInterceptors = otel === undefined ? [] : otel === 'pass-through' ? [passThrough.server] : [openTelemetryServerInterceptor(otel)];
  const srv = server({ interceptors: serverInterceptors });
  srv.addGenericRpcHandlers([methodHandlersGenericHandler('bench.Echo', { Echo: unaryUnaryRpcMethodHandler((r: Uint8Array) => r) })]);
  const target = `127.0.0.1:${await srv.addInsecurePort('127.0.0.1:0')}`;
  await srv.start();
  const channel = insecureChannel(target);
  const call =
    otel === undefined ? channel : interceptChannel(channel, otel === 'pass-through' ? passThrough.client : openTelemetryClientInterceptor({ ...otel, target }));
  return {
    call,
    close: async () => {
      channel.close();
      await srv.stop(null);
    },
  };
}

async function round(invoker: Invoker): Promise<number> {
  const echo = invoker.unaryUnary('/bench.Echo/Echo');
  const body = new Uint8Array(100);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next++ < CALLS) await echo(body);
    }),
  );
  return ((performance.now() - started) * 1000) / CALLS;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const variants = {
  'without the interceptors': await setup(undefined),
  'with pass-through interceptors': await setup('pass-through'),
  // Nothing registered globally: the API's no-op tracer and meter.
  'with them, no SDK (no-op API)': await setup({}),
  'with them and a recording SDK': await setup({ tracerProvider: new BasicTracerProvider({ spanProcessors: [dropping] }), meterProvider: new MeterProvider({ readers: [new DiscardingReader()] }) }),
};
const times: Record<string, number[]> = {};
for (const v of Object.values(variants)) await round(v.call); // warm up
for (let r = 0; r < ROUNDS; r++) for (const [name, v] of Object.entries(variants)) (times[name] ??= []).push(await round(v.call));
for (const v of Object.values(variants)) await v.close();

const base = median(times['without the interceptors']!);
const passing = median(times['with pass-through interceptors']!);
console.log(`unary calls: ${CALLS} per round, ${IN_FLIGHT} in flight, ${ROUNDS} rounds interleaved, Node.js ${process.version}`);
console.log('| variant | median µs/call | vs without | µs/call over pass-through interceptors |');
console.log('|---|---:|---:|---:|');
for (const [name, xs] of Object.entries(times)) {
  const m = median(xs);
  console.log(`| ${name} | ${m.toFixed(1)} | ${(m / base).toFixed(2)}× | ${name.startsWith('with them') ? (m - passing).toFixed(1) : ''} |`);
}
