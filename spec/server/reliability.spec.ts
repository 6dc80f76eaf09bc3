// Issue 10: every error, cancel and abuse path ends with the right status, and no user callback
// can break a call or the process.
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { delay } from 'abort-controller-x';
import {
  RpcError,
  StatusCode,
  methodHandlersGenericHandler,
  server,
  streamStreamRpcMethodHandler,
  streamUnaryRpcMethodHandler,
  unaryStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
  type ServerInterceptor,
  type ServicerContext,
} from '../../lib/index.js';
import { loggingInterceptor, type RpcLogEntry } from '../../lib/interceptors/index.js';
import { decode, defer, encode, eventually, jsClient, startServer, type TestServer } from '../helpers/grpc.js';
import { frame, grpcHeaders, parseMessages } from '../helpers/raw.js';

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function serve(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const s = await startServer(...args);
  servers.push(s);
  return s;
}

/** Records every unhandled rejection and uncaught exception while a test runs. */
function watchProcess(): { errors: unknown[]; stop(): void } {
  const errors: unknown[] = [];
  const onError = (err: unknown): void => void errors.push(err);
  process.on('unhandledRejection', onError);
  process.on('uncaughtException', onError);
  return {
    errors,
    stop() {
      process.off('unhandledRejection', onError);
      process.off('uncaughtException', onError);
    },
  };
}

const echo = unaryUnaryRpcMethodHandler((r: string) => `echo:${r}`, decode, encode);

describe('10: user callbacks never break a call or the process', () => {
  let watch: ReturnType<typeof watchProcess>;
  beforeEach(() => {
    watch = watchProcess();
  });
  afterEach(async () => {
    // Let any stray rejection surface before the check.
    await new Promise(setImmediate);
    watch.stop();
    assert.deepEqual(watch.errors, [], 'the process saw an unhandled rejection or uncaught exception');
  });

  it('10: a throwing onHandlerError still sends UNKNOWN to the client', async () => {
    const reported: string[] = [];
    const s = await serve(
      { Boom: unaryUnaryRpcMethodHandler(() => { throw new Error('secret stack'); }, decode, encode) },
      { onHandlerError: (_err, method) => { reported.push(method); throw new Error('reporter broke'); } },
    );
    const client = jsClient(s.address, { Boom: 'unary' });
    const r = await client.unary('Boom', 'x', new grpc.Metadata(), { deadline: Date.now() + 5000 });
    client.close();
    assert.equal(r.error?.code, grpc.status.UNKNOWN);
    assert.equal(r.error?.details, 'Unexpected error in handler');
    assert.deepEqual(reported, ['/test.Svc/Boom']);
  });

  it('10: a throwing onHandlerError on a streaming handler still sends UNKNOWN', async () => {
    const s = await serve(
      { Boom: unaryStreamRpcMethodHandler(async function* () { yield 'one'; throw new Error('late'); }, decode, encode) },
      { onHandlerError: () => { throw new Error('reporter broke'); } },
    );
    const client = jsClient(s.address, { Boom: 'serverStream' });
    const r = await client.serverStream('Boom', 'x', new grpc.Metadata(), { deadline: Date.now() + 5000 });
    client.close();
    assert.deepEqual(r.value, ['one']);
    assert.equal(r.error?.code, grpc.status.UNKNOWN);
  });

  it('10: an interceptor that throws, with a throwing onHandlerError, still gets UNKNOWN', async () => {
    const sync: ServerInterceptor = { interceptService() { throw new Error('sync'); } };
    const s = await serve({ Echo: echo }, { interceptors: [sync], onHandlerError: () => { throw new Error('reporter broke'); } });
    const client = jsClient(s.address, { Echo: 'unary' });
    const r = await client.unary('Echo', 'x', new grpc.Metadata(), { deadline: Date.now() + 5000 });
    client.close();
    assert.equal(r.error?.code, grpc.status.UNKNOWN);
  });

  it('10: an async interceptor that rejects, with a throwing onHandlerError, still gets UNKNOWN', async () => {
    const rejects: ServerInterceptor = { async interceptService() { throw new Error('async'); } };
    const s = await serve({ Echo: echo }, { interceptors: [rejects], onHandlerError: () => { throw new Error('reporter broke'); } });
    const client = jsClient(s.address, { Echo: 'unary' });
    const r = await client.unary('Echo', 'x', new grpc.Metadata(), { deadline: Date.now() + 5000 });
    client.close();
    assert.equal(r.error?.code, grpc.status.UNKNOWN);
    assert.equal(r.error?.details, 'Unexpected error in interceptor');
  });

  it('10: with an executor, a bad unary request read before a worker is taken still gets its status', async () => {
    const s = await serve({ Echo: echo }, { executor: { maxWorkers: 1 }, options: { 'grpc.max_receive_message_length': 4 }, onHandlerError: () => { throw new Error('reporter broke'); } });
    const client = jsClient(s.address, { Echo: 'unary' });
    const r = await client.unary('Echo', 'too long', new grpc.Metadata(), { deadline: Date.now() + 5000 });
    client.close();
    assert.equal(r.error?.code, grpc.status.RESOURCE_EXHAUSTED);
  });

  it('10: a throwing logger in loggingInterceptor leaves a successful call OK', async () => {
    const s = await serve({ Echo: echo }, { interceptors: [loggingInterceptor({ log: () => { throw new Error('log broke'); } })] });
    const client = jsClient(s.address, { Echo: 'unary' });
    const r = await client.unary('Echo', 'hi', new grpc.Metadata(), { deadline: Date.now() + 5000 });
    client.close();
    assert.equal(r.error, undefined);
    assert.equal(r.value, 'echo:hi');
  });

  it('10: a throwing logger does not change the status of a call refused by a later interceptor', async () => {
    const deny: ServerInterceptor = { interceptService() { throw new RpcError(StatusCode.PERMISSION_DENIED, 'no'); } };
    const s = await serve({ Echo: echo }, { interceptors: [loggingInterceptor({ log: () => { throw new Error('log broke'); } }), deny] });
    const client = jsClient(s.address, { Echo: 'unary' });
    const r = await client.unary('Echo', 'hi', new grpc.Metadata(), { deadline: Date.now() + 5000 });
    client.close();
    assert.equal(r.error?.code, grpc.status.PERMISSION_DENIED);
  });

  it('10: a throwing addCallback callback does not change the status or crash', async () => {
    const s = await serve({
      Echo: unaryUnaryRpcMethodHandler((r: string, ctx: ServicerContext) => {
        ctx.addCallback(() => { throw new Error('callback broke'); });
        return r;
      }, decode, encode),
    });
    const client = jsClient(s.address, { Echo: 'unary' });
    const r = await client.unary('Echo', 'hi', new grpc.Metadata(), { deadline: Date.now() + 5000 });
    client.close();
    assert.equal(r.value, 'hi');
  });
});

