import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import {
  Metadata,
  RpcError,
  StatusCode,
  server,
  streamStreamRpcMethodHandler,
  streamUnaryRpcMethodHandler,
  unaryStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
  type ServerCallKind,
  type ServerInterceptor,
  type ServicerContext,
} from '../../lib/index.js';
import { loggingInterceptor, type RpcLogEntry } from '../../lib/interceptors/index.js';
import { decode, defer, encode, jsClient, startServer, type CallResult, type Deferred, type JsClient, type Kind, type TestServer } from '../helpers/grpc.js';

// One method of each kind, with string messages; `ran` counts handler starts.
const methods: Record<string, Kind> = { Echo: 'unary', Repeat: 'serverStream', Join: 'clientStream', Chat: 'bidi' };
let ran = 0;
const handlers = {
  Echo: unaryUnaryRpcMethodHandler((r: string) => {
    ran++;
    return `echo:${r}`;
  }, decode, encode),
  Repeat: unaryStreamRpcMethodHandler(async function* (r: string) {
    ran++;
    yield `${r}#1`;
    yield `${r}#2`;
  }, decode, encode),
  Join: streamUnaryRpcMethodHandler(async (reqs: AsyncIterable<string>) => {
    ran++;
    const all: string[] = [];
    for await (const r of reqs) all.push(r);
    return all.join('+');
  }, decode, encode),
  Chat: streamStreamRpcMethodHandler(async function* (reqs: AsyncIterable<string>) {
    ran++;
    for await (const r of reqs) yield `chat:${r}`;
  }, decode, encode),
};

/** Calls each kind once with requests 'a' (and 'b' where the client streams). */
async function callEach(client: JsClient, metadata?: grpc.Metadata): Promise<Record<string, CallResult<string | string[]>>> {
  return {
    Echo: await client.unary('Echo', 'a', metadata),
    Repeat: await client.serverStream('Repeat', 'a', metadata),
    Join: await client.clientStream('Join', ['a', 'b'], metadata),
    Chat: await client.bidi('Chat', ['a', 'b'], metadata),
  };
}

/** Each call's status code, by method. */
const codes = (results: Record<string, CallResult<unknown>>): Record<string, grpc.status | undefined> =>
  Object.fromEntries(Object.entries(results).map(([name, r]) => [name, r.status?.code]));

