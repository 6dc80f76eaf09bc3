import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { SpanKind, SpanStatusCode, context, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { insecureChannel, interceptChannel, unaryUnaryRpcMethodHandler } from '../../lib/index.js';
import { openTelemetryClientInterceptor, openTelemetryServerInterceptor } from '../../lib/opentelemetry/index.js';
import { decode, encode, eventually, startServer } from '../helpers/grpc.js';

interface PeerSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly attributes: Record<string, unknown>;
}

const PEER = new URL('./grpc-js-peer.cjs', import.meta.url).pathname;

/** Runs the traced grpc-js peer; collects its SPAN lines and the other lines it prints. */
function peer(...args: string[]): { child: ChildProcessWithoutNullStreams; spans: PeerSpan[]; lines: string[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [PEER, ...args], { stdio: 'pipe' });
  const spans: PeerSpan[] = [];
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('SPAN ')) spans.push(JSON.parse(line.slice(5)) as PeerSpan);
    else lines.push(line);
  });
  child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, spans, lines, exited };
}

const exporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
before(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});
after(() => {
  context.disable();
  propagation.disable();
});

describe('one trace across grpc-iter and @grpc/grpc-js with @opentelemetry/instrumentation-grpc', () => {
  it('a traced grpc-js client calling our server: our SERVER span is the child of its CLIENT span', async () => {
    exporter.reset();
    const server = await startServer({ Echo: unaryUnaryRpcMethodHandler((r: string) => `echo ${r}`, decode, encode) }, { interceptors: [openTelemetryServerInterceptor({ tracerProvider })] }, 't.Svc');
    after(() => server.close());
    const js = peer('client', String(server.port));
    assert.equal(await js.exited, 0);
    assert.deepEqual(js.lines, ['REPLY echo from grpc-js']);
    const theirs = js.spans.find((s) => s.kind === SpanKind.CLIENT);
    assert.ok(theirs, `grpc-js printed no CLIENT span: ${JSON.stringify(js.spans)}`);
    assert.equal(theirs.attributes['rpc.service'], 't.Svc');
    await eventually(() => exporter.getFinishedSpans().length === 1);
    const ours = exporter.getFinishedSpans()[0]!;
    assert.equal(ours.kind, SpanKind.SERVER);
    assert.equal(ours.name, 't.Svc/Echo');
    assert.equal(ours.spanContext().traceId, theirs.traceId);
    assert.equal(ours.parentSpanContext?.spanId, theirs.spanId);
  });

  it('a grpc-js client calling a method our traced server lacks gets the same UNIMPLEMENTED as without tracing, and the call has an ERROR span', async () => {
    exporter.reset();
    const handlers = { Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode) };
    const plain = await startServer(handlers, {}, 't.Svc');
    const traced = await startServer(handlers, { interceptors: [openTelemetryServerInterceptor({ tracerProvider })] }, 't.Svc');
    after(() => Promise.all([plain.close(), traced.close()]));
    const [untraced, tracedRun] = [peer('client-missing', String(plain.port)), peer('client-missing', String(traced.port))];
    assert.deepEqual([await untraced.exited, await tracedRun.exited], [0, 0]);
    assert.deepEqual(untraced.lines, ['STATUS 12 Method not found: /t.Svc/Missing']);
    assert.deepEqual(tracedRun.lines, untraced.lines);
    const theirs = tracedRun.spans.find((s) => s.kind === SpanKind.CLIENT);
    assert.ok(theirs, `grpc-js printed no CLIENT span: ${JSON.stringify(tracedRun.spans)}`);
    await eventually(() => exporter.getFinishedSpans().length === 1);
    const ours = exporter.getFinishedSpans()[0]!;
    assert.equal(ours.kind, SpanKind.SERVER);
    assert.equal(ours.name, 't.Svc/Missing');
    assert.equal(ours.parentSpanContext?.spanId, theirs.spanId);
    assert.equal(ours.attributes['rpc.grpc.status_code'], 12);
    assert.equal(ours.attributes['error.type'], 'UNIMPLEMENTED');
    assert.deepEqual(ours.status, { code: SpanStatusCode.ERROR, message: 'Method not found: /t.Svc/Missing' });
  });

  it('our traced client calling a traced grpc-js server: its SERVER span is the child of our CLIENT span', async () => {
    exporter.reset();
    const js = peer('server');
    after(() => js.child.kill());
    await eventually(() => js.lines.some((l) => l.startsWith('PORT ')), 10_000, 'the grpc-js server to listen');
    const target = `127.0.0.1:${js.lines.find((l) => l.startsWith('PORT '))!.slice(5)}`;
    const base = insecureChannel(target);
    after(() => base.close());
    const channel = interceptChannel(base, openTelemetryClientInterceptor({ tracerProvider, target }));
    assert.equal(decode(await channel.unaryUnary('/t.Svc/Echo')(encode('from grpc-iter'))), 'from grpc-iter');
    await eventually(() => js.spans.some((s) => s.kind === SpanKind.SERVER), 5_000, 'the grpc-js SERVER span');
    const theirs = js.spans.find((s) => s.kind === SpanKind.SERVER)!;
    const ours = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.CLIENT);
    assert.ok(ours);
    assert.equal(theirs.traceId, ours.spanContext().traceId);
    assert.equal(theirs.parentSpanId, ours.spanContext().spanId);
    js.child.stdin.end();
    assert.equal(await js.exited, 0);
  });
});