describe('10: one error -> status mapping for handlers, interceptors and observers', () => {
  it('10: a TimeoutError from a handler is DEADLINE_EXCEEDED and is not reported as a bug', async () => {
    const reported: unknown[] = [];
    const s = await serve(
      {
        Throw: unaryUnaryRpcMethodHandler(() => { throw new DOMException('The operation timed out', 'TimeoutError'); }, decode, encode),
      },
      { onHandlerError: (err) => reported.push(err) },
    );
    const client = jsClient(s.address, { Throw: 'unary' });
    const r = await client.unary('Throw', 'x', new grpc.Metadata(), { deadline: Date.now() + 5000 });
    client.close();
    assert.equal(r.error?.code, grpc.status.DEADLINE_EXCEEDED);
    assert.deepEqual(reported, []);
  });

  it('10: an interceptor rejecting with an AbortError gives CANCELLED, one with an RpcError reason gives that', async () => {
    const reported: unknown[] = [];
    const abort: ServerInterceptor = {
      async interceptService(continuation, details) {
        const mode = details.invocationMetadata.get('mode');
        if (mode === 'plain') throw Object.assign(new Error('aborted'), { name: 'AbortError' });
        if (mode === 'reason') throw Object.assign(new Error('aborted'), { name: 'AbortError', cause: new RpcError(StatusCode.UNAVAILABLE, 'backend gone') });
        return continuation(details);
      },
    };
    const s = await serve({ Echo: echo }, { interceptors: [abort], onHandlerError: (err) => reported.push(err) });
    const client = jsClient(s.address, { Echo: 'unary' });
    const md = (mode: string): grpc.Metadata => {
      const m = new grpc.Metadata();
      m.set('mode', mode);
      return m;
    };
    const plain = await client.unary('Echo', 'x', md('plain'), { deadline: Date.now() + 5000 });
    const reason = await client.unary('Echo', 'x', md('reason'), { deadline: Date.now() + 5000 });
    client.close();
    assert.equal(plain.error?.code, grpc.status.CANCELLED);
    assert.equal(reason.error?.code, grpc.status.UNAVAILABLE);
    assert.equal(reason.error?.details, 'backend gone');
    assert.deepEqual(reported, []);
  });

  it('10: the logging interceptor logs the status the client got when the response fails to serialize', async () => {
    const entries: RpcLogEntry[] = [];
    const reported: unknown[] = [];
    const s = await serve(
      { Bad: unaryUnaryRpcMethodHandler(() => 'x', decode, () => { throw new Error('cannot encode'); }) },
      { interceptors: [loggingInterceptor({ log: (e) => entries.push(e) })], onHandlerError: (err) => reported.push(err) },
    );
    const client = jsClient(s.address, { Bad: 'unary' });
    const r = await client.unary('Bad', 'x', new grpc.Metadata(), { deadline: Date.now() + 5000 });
    client.close();
    assert.equal(r.error?.code, grpc.status.INTERNAL);
    await eventually(() => entries.length === 1, 2000, 'the log entry');
    assert.equal(entries[0]!.code, StatusCode.INTERNAL);
    assert.equal(reported.length, 1, 'the serializer error is reported once');
  });

  it('10: under the logging interceptor, a streaming handler returning a non-iterable still ends INTERNAL, and is logged so', async () => {
    const entries: RpcLogEntry[] = [];
    const reported: unknown[] = [];
    const s = await serve(
      { List: unaryStreamRpcMethodHandler((() => Promise.resolve(42)) as never, decode, encode) },
      { interceptors: [loggingInterceptor({ log: (e) => entries.push(e) })], onHandlerError: (err) => reported.push(err) },
    );
    const client = jsClient(s.address, { List: 'serverStream' });
    const r = await client.serverStream('List', 'x', new grpc.Metadata(), { deadline: Date.now() + 5000 });
    client.close();
    assert.equal(r.error?.code, grpc.status.INTERNAL);
    await eventually(() => entries.length === 1, 2000, 'the log entry');
    assert.equal(entries[0]!.code, StatusCode.INTERNAL);
    assert.ok(reported[0] instanceof TypeError && /\/test\.Svc\/List/.test(reported[0].message));
  });

  it('10: the logging interceptor logs RESOURCE_EXHAUSTED for a response over the send limit', async () => {
    const entries: RpcLogEntry[] = [];
    const s = await serve(
      { Big: unaryUnaryRpcMethodHandler(() => 'x'.repeat(100), decode, encode) },
      { interceptors: [loggingInterceptor({ log: (e) => entries.push(e) })], options: { 'grpc.max_send_message_length': 10 } },
    );
    const client = jsClient(s.address, { Big: 'unary' });
    const r = await client.unary('Big', 'x', new grpc.Metadata(), { deadline: Date.now() + 5000 });
    client.close();
    assert.equal(r.error?.code, grpc.status.RESOURCE_EXHAUSTED);
    await eventually(() => entries.length === 1, 2000, 'the log entry');
    assert.equal(entries[0]!.code, StatusCode.RESOURCE_EXHAUSTED);
  });
});

