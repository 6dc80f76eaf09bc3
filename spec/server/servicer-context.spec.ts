import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { delay } from 'abort-controller-x';
import {
  inProcessChannel,
  Metadata,
  RpcError,
  StatusCode,
  streamStreamRpcMethodHandler,
  unaryStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
  type ServicerContext,
} from '../../lib/index.js';
import { decode, defer, encode, eventually, startServer } from '../helpers/grpc.js';
import { TRANSPORTS, type Served, type TestClient } from '../helpers/transports.js';

// Every test runs over both transports: the network (a grpc-js client) and in-process (our client).
for (const transport of TRANSPORTS) describe(`ServicerContext (${transport.name})`, () => {
  let served: Served;
  let client: TestClient;
  const seen: { ctx?: ServicerContext; active?: boolean; remaining?: number | null } = {};
  const callbacks: string[] = [];
  let abortReason = defer<unknown>();
  let callbackAdded = defer<boolean>();

  before(async () => {
    served = await transport.serve({
      Metadata: unaryUnaryRpcMethodHandler((_r: string, ctx) => {
        const md = ctx.invocationMetadata();
        const bin = md.get('trace-bin') as Uint8Array | undefined;
        return JSON.stringify({ plain: md.get('x-plain'), many: md.getAll('x-many'), bin: bin ? [...bin] : null, ua: String(md.get('user-agent') ?? '') });
      }, decode, encode),
      Peer: unaryUnaryRpcMethodHandler((_r: string, ctx) => JSON.stringify({ peer: ctx.peer(), key: ctx.peerIdentityKey(), ids: ctx.peerIdentities(), type: Buffer.from(ctx.authContext().transport_security_type![0]!).toString() }), decode, encode),
      Initial: unaryStreamRpcMethodHandler(function* (_r: string, ctx) {
        ctx.sendInitialMetadata({ 'x-initial': 'yes', 'init-bin': new Uint8Array([9, 8]) });
        let second = 'none';
        try {
          ctx.sendInitialMetadata({ 'x-again': '1' });
        } catch (err) {
          second = (err as Error).message;
        }
        yield second;
      }, decode, encode),
      InitialAfterMessage: unaryStreamRpcMethodHandler(function* (_r: string, ctx) {
        yield 'first';
        try {
          ctx.sendInitialMetadata({ late: '1' });
          yield 'accepted';
        } catch {
          yield 'refused';
        }
      }, decode, encode),
      Trailing: unaryUnaryRpcMethodHandler((_r: string, ctx) => {
        ctx.setTrailingMetadata([['x-trail', 'a'], ['trail-bin', new Uint8Array([1, 2, 255])]]);
        return 'ok';
      }, decode, encode),
      Abort: unaryUnaryRpcMethodHandler((r: string, ctx) => {
        ctx.setTrailingMetadata({ 'x-why': 'because' });
        return ctx.abort(StatusCode.FAILED_PRECONDITION, r);
      }, decode, encode),
      AbortOk: unaryUnaryRpcMethodHandler((_r: string, ctx) => {
        try {
          ctx.abort(StatusCode.OK, 'fine');
        } catch (err) {
          return `${(err as Error).name}:${err instanceof TypeError}`;
        }
        return 'not refused';
      }, decode, encode),
      AbortWithStatus: unaryUnaryRpcMethodHandler((_r: string, ctx) => {
        return ctx.abortWithStatus({ code: StatusCode.PERMISSION_DENIED, details: 'no entry', trailingMetadata: new Metadata({ 'x-policy': 'strict' }) });
      }, decode, encode),
      SetCode: unaryUnaryRpcMethodHandler((_r: string, ctx) => {
        ctx.setCode(StatusCode.NOT_FOUND);
        ctx.setDetails('missing thing');
        return 'dropped';
      }, decode, encode),
      SetCodeThenThrow: unaryUnaryRpcMethodHandler((_r: string, ctx) => {
        ctx.setCode(StatusCode.INVALID_ARGUMENT);
        ctx.setDetails('bad input');
        throw new Error('internal detail');
      }, decode, encode),
      SetDetailsOk: unaryUnaryRpcMethodHandler((_r: string, ctx) => {
        ctx.setDetails('all good');
        return 'x';
      }, decode, encode),
      Lifecycle: unaryUnaryRpcMethodHandler((_r: string, ctx) => {
        seen.ctx = ctx;
        seen.active = ctx.isActive();
        seen.remaining = ctx.timeRemaining();
        ctx.addCallback(() => callbacks.push('done'));
        return String(ctx.deadline?.getTime() ?? 'none');
      }, decode, encode),
      Cancel: unaryStreamRpcMethodHandler(async function* (_r: string, ctx) {
        ctx.signal.addEventListener('abort', () => abortReason.resolve(ctx.signal.reason), { once: true });
        callbackAdded.resolve(ctx.addCallback(() => callbacks.push('cancelled')));
        yield 'before';
        ctx.cancel();
        yield 'after';
      }, decode, encode),
      Wait: streamStreamRpcMethodHandler(async function* (_reqs: AsyncIterable<string>, ctx) {
        ctx.signal.addEventListener('abort', () => abortReason.resolve(ctx.signal.reason), { once: true });
        ctx.addCallback(() => callbacks.push('client-cancel'));
        yield 'ready';
        await delay(ctx.signal, 10_000);
      }, decode, encode),
    }, {
      Metadata: 'unary', Peer: 'unary', Initial: 'serverStream', InitialAfterMessage: 'serverStream', Trailing: 'unary', Abort: 'unary', AbortOk: 'unary',
      AbortWithStatus: 'unary', SetCode: 'unary', SetCodeThenThrow: 'unary', SetDetailsOk: 'unary', Lifecycle: 'unary', Cancel: 'serverStream', Wait: 'bidi',
    });
    client = served.client;
  });
  after(() => served.close());

  it('invocationMetadata() holds the client metadata, -bin values as bytes', async () => {
    const metadata = [['x-plain', 'v'], ['x-many', '1'], ['x-many', '2'], ['trace-bin', Buffer.from([0, 1, 254, 255])]] as const;
    const got = JSON.parse((await client.unary('Metadata', '', { metadata })).value!);
    assert.equal(got.plain, 'v');
    assert.deepEqual(got.many, ['1', '2']);
    assert.deepEqual(got.bin, [0, 1, 254, 255]);
    assert.match(got.ua, transport.userAgent);
  });

  it('peer() names the client; an insecure call has no identity', async () => {
    const got = JSON.parse((await client.unary('Peer', '')).value!);
    assert.match(got.peer, transport.peer);
    assert.equal(got.key, null);
    assert.equal(got.ids, null);
    assert.equal(got.type, 'insecure');
  });

  it('sendInitialMetadata() sends headers once; a second call throws', async () => {
    const r = await client.serverStream('Initial', '');
    assert.equal(r.headers.get('x-initial'), 'yes');
    assert.deepEqual([...(r.headers.get('init-bin') as Buffer)], [9, 8]);
    assert.match(r.value![0]!, /already sent/);
    assert.equal(r.headers.getAll('x-again').length, 0);
  });

  it('sendInitialMetadata() after the first response message is refused', async () => {
    assert.deepEqual((await client.serverStream('InitialAfterMessage', '')).value, ['first', 'refused']);
  });

  it('setTrailingMetadata() sends trailers with the status, -bin included', async () => {
    const r = await client.unary('Trailing', '');
    assert.equal(r.trailers.get('x-trail'), 'a');
    assert.deepEqual([...(r.trailers.get('trail-bin') as Buffer)], [1, 2, 255]);
  });

  it('abort() ends the call with its code, percent-encoded details and the trailers set', async () => {
    const details = 'Ünïcode % and\nnewline 😀';
    const r = await client.unary('Abort', details);
    assert.equal(r.code, StatusCode.FAILED_PRECONDITION);
    assert.equal(r.details, details);
    assert.equal(r.trailers.get('x-why'), 'because');
  });

  it('abort(OK) is refused with a TypeError', async () => {
    assert.equal((await client.unary('AbortOk', '')).value, 'TypeError:true');
  });

  it('abortWithStatus() sends the status and its trailing metadata', async () => {
    const r = await client.unary('AbortWithStatus', '');
    assert.equal(r.code, StatusCode.PERMISSION_DENIED);
    assert.equal(r.details, 'no entry');
    assert.equal(r.trailers.get('x-policy'), 'strict');
  });

  it('setCode()/setDetails() set the status; a non-OK code drops the response', async () => {
    const r = await client.unary('SetCode', '');
    assert.equal(r.code, StatusCode.NOT_FOUND);
    assert.equal(r.details, 'missing thing');
    assert.equal(r.value, undefined);
  });

  it('a handler that throws after setCode() sends the code it set, not UNKNOWN', async () => {
    const r = await client.unary('SetCodeThenThrow', '');
    assert.equal(r.code, StatusCode.INVALID_ARGUMENT);
    assert.equal(r.details, 'bad input');
  });

  it('setDetails() with OK sends the details in the status', async () => {
    const r = await client.unary('SetDetailsOk', '');
    assert.equal(r.value, 'x');
    assert.equal(r.code, StatusCode.OK);
    assert.equal(r.details, 'all good');
  });

  it('isActive(), timeRemaining(), deadline and addCallback() over a call with a deadline', async () => {
    callbacks.length = 0;
    const deadline = new Date(Date.now() + 5000);
    const r = await client.unary('Lifecycle', '', { deadline });
    assert.equal(seen.active, true);
    assert.ok(seen.remaining! > 3 && seen.remaining! <= 5, `timeRemaining ${seen.remaining}`);
    assert.ok(Math.abs(Number(r.value) - deadline.getTime()) < 1000, 'deadline matches the client deadline');
    await eventually(() => callbacks.includes('done'), 2000, 'the callback');
    assert.equal(seen.ctx!.isActive(), false);
    assert.equal(seen.ctx!.addCallback(() => callbacks.push('late')), false, 'addCallback after the end returns false');
  });

  it('timeRemaining() is null and deadline undefined without a client deadline', async () => {
    const r = await client.unary('Lifecycle', '');
    assert.equal(seen.remaining, null);
    assert.equal(r.value, 'none');
  });

  it('cancel() ends the call CANCELLED for the client and aborts the signal', async () => {
    abortReason = defer();
    callbackAdded = defer();
    callbacks.length = 0;
    const r = await client.serverStream('Cancel', '');
    assert.equal(await callbackAdded, true);
    assert.equal(r.code, StatusCode.CANCELLED);
    assert.deepEqual(r.value, ['before']);
    const reason = await abortReason;
    assert.ok(reason instanceof RpcError);
    assert.equal(reason.code, StatusCode.CANCELLED);
    assert.deepEqual(callbacks, ['cancelled']);
  });

  it('a client cancel aborts the handler signal with CANCELLED and runs callbacks', async () => {
    abortReason = defer();
    callbacks.length = 0;
    const call = client.open('Wait');
    assert.equal(await call.message(), 'ready');
    call.cancel();
    const reason = await abortReason;
    assert.ok(reason instanceof RpcError);
    assert.equal(reason.code, StatusCode.CANCELLED);
    await eventually(() => callbacks.includes('client-cancel'), 2000, 'the cancel callback');
    assert.equal((await call.done).code, StatusCode.CANCELLED);
  });
});

// In-process only: a channel option the grpc-js client has no counterpart for here.
describe('ServicerContext (in-process only)', () => {
  it('invocationMetadata() holds the channel user-agent, grpc.primary_user_agent first, as over HTTP/2', async () => {
    const s = await startServer({ UserAgent: unaryUnaryRpcMethodHandler((_r: string, ctx) => String(ctx.invocationMetadata().get('user-agent')), decode, encode) });
    const channel = inProcessChannel(s.srv, { options: { 'grpc.primary_user_agent': 'my-app/1.0' } });
    try {
      assert.match(await channel.unaryUnary('/test.Svc/UserAgent', encode, decode)(''), /^my-app\/1\.0 grpc-iter\/\S+$/);
    } finally {
      channel.close();
      await s.close();
    }
  });
});