describe('interceptCall: requests in, responses out, for every kind', () => {
  const servers: TestServer[] = [];
  const clients: JsClient[] = [];
  after(async () => {
    for (const c of clients) c.close();
    for (const s of servers) await s.close();
  });
  async function serve(interceptors: ServerInterceptor[], onHandlerError?: (error: unknown, method: string) => void): Promise<JsClient> {
    const s = await startServer(handlers, { interceptors, ...(onHandlerError === undefined ? {} : { onHandlerError }) });
    servers.push(s);
    const client = jsClient(s.address, methods);
    clients.push(client);
    return client;
  }

  it('maps each request and each response, and the client sees the mapped messages', async () => {
    const shout: ServerInterceptor = {
      async *interceptCall(_kind, requests, _context, next) {
        async function* upper(): AsyncGenerator<string> {
          for await (const r of requests) yield (r as string).toUpperCase();
        }
        for await (const response of next(upper())) yield `[${response as string}]`;
      },
    };
    const r = await callEach(await serve([shout]));
    assert.equal(r.Echo!.value, '[echo:A]');
    assert.deepEqual(r.Repeat!.value, ['[A#1]', '[A#2]']);
    assert.equal(r.Join!.value, '[A+B]');
    assert.deepEqual(r.Chat!.value, ['[chat:A]', '[chat:B]']);
    assert.deepEqual(codes(r), { Echo: grpc.status.OK, Repeat: grpc.status.OK, Join: grpc.status.OK, Chat: grpc.status.OK });
  });

  it('counts the messages of each call, sees its kind, and sees what the handler threw', async () => {
    interface Seen {
      method: string;
      kind: ServerCallKind;
      requests: number;
      responses: number;
      error?: number;
    }
    const seen: Seen[] = [];
    const counter: ServerInterceptor = {
      async *interceptCall(kind, requests, context, next) {
        const entry: Seen = { method: context.method, kind: { ...kind }, requests: 0, responses: 0 };
        async function* counted(): AsyncGenerator<unknown> {
          for await (const r of requests) {
            entry.requests++;
            yield r;
          }
        }
        try {
          for await (const response of next(counted())) {
            entry.responses++;
            yield response;
          }
        } catch (err) {
          entry.error = (err as RpcError).code;
          throw err;
        } finally {
          seen.push(entry);
        }
      },
    };
    const failing = {
      Fail: unaryUnaryRpcMethodHandler((_r: string, ctx: ServicerContext) => ctx.abort(StatusCode.NOT_FOUND, 'Cannot find: no such thing'), decode, encode),
      Break: streamStreamRpcMethodHandler(async function* (reqs: AsyncIterable<string>) {
        for await (const r of reqs) {
          yield r;
          throw new RpcError(StatusCode.FAILED_PRECONDITION, 'Cannot go on: broken');
        }
      }, decode, encode),
    };
    const s = await startServer({ ...handlers, ...failing }, { interceptors: [counter] });
    servers.push(s);
    const client = jsClient(s.address, { ...methods, Fail: 'unary', Break: 'bidi' });
    clients.push(client);
    const r = await callEach(client);
    assert.deepEqual(codes(r), { Echo: grpc.status.OK, Repeat: grpc.status.OK, Join: grpc.status.OK, Chat: grpc.status.OK });
    const fail = await client.unary('Fail', 'x');
    assert.equal(fail.error?.code, grpc.status.NOT_FOUND);
    assert.equal(fail.error?.details, 'Cannot find: no such thing');
    const broken = await client.bidi('Break', ['x', 'y']);
    assert.deepEqual(broken.value, ['x']);
    assert.equal(broken.status?.code, grpc.status.FAILED_PRECONDITION);
    assert.deepEqual(seen, [
      { method: '/test.Svc/Echo', kind: { requestStreaming: false, responseStreaming: false }, requests: 1, responses: 1 },
      { method: '/test.Svc/Repeat', kind: { requestStreaming: false, responseStreaming: true }, requests: 1, responses: 2 },
      { method: '/test.Svc/Join', kind: { requestStreaming: true, responseStreaming: false }, requests: 2, responses: 1 },
      { method: '/test.Svc/Chat', kind: { requestStreaming: true, responseStreaming: true }, requests: 2, responses: 2 },
      { method: '/test.Svc/Fail', kind: { requestStreaming: false, responseStreaming: false }, requests: 1, responses: 0, error: StatusCode.NOT_FOUND },
      { method: '/test.Svc/Break', kind: { requestStreaming: true, responseStreaming: true }, requests: 1, responses: 1, error: StatusCode.FAILED_PRECONDITION },
    ]);
  });

  it('an RpcError thrown before next is the status the client gets, and the handler never runs', async () => {
    const deny: ServerInterceptor = {
      // A generator that throws before its first yield: the failure shows on the first pull.
      async *interceptCall() {
        throw new RpcError(StatusCode.PERMISSION_DENIED, 'Cannot call: denied', { trailingMetadata: new Metadata().set('x-why', 'policy') });
      },
    };
    const before = ran;
    const r = await callEach(await serve([deny]));
    for (const [name, result] of Object.entries(r)) {
      assert.equal(result.status?.code, grpc.status.PERMISSION_DENIED, name);
      assert.equal(result.status?.details, 'Cannot call: denied', name);
      assert.deepEqual(result.status?.metadata.get('x-why'), ['policy'], name);
    }
    assert.equal(ran, before, 'no handler ran');
  });

  it('a plain function interceptCall that throws at once fails the call the same way', async () => {
    const deny: ServerInterceptor = {
      interceptCall() {
        throw new RpcError(StatusCode.UNAUTHENTICATED, 'Cannot call: no token');
      },
    };
    const before = ran;
    const r = await callEach(await serve([deny]));
    assert.deepEqual(codes(r), { Echo: grpc.status.UNAUTHENTICATED, Repeat: grpc.status.UNAUTHENTICATED, Join: grpc.status.UNAUTHENTICATED, Chat: grpc.status.UNAUTHENTICATED });
    assert.equal(ran, before, 'no handler ran');
  });

  it('a plain Error is UNKNOWN with generic details for the client and is reported to onHandlerError once', async () => {
    const reported: [unknown, string][] = [];
    const buggy: ServerInterceptor = {
      async *interceptCall(_kind, requests, _context, next) {
        for await (const response of next(requests)) {
          yield response;
          throw new Error('interceptor secret');
        }
      },
    };
    const r = await callEach(await serve([buggy], (error, method) => reported.push([error, method])));
    for (const [name, result] of Object.entries(r)) {
      assert.equal(result.status?.code, grpc.status.UNKNOWN, name);
      assert.doesNotMatch(result.status!.details, /secret/, name);
    }
    // A unary response is sent with its status, so the client sees none of it; a stream got its first.
    assert.deepEqual(r.Repeat!.value, ['a#1']);
    assert.deepEqual(r.Chat!.value, ['chat:a']);
    assert.deepEqual(
      reported.map(([error, method]) => [(error as Error).message, method]),
      ['/test.Svc/Echo', '/test.Svc/Repeat', '/test.Svc/Join', '/test.Svc/Chat'].map((m) => ['interceptor secret', m]),
    );
  });

  it('a unary-response call whose interceptor yields no response, or two, ends INTERNAL', async () => {
    const none: ServerInterceptor = {
      async *interceptCall(_kind, requests, context, next) {
        if (context.invocationMetadata().get('x-count') !== 'none') return yield* next(requests);
        for await (const _ of next(requests)); // drops the handler's response
      },
    };
    const twice: ServerInterceptor = {
      async *interceptCall(_kind, requests, context, next) {
        for await (const response of next(requests)) {
          yield response;
          if (context.invocationMetadata().get('x-count') === 'two') yield response;
        }
      },
    };
    const client = await serve([none, twice]);
    for (const count of ['none', 'two']) {
      const md = new grpc.Metadata();
      md.set('x-count', count);
      const unary = await client.unary('Echo', 'a', md);
      const join = await client.clientStream('Join', ['a'], md);
      for (const result of [unary, join]) {
        assert.equal(result.status?.code, grpc.status.INTERNAL, count);
        assert.match(result.status!.details, count === 'none' ? /no response/ : /more than one response/);
        assert.equal(result.value, undefined);
      }
    }
    // Streaming kinds take any number.
    const md = new grpc.Metadata();
    md.set('x-count', 'two');
    assert.deepEqual((await client.serverStream('Repeat', 'a', md)).value, ['a#1', 'a#1', 'a#2', 'a#2']);
  });

  it('run first outermost, after every interceptService form, whichever order the two forms are mixed in', async () => {
    const log: string[] = [];
    const service = (name: string): ServerInterceptor => ({
      interceptService(continuation, details) {
        log.push(`service:${name}`);
        return continuation(details);
      },
    });
    const call = (name: string): Required<Pick<ServerInterceptor, 'interceptCall'>> => ({
      async *interceptCall(_kind, requests, _context, next) {
        log.push(`call:${name}`);
        async function* tagged(): AsyncGenerator<string> {
          for await (const r of requests) yield `${r as string}>${name}`;
        }
        for await (const response of next(tagged())) yield `${name}(${response as string})`;
      },
    });
    const both: ServerInterceptor = { ...service('E'), ...call('E') };
    const client = await serve([service('A'), call('B'), service('C'), call('D'), both]);
    assert.equal((await client.unary('Echo', 'x')).value, 'B(D(E(echo:x>B>D>E)))');
    assert.deepEqual(log, ['service:A', 'service:C', 'service:E', 'call:B', 'call:D', 'call:E']);
    log.length = 0;
    assert.deepEqual((await client.bidi('Chat', ['x', 'y'])).value, ['B(D(E(chat:x>B>D>E)))', 'B(D(E(chat:y>B>D>E)))']);
    assert.deepEqual(log, ['service:A', 'service:C', 'service:E', 'call:B', 'call:D', 'call:E']);
  });

  it('may answer by itself without calling next: the handler never runs, unread requests are discarded', async () => {
    const cache: ServerInterceptor = {
      async *interceptCall(kind, requests, context, next) {
        if (context.invocationMetadata().get('x-cached') !== 'yes') return yield* next(requests);
        yield 'cached';
        if (kind.responseStreaming) yield 'cached again';
      },
    };
    const client = await serve([cache]);
    const md = new grpc.Metadata();
    md.set('x-cached', 'yes');
    const before = ran;
    const r = await callEach(client, md);
    assert.equal(r.Echo!.value, 'cached');
    assert.deepEqual(r.Repeat!.value, ['cached', 'cached again']);
    assert.equal(r.Join!.value, 'cached');
    assert.deepEqual(r.Chat!.value, ['cached', 'cached again']);
    assert.deepEqual(codes(r), { Echo: grpc.status.OK, Repeat: grpc.status.OK, Join: grpc.status.OK, Chat: grpc.status.OK });
    assert.equal(ran, before, 'no handler ran');
    assert.equal((await client.unary('Echo', 'live')).value, 'echo:live', 'calls without the header still reach the handler');
  });
});