describe('10: the status sent on cancel does not depend on queued bytes', () => {
  it('10: stop(grace) running out ends a busy server stream UNAVAILABLE, not CANCELLED', async () => {
    const started = defer();
    const chunk = 'y'.repeat(12 * 1024);
    const s = await startServer({
      Flood: unaryStreamRpcMethodHandler(async function* (_r: string, ctx: ServicerContext) {
        started.resolve();
        while (!ctx.signal.aborted) yield chunk;
      }, decode, encode),
    });
    const client = jsClient(s.address, { Flood: 'serverStream' });
    const result = client.serverStream('Flood', 'x', new grpc.Metadata(), { deadline: Date.now() + 10_000 });
    await started;
    await s.srv.stop(0.1);
    const r = await result;
    client.close();
    assert.equal(r.error?.code, grpc.status.UNAVAILABLE, `got ${r.error?.code} ${r.error?.details}`);
  });

  it('10: the server deadline ends a busy server stream DEADLINE_EXCEEDED in its trailers, not with a reset', async () => {
    const chunk = 'v'.repeat(12 * 1024);
    const s = await serve({
      Flood: unaryStreamRpcMethodHandler(async function* (_r: string, ctx: ServicerContext) {
        while (!ctx.signal.aborted) yield chunk;
      }, decode, encode),
    });
    const session = http2.connect(`http://${s.address}`);
    const stream = session.request(grpcHeaders('/test.Svc/Flood', { 'grpc-timeout': '100m' }));
    stream.on('data', () => undefined); // reads everything
    stream.on('error', () => undefined);
    const ended = new Promise<http2.IncomingHttpHeaders | undefined>((resolve) => {
      stream.on('trailers', (t) => resolve(t));
      stream.on('close', () => resolve(undefined));
    });
    stream.end(frame('x'));
    const t = await ended;
    const rstCode = stream.rstCode;
    stream.close();
    session.close();
    assert.ok(t !== undefined, `no status: the stream was reset with ${rstCode}`);
    assert.equal(t['grpc-status'], String(StatusCode.DEADLINE_EXCEEDED));
  });

  it('10: a status queued behind bytes a client never reads does not hold stop(grace) for long', async () => {
    const started = defer();
    const finallyRan = defer();
    const chunk = 'w'.repeat(16 * 1024);
    const s = await startServer({
      Flood: unaryStreamRpcMethodHandler(async function* (_r: string, ctx: ServicerContext) {
        started.resolve();
        try {
          while (!ctx.signal.aborted) yield chunk;
        } finally {
          finallyRan.resolve();
        }
      }, decode, encode),
    });
    const client = jsClient(s.address, { Flood: 'serverStream' });
    const call = client.openServerStream('Flood', 'x');
    call.on('error', () => undefined);
    call.pause(); // never reads: the window fills and the status cannot leave
    await started;
    const t0 = Date.now();
    await s.srv.stop(0.1);
    const elapsed = Date.now() - t0;
    await finallyRan;
    client.close();
    assert.ok(elapsed < 2000, `stop took ${elapsed} ms`);
  });

  it('10: a bad inbound message on a busy bidi call still gives INTERNAL', async () => {
    const chunk = 'z'.repeat(12 * 1024);
    const s = await serve({
      Chat: streamStreamRpcMethodHandler(async function* (reqs: AsyncIterable<string>) {
        for await (const r of reqs) yield `${r}${chunk}`;
      }, (b: Uint8Array) => {
        const text = decode(b);
        if (text === 'bad') throw new Error('undecodable');
        return text;
      }, encode),
    });
    // A small window keeps the first response queued on the server when the bad message is read.
    const session = http2.connect(`http://${s.address}`, { settings: { initialWindowSize: 1024 } });
    const stream = session.request(grpcHeaders('/test.Svc/Chat'));
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    // Like grpc-js, the client stops once it has the status (trailers) or the stream is reset.
    const ended = new Promise<http2.IncomingHttpHeaders | undefined>((resolve) => {
      stream.on('trailers', (t) => resolve(t));
      stream.on('close', () => resolve(undefined));
    });
    stream.on('error', () => undefined);
    stream.write(Buffer.concat([frame('a'), frame('bad')]));
    const t = await ended;
    const rstCode = stream.rstCode;
    stream.close();
    session.close();
    assert.ok(t !== undefined, `no status: the stream was reset with ${rstCode}`);
    assert.equal(t['grpc-status'], String(StatusCode.INTERNAL));
    assert.equal(parseMessages(Buffer.concat(chunks)).length, 1);
  });
});

