import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { delay } from 'abort-controller-x';
import {
  RpcError,
  StatusCode,
  insecureChannel,
  interceptChannel,
  streamStreamRpcMethodHandler,
  streamUnaryRpcMethodHandler,
  unaryStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
  type InterceptedChannel,
} from '../../lib/index.js';
import { openTelemetryClientInterceptor, openTelemetryServerInterceptor, type OpenTelemetryOptions } from '../../lib/opentelemetry/index.js';
import { decode, defer, encode, eventually, startServer, type TestServer } from '../helpers/grpc.js';

const exporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

before(() => {
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});
after(() => {
  context.disable();
  propagation.disable();
});

const cleanup: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
const spanOf = (name: string, kind: SpanKind): ReadableSpan => {
  const found = spans().find((s) => s.name === name && s.kind === kind);
  assert.ok(found, `no ${SpanKind[kind]} span "${name}" in [${spans().map((s) => `${SpanKind[s.kind]} ${s.name}`).join(', ')}]`);
  return found;
};
const parentId = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;

async function traced(handlers: Parameters<typeof startServer>[0], options: OpenTelemetryOptions = {}): Promise<{ server: TestServer; channel: InterceptedChannel }> {
  const server = await startServer(handlers, { interceptors: [openTelemetryServerInterceptor({ tracerProvider, ...options })] }, 't.Svc');
  const base = insecureChannel(server.address);
  const channel = interceptChannel(base, openTelemetryClientInterceptor({ tracerProvider, target: server.address, ...options }));
  cleanup.push(() => server.close(), () => base.close());
  return { server, channel };
}

