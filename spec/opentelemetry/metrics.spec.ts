import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader, type HistogramMetricData, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  RpcError,
  StatusCode,
  insecureChannel,
  interceptChannel,
  streamStreamRpcMethodHandler,
  streamUnaryRpcMethodHandler,
  unaryStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
} from '../../lib/index.js';
import { openTelemetryClientInterceptor, openTelemetryServerInterceptor, type SemconvStability } from '../../lib/opentelemetry/index.js';
import { parseStabilityOptIn } from '../../lib/opentelemetry/semconv.js';
import { decode, encode, eventually, startServer } from '../helpers/grpc.js';

class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

const cleanup: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function measured(semconvStability: SemconvStability): Promise<{ metrics: () => Promise<MetricData[]>; port: number; call: (method: string, body: string) => Promise<unknown>; chat: (msgs: string[]) => Promise<string[]> }> {
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const tracerProvider = new BasicTracerProvider();
  const options = { meterProvider, tracerProvider, semconvStability };
  const server = await startServer(
    {
      Echo: unaryUnaryRpcMethodHandler((r: string) => r + r, decode, encode),
      Fail: unaryUnaryRpcMethodHandler((_r: string, ctx) => ctx.abort(StatusCode.UNAVAILABLE, 'Cannot serve: draining'), decode, encode),
      Chat: streamStreamRpcMethodHandler(async function* (reqs: AsyncIterable<string>) {
        for await (const r of reqs) yield `${r}!`;
      }, decode, encode),
    },
    { interceptors: [openTelemetryServerInterceptor(options)] },
    't.Svc',
  );
  const base = insecureChannel(server.address);
  const channel = interceptChannel(base, openTelemetryClientInterceptor({ ...options, target: server.address }));
  cleanup.push(() => server.close(), () => base.close(), () => meterProvider.shutdown());
  return {
    port: server.port,
    metrics: async () => (await reader.collect()).resourceMetrics.scopeMetrics.flatMap((s) => s.metrics),
    call: (method, body) => channel.unaryUnary(`/t.Svc/${method}`)(encode(body)).catch((e: unknown) => e),
    chat: async (msgs) => {
      const out: string[] = [];
      for await (const m of channel.streamStream('/t.Svc/Chat')(msgs.map(encode))) out.push(decode(m));
      return out;
    },
  };
}

function histogram(metrics: MetricData[], name: string): HistogramMetricData {
  const m = metrics.find((x) => x.descriptor.name === name);
  assert.ok(m, `no metric "${name}" in [${metrics.map((x) => x.descriptor.name).join(', ')}]`);
  assert.equal(m.dataPointType, DataPointType.HISTOGRAM);
  return m as HistogramMetricData;
}

const MS_BUCKETS = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];
const S_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

