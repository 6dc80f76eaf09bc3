import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { delay } from 'abort-controller-x';
import {
  Metadata,
  RpcError,
  StatusCode,
  inProcessChannel,
  interceptChannel,
  server,
  streamStreamRpcMethodHandler,
  streamUnaryRpcMethodHandler,
  unaryStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
  type ServerConfig,
  type ServicerContext,
} from '../../lib/index.js';
import { decode, defer, encode } from '../helpers/grpc.js';

// The in-process transport: the same semantics as a network call, with no socket.

const servers: Array<{ stop(grace: null): Promise<void> }> = [];
after(async () => {
  for (const s of servers) await s.stop(null);
});

function makeServer(config: ServerConfig = {}) {
  const srv = server({ onHandlerError: () => undefined, ...config });
  servers.push(srv);
  return srv;
}

async function rejection(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof RpcError, `expected an RpcError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

describe('inProcessChannel', () => {
  it('carries metadata both ways through the header encoding: -bin values as bytes, reserved keys dropped', async () => {
    const srv = makeServer();
    let seen: Metadata | undefined;
    srv.addRegisteredMethodHandlers('t.S', {
      Echo: unaryUnaryRpcMethodHandler((req: Uint8Array, ctx: ServicerContext) => {
        seen = ctx.invocationMetadata();
        ctx.sendInitialMetadata({ 'x-initial': 'hello' });
        ctx.setTrailingMetadata([['x-trail-bin', new Uint8Array([0, 255])], ['x-trail', 'a'], ['x-trail', 'b']]);
        return req;
      }),
    });
    const channel = inProcessChannel(srv);
    const md = new Metadata().add('x-text', 'v').add('x-raw-bin', new Uint8Array([1, 2, 3])).add('grpc-timeout', '1S');
    const result = await channel.unaryUnary('/t.S/Echo').withCall(encode('ping'), { metadata: md });
    assert.equal(decode(result.response), 'ping');
    assert.equal(seen!.get('x-text'), 'v');
    assert.deepEqual(Buffer.from(seen!.get('x-raw-bin') as Uint8Array), Buffer.from([1, 2, 3]));
    assert.equal(seen!.get('grpc-timeout'), undefined, 'reserved headers are not user metadata');
    assert.equal(result.initialMetadata.get('x-initial'), 'hello');
    assert.deepEqual(Buffer.from(result.trailingMetadata.get('x-trail-bin') as Uint8Array), Buffer.from([0, 255]));
    assert.deepEqual(result.trailingMetadata.getAll('x-trail'), ['a', 'b']);
  });

  it('serves a server that was never started, and answers UNAVAILABLE once it stopped', async () => {
    const srv = makeServer();
    srv.addRegisteredMethodHandlers('t.S', { Echo: unaryUnaryRpcMethodHandler((req: Uint8Array) => req) });
    const echo = inProcessChannel(srv).unaryUnary('/t.S/Echo');
    assert.equal(decode(await echo(encode('before start'))), 'before start');
    await srv.stop(null);
    const err = await rejection(echo(encode('after stop')));
    assert.equal(err.code, StatusCode.UNAVAILABLE);
  });

  it('answers UNIMPLEMENTED for a method nobody serves, and INTERNAL for a request that does not deserialize', async () => {
    const srv = makeServer();
    srv.addRegisteredMethodHandlers('t.S', {
      Strict: unaryUnaryRpcMethodHandler(
        (req: string) => req,
        (bytes) => {
          if (bytes.length === 0) throw new Error('empty');
          return decode(bytes);
        },
        encode,
      ),
    });
    const channel = inProcessChannel(srv);
    assert.equal((await rejection(channel.unaryUnary('/t.S/Missing')(encode('x')))).code, StatusCode.UNIMPLEMENTED);
    assert.equal((await rejection(channel.unaryUnary('/t.S/Strict')(new Uint8Array(0)))).code, StatusCode.INTERNAL);
  });

  it('runs all four kinds', async () => {
    const srv = makeServer();
    srv.addRegisteredMethodHandlers('t.S', {
      Unary: unaryUnaryRpcMethodHandler((req: string) => `u:${req}`, decode, encode),
      Server: unaryStreamRpcMethodHandler(function* (req: string) {
        yield `${req}1`;
        yield `${req}2`;
      }, decode, encode),
      Client: streamUnaryRpcMethodHandler(async (reqs: AsyncIterable<string>) => {
        const all: string[] = [];
        for await (const r of reqs) all.push(r);
        return all.join('+');
      }, decode, encode),
      Bidi: streamStreamRpcMethodHandler(async function* (reqs: AsyncIterable<string>) {
        for await (const r of reqs) yield r.toUpperCase();
      }, decode, encode),
    });
    const channel = inProcessChannel(srv);
    assert.equal(await channel.unaryUnary('/t.S/Unary', encode, decode)('a'), 'u:a');
    const streamed: string[] = [];
    for await (const m of channel.unaryStream('/t.S/Server', encode, decode)('s')) streamed.push(m);
    assert.deepEqual(streamed, ['s1', 's2']);
    assert.equal(await channel.streamUnary('/t.S/Client', encode, decode)(['x', 'y', 'z']), 'x+y+z');
    const echoed: string[] = [];
    for await (const m of channel.streamStream('/t.S/Bidi', encode, decode)(['p', 'q'])) echoed.push(m);
    assert.deepEqual(echoed, ['P', 'Q']);
  });

  it('ends a call past its deadline DEADLINE_EXCEEDED, and the handler signal aborts', async () => {
    const srv = makeServer();
    const aborted = defer<unknown>();
    srv.addRegisteredMethodHandlers('t.S', {
      Slow: unaryUnaryRpcMethodHandler(async (_req: Uint8Array, ctx: ServicerContext) => {
        ctx.signal.addEventListener('abort', () => aborted.resolve(ctx.signal.reason));
        await delay(ctx.signal, 10_000);
        return new Uint8Array(0);
      }),
    });
    const started = Date.now();
    const err = await rejection(inProcessChannel(srv).unaryUnary('/t.S/Slow')(encode('x'), { timeout: 0.1 }));
    assert.equal(err.code, StatusCode.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < 2000);
    const reason = await aborted;
    assert.ok(reason instanceof RpcError);
    assert.ok(([StatusCode.DEADLINE_EXCEEDED, StatusCode.CANCELLED] as StatusCode[]).includes((reason as RpcError).code));
  });

  it('a client cancel aborts the handler (CANCELLED) and its generator cleans up; a server cancel ends the client CANCELLED', async () => {
    const srv = makeServer();
    const cleaned = defer<RpcError>();
    srv.addRegisteredMethodHandlers('t.S', {
      Ticks: unaryStreamRpcMethodHandler(async function* (_req: Uint8Array, ctx: ServicerContext) {
        try {
          for (let i = 0; ; i++) {
            yield encode(String(i));
            await delay(ctx.signal, 5);
          }
        } finally {
          cleaned.resolve(ctx.signal.reason as RpcError);
        }
      }),
      Cancels: unaryUnaryRpcMethodHandler(async (_req: Uint8Array, ctx: ServicerContext) => {
        ctx.cancel();
        await delay(ctx.signal, 10_000);
        return new Uint8Array(0);
      }),
    });
    const channel = inProcessChannel(srv);
    const controller = new AbortController();
    const call = channel.unaryStream('/t.S/Ticks')(encode('go'), { signal: controller.signal });
    let received = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of call) if (++received === 3) controller.abort();
      })(),
      (err: unknown) => err instanceof RpcError && err.code === StatusCode.CANCELLED,
    );
    assert.equal((await cleaned).code, StatusCode.CANCELLED);
    assert.equal((await rejection(channel.unaryUnary('/t.S/Cancels')(encode('x')))).code, StatusCode.CANCELLED);
  });

  it('applies the server receive limit and the client receive limit: RESOURCE_EXHAUSTED', async () => {
    const srv = makeServer({ options: { 'grpc.max_receive_message_length': 16 } });
    srv.addRegisteredMethodHandlers('t.S', {
      Echo: unaryUnaryRpcMethodHandler((req: Uint8Array) => req),
      Big: unaryUnaryRpcMethodHandler(() => new Uint8Array(64)),
    });
    const err = await rejection(inProcessChannel(srv).unaryUnary('/t.S/Echo')(new Uint8Array(17)));
    assert.equal(err.code, StatusCode.RESOURCE_EXHAUSTED);
    const small = inProcessChannel(srv, { options: { 'grpc.max_receive_message_length': 32 } });
    assert.equal((await rejection(small.unaryUnary('/t.S/Big')(new Uint8Array(1)))).code, StatusCode.RESOURCE_EXHAUSTED);
  });

  it('pauses a fast producer while the consumer does not read, both ways', async () => {
    const srv = makeServer();
    let produced = 0;
    const serverDone = defer<void>();
    let pulled = 0;
    srv.addRegisteredMethodHandlers('t.S', {
      Firehose: unaryStreamRpcMethodHandler(async function* () {
        try {
          for (;;) {
            produced++;
            yield new Uint8Array(1024);
          }
        } finally {
          serverDone.resolve();
        }
      }),
      Sink: streamUnaryRpcMethodHandler(async (_reqs: AsyncIterable<Uint8Array>, ctx: ServicerContext) => {
        await delay(ctx.signal, 10_000); // never reads
        return new Uint8Array(0);
      }),
    });
    const channel = inProcessChannel(srv);
    const call = channel.unaryStream('/t.S/Firehose')(encode('go'));
    const it = call[Symbol.asyncIterator]();
    await it.next();
    await new Promise((r) => setTimeout(r, 50));
    // 64 KiB window of 1 KiB messages, plus the one in flight: far from unbounded.
    assert.ok(produced < 80, `the generator ran ahead by ${produced} messages`);
    await it.return!();
    await serverDone;

    const controller = new AbortController();
    async function* requests(): AsyncGenerator<Uint8Array> {
      for (;;) {
        pulled++;
        yield new Uint8Array(1024);
      }
    }
    const upload = channel.streamUnary('/t.S/Sink')(requests(), { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(pulled < 80, `the client pulled ${pulled} requests the server never read`);
    controller.abort();
    assert.equal((await rejection(upload)).code, StatusCode.CANCELLED);
  });

  it('runs client and server interceptors around the call', async () => {
    const order: string[] = [];
    const srv = makeServer({
      interceptors: [
        {
          interceptService(continuation, details) {
            order.push(`server:${details.invocationMetadata.get('x-from-client') as string}`);
            return continuation(details);
          },
        },
      ],
    });
    srv.addRegisteredMethodHandlers('t.S', { Echo: unaryUnaryRpcMethodHandler((req: Uint8Array) => req) });
    const channel = interceptChannel(inProcessChannel(srv), async function* (details, requests, next) {
      order.push('client');
      yield* next({ ...details, options: { ...details.options, metadata: { 'x-from-client': 'yes' } } }, requests);
    });
    assert.equal(decode(await channel.unaryUnary('/t.S/Echo')(encode('x'))), 'x');
    assert.deepEqual(order, ['client', 'server:yes']);
  });

  it('is READY at once, so waitForReady calls and channel.waitForReady() go through', async () => {
    const srv = makeServer();
    srv.addRegisteredMethodHandlers('t.S', { Echo: unaryUnaryRpcMethodHandler((req: Uint8Array) => req) });
    const channel = inProcessChannel(srv);
    assert.equal(channel.getState(), 'READY');
    await channel.waitForReady();
    assert.equal(decode(await channel.unaryUnary('/t.S/Echo')(encode('w'), { waitForReady: true, timeout: 1 })), 'w');
    channel.close();
    assert.equal(channel.getState(), 'SHUTDOWN');
  });

  it('with serialize: false, hands the very objects over and runs no codec', async () => {
    const srv = makeServer();
    const request = { name: 'same object' };
    let got: unknown;
    const reply = { message: 'reply object' };
    const never = (): never => {
      throw new Error('no codec may run');
    };
    srv.addRegisteredMethodHandlers('t.S', {
      Hello: unaryUnaryRpcMethodHandler((req: unknown) => {
        got = req;
        return reply;
      }, never, never),
      List: unaryStreamRpcMethodHandler(function* () {
        yield reply;
        yield reply;
      }, never, never),
    });
    const channel = inProcessChannel(srv, { serialize: false });
    assert.equal(await channel.unaryUnary<unknown, unknown>('/t.S/Hello', never, never)(request), reply);
    assert.equal(got, request);
    const all: unknown[] = [];
    for await (const m of channel.unaryStream<unknown, unknown>('/t.S/List', never, never)(request)) all.push(m);
    assert.deepEqual(all, [reply, reply]);
  });

  it('refuses what is not a server', () => {
    assert.throws(() => inProcessChannel({} as never), TypeError);
    assert.throws(() => inProcessChannel(makeServer(), { serialize: 'no' as never }), TypeError);
  });
});