describe('10: pump always ends the handler generator', () => {
  it('10: a generator that catches a write error still reaches its finally', async () => {
    const finallyRan = defer();
    const s = await serve({
      Gen: unaryStreamRpcMethodHandler(async function* () {
        try {
          for (let i = 0; i < 1000; i++) {
            try {
              yield i === 1 ? 'poison' : `m${i}`;
            } catch {
              // swallows the write error and carries on
            }
          }
        } finally {
          finallyRan.resolve();
        }
      }, decode, (v: string) => {
        if (v === 'poison') throw new Error('cannot encode');
        return encode(v);
      }),
    });
    const client = jsClient(s.address, { Gen: 'serverStream' });
    const r = await client.serverStream('Gen', 'x', new grpc.Metadata(), { deadline: Date.now() + 5000 });
    client.close();
    assert.equal(r.error?.code, grpc.status.INTERNAL);
    assert.deepEqual(r.value, ['m0']);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error('the generator finally never ran')), 2000);
    });
    await Promise.race([finallyRan, timeout]).finally(() => clearTimeout(timer));
  });

  it('10: a sync generator that catches a write error still reaches its finally', async () => {
    let finallyRan = false;
    const s = await serve({
      Gen: unaryStreamRpcMethodHandler(function* () {
        try {
          for (let i = 0; i < 1000; i++) {
            try {
              yield i === 1 ? 'poison' : `m${i}`;
            } catch {
              // swallows the write error and carries on
            }
          }
        } finally {
          finallyRan = true;
        }
      }, decode, (v: string) => {
        if (v === 'poison') throw new Error('cannot encode');
        return encode(v);
      }),
    });
    const client = jsClient(s.address, { Gen: 'serverStream' });
    const r = await client.serverStream('Gen', 'x', new grpc.Metadata(), { deadline: Date.now() + 5000 });
    client.close();
    assert.equal(r.error?.code, grpc.status.INTERNAL);
    assert.equal(finallyRan, true);
  });
});