describe('OpenTelemetry spans', () => {
  beforeEach(() => exporter.reset());

  it('a unary call makes a CLIENT span and a SERVER span in one trace, the server span the child, with the conventions\' attributes', async () => {
    const { server, channel } = await traced({ Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode) });
    assert.equal(decode(await channel.unaryUnary('/t.Svc/Echo')(encode('hi'))), 'hi');
    await eventually(() => spans().length === 2);
    const client = spanOf('t.Svc/Echo', SpanKind.CLIENT);
    const srv = spanOf('t.Svc/Echo', SpanKind.SERVER);
    assert.equal(srv.spanContext().traceId, client.spanContext().traceId);
    assert.equal(parentId(srv), client.spanContext().spanId);
    assert.equal(parentId(client), undefined);
    assert.deepEqual(client.attributes, {
      'rpc.system': 'grpc',
      'rpc.service': 't.Svc',
      'rpc.method': 'Echo',
      'server.address': '127.0.0.1',
      'server.port': server.port,
      'rpc.grpc.status_code': 0,
    });
    assert.equal(srv.attributes['rpc.system'], 'grpc');
    assert.equal(srv.attributes['rpc.service'], 't.Svc');
    assert.equal(srv.attributes['rpc.method'], 'Echo');
    assert.equal(srv.attributes['rpc.grpc.status_code'], 0);
    assert.equal(srv.attributes['network.peer.address'], '127.0.0.1');
    assert.equal(typeof srv.attributes['network.peer.port'], 'number');
    assert.equal(srv.attributes['error.type'], undefined);
    assert.equal(client.status.code, SpanStatusCode.UNSET);
    assert.equal(srv.status.code, SpanStatusCode.UNSET);
    assert.deepEqual(client.events, [], 'message events are off by default');
  });

  it('the SERVER span names the host and port the client addressed (:authority) as server.address and server.port', async () => {
    const { server, channel } = await traced({ Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode) });
    await channel.unaryUnary('/t.Svc/Echo')(encode('hi'));
    const named = insecureChannel(server.address, { 'grpc.default_authority': 'api.example.com:8443' });
    cleanup.push(() => named.close());
    await interceptChannel(named, openTelemetryClientInterceptor({ tracerProvider })).unaryUnary('/t.Svc/Echo')(encode('hi'));
    await eventually(() => spans().filter((s) => s.kind === SpanKind.SERVER).length === 2);
    const [byTarget, byAuthority] = spans().filter((s) => s.kind === SpanKind.SERVER);
    assert.equal(byTarget!.attributes['server.address'], '127.0.0.1');
    assert.equal(byTarget!.attributes['server.port'], server.port);
    assert.equal(byAuthority!.attributes['server.address'], 'api.example.com');
    assert.equal(byAuthority!.attributes['server.port'], 8443);
  });

  it('server-streaming, client-streaming and bidi spans end when their streams end, with message events when asked', async () => {
    const { channel } = await traced(
      {
        Count: unaryStreamRpcMethodHandler(function* (n: string) {
          for (let i = 1; i <= Number(n); i++) yield String(i);
        }, decode, encode),
        Sum: streamUnaryRpcMethodHandler(async (reqs: AsyncIterable<string>) => {
          let total = 0;
          for await (const r of reqs) total += Number(r);
          return String(total);
        }, decode, encode),
        Chat: streamStreamRpcMethodHandler(async function* (reqs: AsyncIterable<string>) {
          for await (const r of reqs) yield r.toUpperCase();
        }, decode, encode),
      },
      { messageEvents: true },
    );
    const counted: string[] = [];
    for await (const m of channel.unaryStream('/t.Svc/Count')(encode('3'))) counted.push(decode(m));
    assert.deepEqual(counted, ['1', '2', '3']);
    assert.equal(decode(await channel.streamUnary('/t.Svc/Sum')([encode('2'), encode('5')])), '7');
    const chat: string[] = [];
    for await (const m of channel.streamStream('/t.Svc/Chat')([encode('a'), encode('b')])) chat.push(decode(m));
    assert.deepEqual(chat, ['A', 'B']);
    await eventually(() => spans().length === 6);
    const events = (s: ReadableSpan) => s.events.filter((e) => e.name === 'rpc.message').map((e) => `${String(e.attributes?.['rpc.message.type'])}#${String(e.attributes?.['rpc.message.id'])}:${String(e.attributes?.['rpc.message.uncompressed_size'])}`);
    assert.deepEqual(events(spanOf('t.Svc/Count', SpanKind.SERVER)), ['RECEIVED#1:1', 'SENT#1:1', 'SENT#2:1', 'SENT#3:1']);
    assert.deepEqual(events(spanOf('t.Svc/Count', SpanKind.CLIENT)), ['SENT#1:1', 'RECEIVED#1:1', 'RECEIVED#2:1', 'RECEIVED#3:1']);
    assert.deepEqual(events(spanOf('t.Svc/Sum', SpanKind.SERVER)), ['RECEIVED#1:1', 'RECEIVED#2:1', 'SENT#1:1']);
    assert.deepEqual(events(spanOf('t.Svc/Chat', SpanKind.SERVER)).sort(), ['RECEIVED#1:1', 'RECEIVED#2:1', 'SENT#1:1', 'SENT#2:1']);
    for (const s of spans()) assert.equal(s.attributes['rpc.grpc.status_code'], 0, `${s.name} ${SpanKind[s.kind]}`);
  });

  it('NOT_FOUND is an error on the client span only; an exception is recorded on the server span and never reaches the client', async () => {
    const { channel } = await traced({
      Find: unaryUnaryRpcMethodHandler((_r: string, ctx) => ctx.abort(StatusCode.NOT_FOUND, 'Cannot find: no such thing'), decode, encode),
      Crash: unaryUnaryRpcMethodHandler(() => {
        throw new Error('secret database password in this message');
      }, decode, encode),
    });
    await assert.rejects(channel.unaryUnary('/t.Svc/Find')(encode('x')), (e: RpcError) => e.code === StatusCode.NOT_FOUND);
    const crash = await channel.unaryUnary('/t.Svc/Crash')(encode('x')).then(
      () => assert.fail('Crash answered'),
      (e: RpcError) => e,
    );
    assert.equal(crash.code, StatusCode.UNKNOWN);
    assert.doesNotMatch(crash.details, /secret/);
    await eventually(() => spans().length === 4);
    const findServer = spanOf('t.Svc/Find', SpanKind.SERVER);
    const findClient = spanOf('t.Svc/Find', SpanKind.CLIENT);
    assert.equal(findServer.status.code, SpanStatusCode.UNSET);
    assert.equal(findServer.attributes['rpc.grpc.status_code'], StatusCode.NOT_FOUND);
    assert.equal(findServer.attributes['error.type'], undefined);
    assert.deepEqual(findClient.status, { code: SpanStatusCode.ERROR, message: 'Cannot find: no such thing' });
    assert.equal(findClient.attributes['error.type'], 'NOT_FOUND');
    const crashServer = spanOf('t.Svc/Crash', SpanKind.SERVER);
    assert.equal(crashServer.status.code, SpanStatusCode.ERROR);
    assert.equal(crashServer.attributes['rpc.grpc.status_code'], StatusCode.UNKNOWN);
    assert.equal(crashServer.attributes['error.type'], 'UNKNOWN');
    const exception = crashServer.events.find((e) => e.name === 'exception');
    assert.equal(exception?.attributes?.['exception.message'], 'secret database password in this message');
    assert.equal(spanOf('t.Svc/Crash', SpanKind.CLIENT).events.length, 0, 'the client span records no exception it never saw');
  });

  it('a deadline ends the client span DEADLINE_EXCEEDED with ERROR, and the server span with the status the server saw', async () => {
    const { channel } = await traced({
      Slow: unaryUnaryRpcMethodHandler(async (r: string, ctx) => {
        await delay(ctx.signal, 10_000);
        return r;
      }, decode, encode),
    });
    await assert.rejects(channel.unaryUnary('/t.Svc/Slow')(encode('x'), { timeout: 0.1 }), (e: RpcError) => e.code === StatusCode.DEADLINE_EXCEEDED);
    await eventually(() => spans().length === 2);
    const client = spanOf('t.Svc/Slow', SpanKind.CLIENT);
    assert.equal(client.attributes['rpc.grpc.status_code'], StatusCode.DEADLINE_EXCEEDED);
    assert.equal(client.status.code, SpanStatusCode.ERROR);
    // The server's own deadline and the client's reset at the same instant race: the server
    // span says which one ended the call, an error only when it was the deadline.
    const srv = spanOf('t.Svc/Slow', SpanKind.SERVER);
    const code = srv.attributes['rpc.grpc.status_code'];
    assert.ok(code === StatusCode.DEADLINE_EXCEEDED || code === StatusCode.CANCELLED, `server code ${String(code)}`);
    assert.equal(srv.status.code, code === StatusCode.DEADLINE_EXCEEDED ? SpanStatusCode.ERROR : SpanStatusCode.UNSET);
  });

  it('leaving a server stream early ends both spans CANCELLED, when the stream ends', async () => {
    const serverDone = defer<void>();
    const { channel } = await traced({
      Forever: unaryStreamRpcMethodHandler(async function* (_r: string, ctx) {
        ctx.addCallback(() => serverDone.resolve());
        for (let i = 0; ; i++) {
          yield String(i);
          await delay(ctx.signal, 1);
        }
      }, decode, encode),
    });
    for await (const m of channel.unaryStream('/t.Svc/Forever')(encode('x'))) {
      assert.equal(decode(m), '0');
      assert.equal(spans().length, 0, 'no span ends while the stream is open');
      break;
    }
    await serverDone;
    await eventually(() => spans().length === 2);
    assert.equal(spanOf('t.Svc/Forever', SpanKind.CLIENT).attributes['rpc.grpc.status_code'], StatusCode.CANCELLED);
    const srv = spanOf('t.Svc/Forever', SpanKind.SERVER);
    assert.equal(srv.attributes['rpc.grpc.status_code'], StatusCode.CANCELLED);
    assert.equal(srv.status.code, SpanStatusCode.UNSET, 'CANCELLED is not the server\'s error');
  });

  it('calls made from sync, async and generator handlers (between yields, and with { parent: context } where the async context is lost) are children of the handler\'s span', async () => {
    const backend = await traced({ Leaf: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode) });
    const leaf = backend.channel.unaryUnary('/t.Svc/Leaf');
    const innerIds: Record<string, string | undefined> = {};
    const { channel } = await traced({
      Sync: unaryUnaryRpcMethodHandler((r: string) => {
        innerIds.Sync = trace.getActiveSpan()?.spanContext().spanId;
        return r;
      }, decode, encode),
      Async: unaryUnaryRpcMethodHandler(async (r: string) => {
        await new Promise((resolve) => setImmediate(resolve));
        return decode(await leaf(encode(`async ${r}`)));
      }, decode, encode),
      Gen: unaryStreamRpcMethodHandler(async function* (r: string) {
        yield 'first';
        // The body resumes here only when the server pulls the next response.
        yield decode(await leaf(encode(`gen ${r}`)));
      }, decode, encode),
      SyncGen: unaryStreamRpcMethodHandler(function* (r: string) {
        yield 'first';
        innerIds.SyncGen = trace.getActiveSpan()?.spanContext().spanId;
        yield r;
      }, decode, encode),
      Parent: unaryUnaryRpcMethodHandler((r: string, ctx) =>
        // A library that loses the async context: only { parent } links the call.
        context.with(ROOT_CONTEXT, async () => decode(await backend.channel.unaryUnary('/t.Svc/Leaf')(encode(`parent ${r}`), { parent: ctx }))),
      decode, encode),
    });
    assert.equal(decode(await channel.unaryUnary('/t.Svc/Sync')(encode('s'))), 's');
    assert.equal(decode(await channel.unaryUnary('/t.Svc/Async')(encode('a'))), 'async a');
    const gen: string[] = [];
    for await (const m of channel.unaryStream('/t.Svc/Gen')(encode('g'))) gen.push(decode(m));
    assert.deepEqual(gen, ['first', 'gen g']);
    const syncGen: string[] = [];
    for await (const m of channel.unaryStream('/t.Svc/SyncGen')(encode('y'))) syncGen.push(decode(m));
    assert.deepEqual(syncGen, ['first', 'y']);
    assert.equal(decode(await channel.unaryUnary('/t.Svc/Parent')(encode('p'))), 'parent p');
    await eventually(() => spans().length === 16);
    assert.equal(innerIds.Sync, spanOf('t.Svc/Sync', SpanKind.SERVER).spanContext().spanId);
    assert.equal(innerIds.SyncGen, spanOf('t.Svc/SyncGen', SpanKind.SERVER).spanContext().spanId);
    const leafClients = spans().filter((s) => s.name === 't.Svc/Leaf' && s.kind === SpanKind.CLIENT);
    const leafServers = spans().filter((s) => s.name === 't.Svc/Leaf' && s.kind === SpanKind.SERVER);
    assert.equal(leafClients.length, 3);
    for (const method of ['Async', 'Gen', 'Parent']) {
      const outer = spanOf(`t.Svc/${method}`, SpanKind.SERVER);
      const child = leafClients.find((s) => parentId(s) === outer.spanContext().spanId);
      assert.ok(child, `the Leaf call from ${method} is a child of its server span`);
      assert.equal(child.spanContext().traceId, outer.spanContext().traceId);
      const grandchild = leafServers.find((s) => parentId(s) === child.spanContext().spanId);
      assert.ok(grandchild, `the Leaf server span under ${method} is a child of the Leaf client span`);
    }
  });

  it('with the stable conventions (rpc), spans carry rpc.system.name, the full rpc.method and rpc.status_code; with rpc/dup, both sets', async () => {
    const stable = await traced({ Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode) }, { semconvStability: 'stable' });
    await stable.channel.unaryUnary('/t.Svc/Echo')(encode('x'));
    await eventually(() => spans().length === 2);
    assert.deepEqual(spanOf('t.Svc/Echo', SpanKind.CLIENT).attributes, {
      'rpc.system.name': 'grpc',
      'rpc.method': 't.Svc/Echo',
      'server.address': '127.0.0.1',
      'server.port': stable.server.port,
      'rpc.status_code': 'OK',
    });
    exporter.reset();
    const dup = await traced({ Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode) }, { semconvStability: 'dup' });
    await dup.channel.unaryUnary('/t.Svc/Echo')(encode('x'));
    await eventually(() => spans().length === 2);
    const srv = spanOf('t.Svc/Echo', SpanKind.SERVER).attributes;
    assert.deepEqual(
      [srv['rpc.system'], srv['rpc.service'], srv['rpc.system.name'], srv['rpc.method'], srv['rpc.grpc.status_code'], srv['rpc.status_code']],
      ['grpc', 't.Svc', 'grpc', 't.Svc/Echo', 0, 'OK'],
    );
  });

  it('a method the server lacks: with the stable conventions the SERVER span is named grpc, rpc.method _OTHER, rpc.method_original the path', async () => {
    const { channel } = await traced({ Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode) }, { semconvStability: 'stable' });
    await assert.rejects(channel.unaryUnary('/t.Svc/Missing')(encode('x')), (e: unknown) => e instanceof RpcError && e.code === StatusCode.UNIMPLEMENTED && e.details === 'Method not found: /t.Svc/Missing');
    await eventually(() => spans().length === 2);
    const srv = spanOf('grpc', SpanKind.SERVER);
    assert.equal(srv.attributes['rpc.method'], '_OTHER');
    assert.equal(srv.attributes['rpc.method_original'], 't.Svc/Missing');
    assert.equal(srv.attributes['rpc.status_code'], 'UNIMPLEMENTED');
    assert.equal(srv.status.code, SpanStatusCode.ERROR);
    assert.equal(parentId(srv), spanOf('t.Svc/Missing', SpanKind.CLIENT).spanContext().spanId);
  });

  it('the filter leaves a method untraced, and its calls still work', async () => {
    const { channel } = await traced({ Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode), Health: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode) }, { filter: (m) => m !== '/t.Svc/Health' });
    assert.equal(decode(await channel.unaryUnary('/t.Svc/Health')(encode('h'))), 'h');
    assert.equal(decode(await channel.unaryUnary('/t.Svc/Echo')(encode('e'))), 'e');
    await eventually(() => spans().length === 2);
    assert.deepEqual(spans().map((s) => s.name), ['t.Svc/Echo', 't.Svc/Echo']);
  });

  it('baggage crosses the call when the global propagator includes it, and reaches the handler', async () => {
    propagation.disable();
    propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
    try {
      const { channel } = await traced({ Tenant: unaryUnaryRpcMethodHandler(() => propagation.getActiveBaggage()?.getEntry('tenant')?.value ?? 'none', decode, encode) });
      const withBaggage = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ tenant: { value: 'acme' } }));
      assert.equal(decode(await context.with(withBaggage, () => channel.unaryUnary('/t.Svc/Tenant')(encode('')))), 'acme');
      assert.equal(decode(await channel.unaryUnary('/t.Svc/Tenant')(encode(''))), 'none');
    } finally {
      propagation.disable();
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    }
  });

  it('an uninstrumented server sees a W3C traceparent naming the client span', async () => {
    const seen = defer<string | undefined>();
    const plain = await startServer({ Echo: unaryUnaryRpcMethodHandler((r: string, ctx) => (seen.resolve(ctx.invocationMetadata().get('traceparent') as string | undefined), r), decode, encode) }, {}, 't.Svc');
    const base = insecureChannel(plain.address);
    cleanup.push(() => plain.close(), () => base.close());
    await interceptChannel(base, openTelemetryClientInterceptor({ tracerProvider })).unaryUnary('/t.Svc/Echo')(encode('x'));
    const client = spanOf('t.Svc/Echo', SpanKind.CLIENT);
    assert.equal(await seen, `00-${client.spanContext().traceId}-${client.spanContext().spanId}-01`);
  });
});