describe('OpenTelemetry metrics', () => {
  it('OTEL_SEMCONV_STABILITY_OPT_IN: rpc picks the stable conventions, rpc/dup both (it wins over rpc), anything else the old', () => {
    assert.equal(parseStabilityOptIn(undefined), 'old');
    assert.equal(parseStabilityOptIn('http,database'), 'old');
    assert.equal(parseStabilityOptIn('http, rpc'), 'stable');
    assert.equal(parseStabilityOptIn('rpc,rpc/dup'), 'dup');
    assert.equal(parseStabilityOptIn(' rpc/dup '), 'dup');
  });

  it('by default: rpc.server/client.duration in ms, sizes and messages per RPC, with the status code and no peer port', async () => {
    const m = await measured('old');
    assert.equal(decode((await m.call('Echo', 'abc')) as Uint8Array), 'abcabc');
    await m.call('Echo', 'abc');
    assert.ok((await m.call('Fail', 'x')) instanceof RpcError);
    assert.deepEqual(await m.chat(['a', 'bb', 'ccc']), ['a!', 'bb!', 'ccc!']);
    const metrics = await m.metrics();
    assert.deepEqual(metrics.map((x) => x.descriptor.name).sort(), [
      'rpc.client.duration',
      'rpc.client.request.size',
      'rpc.client.requests_per_rpc',
      'rpc.client.response.size',
      'rpc.client.responses_per_rpc',
      'rpc.server.duration',
      'rpc.server.request.size',
      'rpc.server.requests_per_rpc',
      'rpc.server.response.size',
      'rpc.server.responses_per_rpc',
    ]);
    const serverDuration = histogram(metrics, 'rpc.server.duration');
    assert.equal(serverDuration.descriptor.unit, 'ms');
    const points = serverDuration.dataPoints.map((p) => ({ attributes: p.attributes, count: p.value.count }));
    const echo = { 'rpc.system': 'grpc', 'rpc.service': 't.Svc', 'rpc.method': 'Echo', 'rpc.grpc.status_code': 0 };
    assert.deepEqual(points.find((p) => p.attributes['rpc.method'] === 'Echo'), { attributes: echo, count: 2 });
    assert.deepEqual(points.find((p) => p.attributes['rpc.method'] === 'Fail'), {
      attributes: { 'rpc.system': 'grpc', 'rpc.service': 't.Svc', 'rpc.method': 'Fail', 'rpc.grpc.status_code': StatusCode.UNAVAILABLE, 'error.type': 'UNAVAILABLE' },
      count: 1,
    });
    assert.deepEqual(serverDuration.dataPoints[0]!.value.buckets.boundaries, MS_BUCKETS);
    const clientDuration = histogram(metrics, 'rpc.client.duration');
    const clientEcho = clientDuration.dataPoints.find((p) => p.attributes['rpc.method'] === 'Echo')!;
    assert.deepEqual(clientEcho.attributes, { ...echo, 'server.address': '127.0.0.1', 'server.port': m.port });
    assert.equal(clientEcho.value.count, 2);
    for (const p of [...serverDuration.dataPoints, ...clientDuration.dataPoints]) assert.equal(p.attributes['network.peer.port'], undefined);
    // Sizes: per message, uncompressed; the server sees the bytes its codecs make.
    const requestSize = histogram(metrics, 'rpc.server.request.size').dataPoints.find((p) => p.attributes['rpc.method'] === 'Chat')!;
    assert.equal(requestSize.value.count, 3);
    assert.equal(requestSize.value.sum, 6);
    assert.equal(histogram(metrics, 'rpc.server.response.size').dataPoints.find((p) => p.attributes['rpc.method'] === 'Chat')!.value.sum, 9);
    assert.equal(histogram(metrics, 'rpc.client.request.size').dataPoints.find((p) => p.attributes['rpc.method'] === 'Chat')!.value.sum, 6);
    const perRpc = (name: string, method: string) => histogram(metrics, name).dataPoints.find((p) => p.attributes['rpc.method'] === method)!.value;
    assert.deepEqual([perRpc('rpc.server.requests_per_rpc', 'Chat').sum, perRpc('rpc.server.responses_per_rpc', 'Chat').sum], [3, 3]);
    assert.deepEqual([perRpc('rpc.client.requests_per_rpc', 'Echo').sum, perRpc('rpc.client.responses_per_rpc', 'Echo').sum], [2, 2]);
    assert.deepEqual([perRpc('rpc.server.requests_per_rpc', 'Fail').sum, perRpc('rpc.server.responses_per_rpc', 'Fail').sum], [1, 0]);
  });

  it('a client with serializers records each message\'s serialized size, in the size histograms and the message events, for all four kinds', async () => {
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const server = await startServer(
      {
        Echo: unaryUnaryRpcMethodHandler((r: string) => r + r, decode, encode),
        Count: unaryStreamRpcMethodHandler(function* (n: string) {
          for (let i = 1; i <= Number(n); i++) yield String(i);
        }, decode, encode),
        Sum: streamUnaryRpcMethodHandler(async (reqs: AsyncIterable<string>) => {
          let total = 0;
          for await (const r of reqs) total += Number(r);
          return String(total);
        }, decode, encode),
        Chat: streamStreamRpcMethodHandler(async function* (reqs: AsyncIterable<string>) {
          for await (const r of reqs) yield `${r}!`;
        }, decode, encode),
      },
      {},
      't.Svc',
    );
    const base = insecureChannel(server.address);
    cleanup.push(() => server.close(), () => base.close(), () => meterProvider.shutdown());
    // The interceptor sees strings: only the channel knows the sizes of the bytes it sends and reads.
    const channel = interceptChannel(base, openTelemetryClientInterceptor({ meterProvider, tracerProvider, messageEvents: true, semconvStability: 'old' }));
    assert.equal(await channel.unaryUnary('/t.Svc/Echo', encode, decode)('abc'), 'abcabc');
    const counted: string[] = [];
    for await (const r of channel.unaryStream('/t.Svc/Count', encode, decode)('3')) counted.push(r);
    assert.deepEqual(counted, ['1', '2', '3']);
    assert.equal(await channel.streamUnary('/t.Svc/Sum', encode, decode)(['1', '22']), '23');
    const chatted: string[] = [];
    for await (const r of channel.streamStream('/t.Svc/Chat', encode, decode)(['a', 'bb'])) chatted.push(r);
    assert.deepEqual(chatted, ['a!', 'bb!']);

    const metrics = (await reader.collect()).resourceMetrics.scopeMetrics.flatMap((x) => x.metrics);
    const sizes = (name: string, method: string) => {
      const v = histogram(metrics, name).dataPoints.find((p) => p.attributes['rpc.method'] === method)?.value;
      return v === undefined ? undefined : { count: v.count, sum: v.sum };
    };
    assert.deepEqual(sizes('rpc.client.request.size', 'Echo'), { count: 1, sum: 3 });
    assert.deepEqual(sizes('rpc.client.response.size', 'Echo'), { count: 1, sum: 6 });
    assert.deepEqual(sizes('rpc.client.request.size', 'Count'), { count: 1, sum: 1 });
    assert.deepEqual(sizes('rpc.client.response.size', 'Count'), { count: 3, sum: 3 });
    assert.deepEqual(sizes('rpc.client.request.size', 'Sum'), { count: 2, sum: 3 });
    assert.deepEqual(sizes('rpc.client.response.size', 'Sum'), { count: 1, sum: 2 });
    assert.deepEqual(sizes('rpc.client.request.size', 'Chat'), { count: 2, sum: 3 });
    assert.deepEqual(sizes('rpc.client.response.size', 'Chat'), { count: 2, sum: 5 });

    await eventually(() => exporter.getFinishedSpans().length === 4);
    const events = (name: string) =>
      exporter
        .getFinishedSpans()
        .find((x) => x.name === name)!
        .events.map((e) => [e.name, e.attributes?.['rpc.message.type'], e.attributes?.['rpc.message.id'], e.attributes?.['rpc.message.uncompressed_size']]);
    assert.deepEqual(events('t.Svc/Echo'), [
      ['rpc.message', 'SENT', 1, 3],
      ['rpc.message', 'RECEIVED', 1, 6],
    ]);
    assert.deepEqual(events('t.Svc/Count'), [
      ['rpc.message', 'SENT', 1, 1],
      ['rpc.message', 'RECEIVED', 1, 1],
      ['rpc.message', 'RECEIVED', 2, 1],
      ['rpc.message', 'RECEIVED', 3, 1],
    ]);
    const sum = events('t.Svc/Sum');
    assert.deepEqual(sum.filter((e) => e[1] === 'SENT'), [
      ['rpc.message', 'SENT', 1, 1],
      ['rpc.message', 'SENT', 2, 2],
    ]);
    assert.deepEqual(sum.filter((e) => e[1] === 'RECEIVED'), [['rpc.message', 'RECEIVED', 1, 2]]);
    const chat = events('t.Svc/Chat');
    assert.deepEqual(chat.filter((e) => e[1] === 'SENT'), [
      ['rpc.message', 'SENT', 1, 1],
      ['rpc.message', 'SENT', 2, 2],
    ]);
    assert.deepEqual(chat.filter((e) => e[1] === 'RECEIVED'), [
      ['rpc.message', 'RECEIVED', 1, 2],
      ['rpc.message', 'RECEIVED', 2, 3],
    ]);
  });

  it('a method the server lacks: rpc.method _OTHER on the server durations, old and stable, status UNIMPLEMENTED', async () => {
    const m = await measured('dup');
    const err = await m.call('Missing', 'x');
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, StatusCode.UNIMPLEMENTED);
    const metrics = await m.metrics();
    assert.deepEqual(histogram(metrics, 'rpc.server.duration').dataPoints.map((p) => p.attributes), [
      { 'rpc.system': 'grpc', 'rpc.service': '_OTHER', 'rpc.method': '_OTHER', 'rpc.grpc.status_code': StatusCode.UNIMPLEMENTED, 'error.type': 'UNIMPLEMENTED' },
    ]);
    assert.deepEqual(histogram(metrics, 'rpc.server.call.duration').dataPoints.map((p) => p.attributes), [
      { 'rpc.system.name': 'grpc', 'rpc.method': '_OTHER', 'rpc.status_code': 'UNIMPLEMENTED', 'error.type': 'UNIMPLEMENTED' },
    ]);
  });

  it('rpc: only rpc.server/client.call.duration, in seconds, with rpc.system.name, the full rpc.method and rpc.status_code', async () => {
    const m = await measured('stable');
    await m.call('Echo', 'abc');
    await m.call('Fail', 'x');
    const metrics = await m.metrics();
    assert.deepEqual(metrics.map((x) => x.descriptor.name).sort(), ['rpc.client.call.duration', 'rpc.server.call.duration']);
    const server = histogram(metrics, 'rpc.server.call.duration');
    assert.equal(server.descriptor.unit, 's');
    assert.deepEqual(server.dataPoints[0]!.value.buckets.boundaries, S_BUCKETS);
    const echo = server.dataPoints.find((p) => p.attributes['rpc.method'] === 't.Svc/Echo')!;
    assert.deepEqual(echo.attributes, { 'rpc.system.name': 'grpc', 'rpc.method': 't.Svc/Echo', 'rpc.status_code': 'OK' });
    assert.ok(echo.value.sum! < 5, `a local unary call takes well under 5 s, got ${echo.value.sum}`);
    const fail = histogram(metrics, 'rpc.client.call.duration').dataPoints.find((p) => p.attributes['rpc.method'] === 't.Svc/Fail')!;
    assert.deepEqual(fail.attributes, { 'rpc.system.name': 'grpc', 'rpc.method': 't.Svc/Fail', 'rpc.status_code': 'UNAVAILABLE', 'error.type': 'UNAVAILABLE', 'server.address': '127.0.0.1', 'server.port': m.port });
  });

  it('rpc/dup: the old and the stable durations both, each with its own attributes', async () => {
    const m = await measured('dup');
    await m.call('Echo', 'abc');
    const metrics = await m.metrics();
    const names = metrics.map((x) => x.descriptor.name);
    assert.ok(names.includes('rpc.server.duration') && names.includes('rpc.server.call.duration') && names.includes('rpc.client.duration') && names.includes('rpc.client.call.duration'), names.join(', '));
    assert.equal(histogram(metrics, 'rpc.server.duration').dataPoints[0]!.attributes['rpc.method'], 'Echo');
    assert.equal(histogram(metrics, 'rpc.server.call.duration').dataPoints[0]!.attributes['rpc.method'], 't.Svc/Echo');
  });
});