describe('10: handler shapes are checked when the handler is built', () => {
  it('10: a generator function registered for a unary response is refused with a TypeError naming the method', () => {
    const gen = unaryUnaryRpcMethodHandler(async function* () { yield 'x'; } as never, decode, encode);
    assert.throws(() => methodHandlersGenericHandler('test.Svc', { Say: gen }), (err: unknown) => err instanceof TypeError && /test\.Svc\/Say/.test(err.message));
    const syncGen = streamUnaryRpcMethodHandler(function* () { yield 'x'; } as never, decode, encode);
    const srv = server();
    assert.throws(() => srv.addRegisteredMethodHandlers('test.Svc', { Sum: syncGen }), (err: unknown) => err instanceof TypeError && /test\.Svc\/Sum/.test(err.message));
  });

  it('10: addService refuses a generator behavior for a unary method, naming it', () => {
    const srv = server();
    const definition = {
      Say: { path: '/test.Svc/Say', requestStream: false, responseStream: false, requestSerialize: encode, requestDeserialize: decode, responseSerialize: encode, responseDeserialize: decode, originalName: 'say' },
    };
    assert.throws(() => srv.addService(definition as never, { async *say() { yield 'x'; } }), (err: unknown) => err instanceof TypeError && /test\.Svc\/Say/.test(err.message));
  });

  it('10: a plain function returning a generator for a unary response gives INTERNAL and a report naming the method, never an empty OK', async () => {
    const reported: Array<[unknown, string]> = [];
    const s = await serve(
      { Say: unaryUnaryRpcMethodHandler((() => (async function* () { yield 'x'; })()) as never, decode, encode) },
      { onHandlerError: (err, method) => reported.push([err, method]) },
    );
    const client = jsClient(s.address, { Say: 'unary' });
    const r = await client.unary('Say', 'x', new grpc.Metadata(), { deadline: Date.now() + 5000 });
    client.close();
    assert.equal(r.error?.code, grpc.status.INTERNAL);
    assert.equal(reported.length, 1);
    assert.equal(reported[0]![1], '/test.Svc/Say');
    assert.ok(reported[0]![0] instanceof TypeError && /\/test\.Svc\/Say/.test(reported[0]![0].message));
  });

  it('10: a streaming handler returning a non-iterable gives INTERNAL and a report naming the method', async () => {
    const reported: Array<[unknown, string]> = [];
    const s = await serve(
      { List: unaryStreamRpcMethodHandler((() => 42) as never, decode, encode) },
      { onHandlerError: (err, method) => reported.push([err, method]) },
    );
    const client = jsClient(s.address, { List: 'serverStream' });
    const r = await client.serverStream('List', 'x', new grpc.Metadata(), { deadline: Date.now() + 5000 });
    client.close();
    assert.equal(r.error?.code, grpc.status.INTERNAL);
    assert.equal(reported.length, 1);
    assert.ok(reported[0]![0] instanceof TypeError && /\/test\.Svc\/List/.test(reported[0]![0].message));
  });
});