describe('interceptCall and cancellation', () => {
  interface Observed {
    reason: Deferred<unknown>;
    handlerFinally: Deferred<void>;
    interceptorFinally: Deferred<void>;
  }
  let obs: Observed;
  const fresh = (): Observed => ({ reason: defer(), handlerFinally: defer(), interceptorFinally: defer() });
  let s: TestServer;
  let client: JsClient;

  before(async () => {
    const watch = (ctx: ServicerContext): void => ctx.signal.addEventListener('abort', () => obs.reason.resolve(ctx.signal.reason), { once: true });
    const passThrough: ServerInterceptor = {
      async *interceptCall(_kind, requests, _context, next) {
        try {
          for await (const response of next(requests)) yield response;
        } finally {
          obs.interceptorFinally.resolve();
        }
      },
    };
    s = await startServer(
      {
        Ticker: unaryStreamRpcMethodHandler(async function* (_r: string, ctx) {
          watch(ctx);
          try {
            for (let i = 0; ; i++) yield String(i);
          } finally {
            obs.handlerFinally.resolve();
          }
        }, decode, encode),
        Chat: streamStreamRpcMethodHandler(async function* (reqs: AsyncIterable<string>, ctx) {
          watch(ctx);
          try {
            for await (const r of reqs) yield r;
          } finally {
            obs.handlerFinally.resolve();
          }
        }, decode, encode),
      },
      { interceptors: [passThrough] },
    );
    client = jsClient(s.address, { Ticker: 'serverStream', Chat: 'bidi' });
  });
  after(async () => {
    client.close();
    await s.close();
  });

  it('a cancelled server stream aborts context.signal CANCELLED and runs the handler and interceptor finally blocks', async () => {
    obs = fresh();
    const call = client.openServerStream('Ticker', '');
    call.on('error', () => undefined);
    await new Promise((resolve) => call.once('data', resolve));
    call.cancel();
    const reason = await obs.reason;
    assert.ok(reason instanceof RpcError);
    assert.equal(reason.code, StatusCode.CANCELLED);
    await obs.handlerFinally;
    await obs.interceptorFinally;
  });

  it('a cancelled bidi call waiting for requests aborts context.signal CANCELLED and runs both finally blocks', async () => {
    obs = fresh();
    const call = client.openBidi('Chat');
    call.on('error', () => undefined);
    call.write('a');
    await new Promise((resolve) => call.once('data', resolve));
    call.cancel();
    assert.equal(((await obs.reason) as RpcError).code, StatusCode.CANCELLED);
    await obs.handlerFinally;
    await obs.interceptorFinally;
  });
});

describe('checkInterceptors', () => {
  it('refuses at server() an interceptor with neither method, or with one that is not a function', () => {
    for (const bad of [{}, { interceptCall: 'yes' }, { interceptService: 1 }, null]) {
      assert.throws(() => server({ interceptors: [bad as unknown as ServerInterceptor] }), (err: unknown) => {
        assert.ok(err instanceof TypeError);
        assert.match(err.message, /^Cannot create server: each interceptor needs an interceptService\(.*\) or interceptCall\(.*\) method$/);
        return true;
      });
    }
  });
});

describe('the logging interceptor on the one shape', () => {
  it('logs a call a later interceptCall refuses before the handler, with its status, peer and the unexpected error', async () => {
    const entries: RpcLogEntry[] = [];
    const reported: unknown[] = [];
    const refuse: ServerInterceptor = {
      interceptCall(_kind, requests, context, next) {
        const mode = context.invocationMetadata().get('x-refuse');
        if (mode === 'denied') throw new RpcError(StatusCode.PERMISSION_DENIED, 'Cannot call: denied');
        if (mode === 'bug') throw new Error('refuser secret');
        return next(requests);
      },
    };
    const s = await startServer(handlers, { interceptors: [loggingInterceptor({ log: (e) => entries.push(e) }), refuse], onHandlerError: (err) => reported.push(err) });
    const client = jsClient(s.address, methods);
    try {
      const before = ran;
      const denied = new grpc.Metadata();
      denied.set('x-refuse', 'denied');
      assert.equal((await client.serverStream('Repeat', 'a', denied)).status?.code, grpc.status.PERMISSION_DENIED);
      const bug = new grpc.Metadata();
      bug.set('x-refuse', 'bug');
      assert.equal((await client.clientStream('Join', ['a'], bug)).status?.code, grpc.status.UNKNOWN);
      assert.equal((await client.unary('Echo', 'a')).value, 'echo:a');
      assert.equal(ran, before + 1, 'only the call let through reached its handler');
    } finally {
      client.close();
      await s.close();
    }
    assert.deepEqual(
      entries.map((e) => [e.method, e.code, e.details, (e.error as Error | undefined)?.message]),
      [
        ['/test.Svc/Repeat', StatusCode.PERMISSION_DENIED, 'Cannot call: denied', undefined],
        ['/test.Svc/Join', StatusCode.UNKNOWN, 'Unexpected error in handler', 'refuser secret'],
        ['/test.Svc/Echo', StatusCode.OK, '', undefined],
      ],
    );
    for (const e of entries) assert.match(e.peer, /^ipv4:127\.0\.0\.1:\d+$/);
    assert.equal(reported.length, 1, 'the server reports the unexpected error once');
  });
});