describe('10: the executor', () => {
  it('10: a unary request still uploading does not hold a worker', async () => {
    const s = await serve({ Echo: echo }, { executor: { maxWorkers: 1 } });
    // Two calls whose bodies never finish arriving.
    const session = http2.connect(`http://${s.address}`);
    const stalled = [0, 1].map(() => {
      const stream = session.request(grpcHeaders('/test.Svc/Echo'));
      stream.on('error', () => undefined);
      stream.write(frame('partial').subarray(0, 8));
      return stream;
    });
    const client = jsClient(s.address, { Echo: 'unary' });
    const r = await client.unary('Echo', 'hi', new grpc.Metadata(), { deadline: Date.now() + 3000 });
    client.close();
    for (const stream of stalled) stream.close(http2.constants.NGHTTP2_CANCEL);
    session.close();
    assert.equal(r.error, undefined, `got ${r.error?.code} ${r.error?.details}`);
    assert.equal(r.value, 'echo:hi');
  });

  it('10: past maxQueued waiting RPCs the call is answered RESOURCE_EXHAUSTED at once', async () => {
    const gate = defer();
    const entered = defer();
    const s = await serve(
      { Hold: unaryUnaryRpcMethodHandler(async (r: string) => { entered.resolve(); await gate; return r; }, decode, encode) },
      { executor: { maxWorkers: 1, maxQueued: 1 } },
    );
    const client = jsClient(s.address, { Hold: 'unary' });
    const opts = { deadline: Date.now() + 5000 };
    const first = client.unary('Hold', 'a', new grpc.Metadata(), opts);
    await entered;
    const second = client.unary('Hold', 'b', new grpc.Metadata(), opts);
    const third = await client.unary('Hold', 'c', new grpc.Metadata(), opts);
    assert.equal(third.error?.code, grpc.status.RESOURCE_EXHAUSTED);
    gate.resolve();
    assert.equal((await first).value, 'a');
    assert.equal((await second).value, 'b');
    client.close();
  });

  it('10: maxQueued must be a non-negative integer', () => {
    assert.throws(() => server({ executor: { maxWorkers: 1, maxQueued: -1 } }), RangeError);
    assert.throws(() => server({ executor: { maxWorkers: 1, maxQueued: 1.5 } }), RangeError);
  });
});

describe('10: half-close', () => {
  it('10: node:http2 behaviour pinned by halfCloseReset: a client close(CANCEL) arrives as END_STREAM, then RST_STREAM a read later', async () => {
    const events = defer<string[]>();
    const bare = http2.createServer();
    bare.on('stream', (stream) => {
      const seen: string[] = [];
      stream.on('data', () => seen.push('data'));
      stream.on('end', () => seen.push(`end(aborted=${String(stream.aborted)})`));
      stream.on('aborted', () => seen.push('aborted'));
      stream.on('close', () => events.resolve(seen));
    });
    await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
    const { port } = bare.address() as { port: number };
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const stream = session.request(grpcHeaders('/test.Svc/Any'));
    stream.on('error', () => undefined);
    stream.write(frame('a'), () => stream.close(http2.constants.NGHTTP2_CANCEL));
    const seen = await events;
    session.close();
    await new Promise((resolve) => bare.close(resolve));
    // If this changes (the reset arriving with the half-close), halfCloseReset can go.
    assert.deepEqual(seen, ['data', 'end(aborted=false)', 'aborted']);
  });

  it('10: a grpc-js cancel of a bidi call whose handler ends with its requests aborts the signal and throws from the iterator', async () => {
    const iteratorError = defer<unknown>();
    const reason = defer<unknown>();
    const s = await serve({
      Chat: streamStreamRpcMethodHandler(async function* (reqs: AsyncIterable<string>, ctx: ServicerContext) {
        ctx.signal.addEventListener('abort', () => reason.resolve(ctx.signal.reason), { once: true });
        try {
          for await (const r of reqs) yield r;
          iteratorError.resolve(undefined);
        } catch (err) {
          iteratorError.resolve(err);
          throw err;
        }
      }, decode, encode),
    });
    const client = jsClient(s.address, { Chat: 'bidi' });
    const call = client.openBidi('Chat');
    call.on('error', () => undefined);
    call.write('a');
    await new Promise((resolve) => call.once('data', resolve));
    call.cancel();
    const err = await iteratorError;
    client.close();
    assert.ok(err instanceof Error && err.name === 'AbortError', `the request iterator ended instead of throwing: ${String(err)}`);
    assert.equal(((await reason) as RpcError).code, StatusCode.CANCELLED);
  });

  it('10: a plain half-close ends the request iterator within two event-loop turns', async () => {
    const turns = defer<number>();
    const s = await serve({
      Sum: streamUnaryRpcMethodHandler(async (reqs: AsyncIterable<string>) => {
        const it = reqs[Symbol.asyncIterator]();
        const first = await it.next();
        let n = 0;
        const tick = (): void => {
          n++;
          immediate = setImmediate(tick);
        };
        let immediate = setImmediate(tick);
        const end = await it.next();
        clearImmediate(immediate);
        turns.resolve(n);
        return `${String(first.value)}:${String(end.done)}`;
      }, decode, encode),
    });
    const session = http2.connect(`http://${s.address}`);
    const stream = session.request(grpcHeaders('/test.Svc/Sum'));
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    const closed = new Promise<void>((resolve) => stream.on('close', resolve));
    stream.end(frame('a'));
    await closed;
    session.close();
    assert.equal(parseMessages(Buffer.concat(chunks))[0]?.payload.toString(), 'a:true');
    assert.ok((await turns) <= 2, `the iterator took ${await turns} turns to end`);
  });
});

describe('10: ServicerContext', () => {
  it('10: peer() of an IPv4 client on a [::] listener is ipv4:a.b.c.d:port', async (t) => {
    const peer = defer<string>();
    const srv = server();
    srv.addGenericRpcHandlers([
      methodHandlersGenericHandler('test.Svc', {
        Echo: unaryUnaryRpcMethodHandler((r: string, ctx: ServicerContext) => {
          peer.resolve(ctx.peer());
          return r;
        }, decode, encode),
      }),
    ]);
    let port: number;
    try {
      port = await srv.addInsecurePort('[::]:0');
    } catch {
      t.skip('no IPv6 on this machine');
      return;
    }
    await srv.start();
    const client = jsClient(`127.0.0.1:${port}`, { Echo: 'unary' });
    const r = await client.unary('Echo', 'x', new grpc.Metadata(), { deadline: Date.now() + 5000 });
    client.close();
    await srv.stop(null);
    assert.equal(r.value, 'x');
    assert.match(await peer, /^ipv4:127\.0\.0\.1:\d+$/);
  });

  it('10: addCallback on a cancelled call returns false and never runs the callback', async () => {
    const seen = defer<{ registered: boolean; ran: () => boolean }>();
    const s = await serve({
      Cancel: unaryUnaryRpcMethodHandler((r: string, ctx: ServicerContext) => {
        ctx.cancel();
        let ran = false;
        const registered = ctx.addCallback(() => { ran = true; });
        seen.resolve({ registered, ran: () => ran });
        return r;
      }, decode, encode),
    });
    const client = jsClient(s.address, { Cancel: 'unary' });
    const r = await client.unary('Cancel', 'x', new grpc.Metadata(), { deadline: Date.now() + 5000 });
    client.close();
    assert.equal(r.error?.code, grpc.status.CANCELLED);
    const { registered, ran } = await seen;
    assert.equal(registered, false);
    assert.equal(ran(), false);
  });

  it('10: addCallback once the deadline has passed returns false and never runs the callback, though the stream is still open', async () => {
    const seen = defer<{ registered: boolean; ran: () => boolean }>();
    const s = await serve({
      Wait: unaryUnaryRpcMethodHandler(async (_r: string, ctx: ServicerContext) => {
        let ran = false;
        // The abort listener runs as the deadline passes: the status is queued, the stream open.
        ctx.signal.addEventListener('abort', () => {
          const registered = ctx.addCallback(() => { ran = true; });
          seen.resolve({ registered, ran: () => ran });
        }, { once: true });
        await delay(ctx.signal, 10_000);
        return 'late';
      }, decode, encode),
    });
    const session = http2.connect(`http://${s.address}`);
    const stream = session.request(grpcHeaders('/test.Svc/Wait', { 'grpc-timeout': '50m' }));
    stream.on('error', () => undefined);
    const headers = defer<http2.IncomingHttpHeaders>(); // Trailers-Only: the status is in the headers
    stream.on('response', (h) => headers.resolve(h));
    stream.end(frame('x'));
    const { registered, ran } = await seen;
    assert.equal((await headers)['grpc-status'], String(StatusCode.DEADLINE_EXCEEDED));
    stream.close();
    session.close();
    assert.equal(registered, false);
    assert.equal(ran(), false);
  });
});
