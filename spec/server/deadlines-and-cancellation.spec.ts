import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { delay, isAbortError } from 'abort-controller-x';
import {
  RpcError,
  StatusCode,
  streamStreamRpcMethodHandler,
  streamUnaryRpcMethodHandler,
  unaryStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
} from '../../lib/index.js';
import { decode, defer, encode, eventually, type Deferred } from '../helpers/grpc.js';
import { IN_PROCESS, NETWORK, TRANSPORTS, type Served, type TestClient } from '../helpers/transports.js';

interface Observed {
  reason: Deferred<unknown>;
  iteratorError: Deferred<unknown>;
  finallyRan: Deferred<void>;
  signal?: AbortSignal;
}

// What the handlers saw of the call in flight; each test starts with a fresh one.
const fresh = (): Observed => ({ reason: defer(), iteratorError: defer(), finallyRan: defer() });
let obs = fresh();
const watch = (signal: AbortSignal): void => {
  obs.signal = signal;
  signal.addEventListener('abort', () => obs.reason.resolve(signal.reason), { once: true });
};

const handlers = {
  SlowUnary: unaryUnaryRpcMethodHandler(async (_r: string, ctx) => {
    watch(ctx.signal);
    try {
      await delay(ctx.signal, 10_000);
      return 'late';
    } finally {
      obs.finallyRan.resolve();
    }
  }, decode, encode),
  Ticker: unaryStreamRpcMethodHandler(async function* (_r: string, ctx) {
    watch(ctx.signal);
    try {
      for (let i = 0; ; i++) {
        yield `tick${i}`;
        await delay(ctx.signal, 5);
      }
    } finally {
      obs.finallyRan.resolve();
    }
  }, decode, encode),
  Upload: streamUnaryRpcMethodHandler(async (reqs: AsyncIterable<string>, ctx) => {
    watch(ctx.signal);
    try {
      for await (const _ of reqs);
      await delay(ctx.signal, 5000); // more work after the requests end
      return 'finished';
    } catch (err) {
      obs.iteratorError.resolve(err);
      throw err;
    } finally {
      obs.finallyRan.resolve();
    }
  }, decode, encode),
  Chat: streamStreamRpcMethodHandler(async function* (reqs: AsyncIterable<string>, ctx) {
    watch(ctx.signal);
    try {
      for await (const r of reqs) yield r;
      await delay(ctx.signal, 5000); // more work after the requests end
    } catch (err) {
      obs.iteratorError.resolve(err);
      throw err;
    } finally {
      obs.finallyRan.resolve();
    }
  }, decode, encode),
  Echo: streamStreamRpcMethodHandler(async function* (reqs: AsyncIterable<string>, ctx) {
    watch(ctx.signal);
    try {
      for await (const r of reqs) yield r;
    } finally {
      obs.finallyRan.resolve();
    }
  }, decode, encode),
};
const methods = { SlowUnary: 'unary', Ticker: 'serverStream', Upload: 'clientStream', Chat: 'bidi', Echo: 'bidi' } as const;

// These tests run over both transports: the network (a grpc-js client) and in-process (our client).
for (const transport of TRANSPORTS) describe(`deadlines and cancellation reach the handler (${transport.name})`, () => {
  let served: Served;
  let client: TestClient;
  before(async () => {
    served = await transport.serve(handlers, methods);
    client = served.client;
  });
  after(() => served.close());

  it('a passing client deadline gives the client DEADLINE_EXCEEDED and stops the handler at once', async () => {
    obs = fresh();
    const started = Date.now();
    const r = await client.unary('SlowUnary', '', { deadline: new Date(Date.now() + 150) });
    assert.equal(r.code, StatusCode.DEADLINE_EXCEEDED);
    const reason = await obs.reason;
    assert.ok(reason instanceof RpcError);
    // The client's timer and the server's deadline race: whichever fires first decides
    // whether the handler sees DEADLINE_EXCEEDED or the client's cancel (CANCELLED).
    assert.ok(reason.code === StatusCode.DEADLINE_EXCEEDED || reason.code === StatusCode.CANCELLED, `reason ${reason.code}`);
    await obs.finallyRan;
    assert.ok(Date.now() - started < 2000, 'the handler stopped waiting long before its 10 s delay');
  });

  it('cancelling a server stream aborts the signal with CANCELLED and runs the finally block', async () => {
    obs = fresh();
    const call = client.open('Ticker', '');
    await call.message();
    call.cancel();
    const reason = await obs.reason;
    assert.ok(reason instanceof RpcError);
    assert.equal(reason.code, StatusCode.CANCELLED);
    await obs.finallyRan;
    await eventually(() => getEventListeners(obs.signal!, 'abort').length === 0, 2000, 'abort listeners to be removed');
    assert.equal((await call.done).code, StatusCode.CANCELLED);
  });

  it('cancelling a client stream never completes the call OK', async () => {
    obs = fresh();
    const call = client.open('Upload');
    call.write('one');
    await eventually(() => obs.signal !== undefined, 2000, 'the handler to start');
    call.cancel();
    assert.equal((await call.done).code, StatusCode.CANCELLED);
    // grpc-js half-closes before it resets, so the handler may see the requests end first;
    // either way its signal aborts CANCELLED while it still works, and it never sends OK.
    assert.equal(((await obs.reason) as RpcError).code, StatusCode.CANCELLED);
    await obs.finallyRan;
  });

  it('cancelling a bidi call aborts the handler signal with CANCELLED', async () => {
    obs = fresh();
    const call = client.open('Chat');
    call.write('a');
    await call.message();
    call.cancel();
    assert.equal(((await obs.reason) as RpcError).code, StatusCode.CANCELLED);
    await obs.finallyRan;
  });

  it('a normal finish does not abort the signal', async () => {
    obs = fresh();
    const r = await client.bidi('Echo', ['x']);
    assert.equal(r.code, StatusCode.OK);
    await obs.finallyRan;
    assert.equal(obs.signal!.aborted, false);
  });
});

// Network only: these speak raw HTTP/2 (a grpc-timeout with no client timer, an RST_STREAM
// from a python h2 peer), which the in-process transport has no counterpart for.
describe('deadlines and cancellation reach the handler (network only: raw HTTP/2)', () => {
  let served: Served;
  before(async () => {
    served = await NETWORK.serve(handlers, methods);
  });
  after(() => served.close());

  it('the server enforces the deadline itself (grpc-timeout), before the client gives up', async () => {
    obs = fresh();
    const { rawRequest, grpcHeaders, frame, statusOf } = await import('../helpers/raw.js');
    const r = await rawRequest(served.server.address, grpcHeaders('/test.Svc/SlowUnary', { 'grpc-timeout': '100m' }), frame('x'));
    assert.equal(statusOf(r).code, StatusCode.DEADLINE_EXCEEDED);
    assert.equal(((await obs.reason) as RpcError).code, StatusCode.DEADLINE_EXCEEDED);
  });

  it('a reset without a half-close (as grpc-go and C-core cancel) makes the request iterator throw an AbortError', async () => {
    obs = fresh();
    const { execFile } = await import('node:child_process');
    const script = new URL('../helpers/h2_reset.py', import.meta.url).pathname;
    const out = await new Promise<string>((resolve, reject) =>
      execFile('/usr/bin/python3', [script, '127.0.0.1', String(served.server.port), '/test.Svc/Upload'], (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    assert.match(out, /reset sent/);
    const err = await obs.iteratorError;
    assert.ok(isAbortError(err), `expected an AbortError, got ${String(err)}`);
    assert.equal((err as { cause?: RpcError }).cause?.code, StatusCode.CANCELLED);
    assert.equal(((await obs.reason) as RpcError).code, StatusCode.CANCELLED);
    await obs.finallyRan;
  });

  it('the server deadline ends a client stream DEADLINE_EXCEEDED while the client is still sending', async () => {
    obs = fresh();
    const { rawRequest, grpcHeaders, frame, statusOf } = await import('../helpers/raw.js');
    // A raw client with grpc-timeout and no timer of its own, so the server's deadline decides.
    const r = await rawRequest(served.server.address, grpcHeaders('/test.Svc/Upload', { 'grpc-timeout': '150m' }), frame('one'), { endStream: false });
    assert.equal(statusOf(r).code, StatusCode.DEADLINE_EXCEEDED);
    assert.equal(((await obs.reason) as RpcError).code, StatusCode.DEADLINE_EXCEEDED);
    assert.ok(isAbortError(await obs.iteratorError), 'the request iterator throws rather than ends');
    await obs.finallyRan;
  });
});

// In-process only: our client cancels without half-closing, the in-process form of the reset
// the python h2 peer sends above.
describe('deadlines and cancellation reach the handler (in-process only)', () => {
  let served: Served;
  before(async () => {
    served = await IN_PROCESS.serve(handlers, methods);
  });
  after(() => served.close());

  it('a cancel without a half-close makes the request iterator throw an AbortError', async () => {
    obs = fresh();
    const call = served.client.open('Upload');
    call.write('one');
    await eventually(() => obs.signal !== undefined, 2000, 'the handler to start');
    call.cancel();
    const err = await obs.iteratorError;
    assert.ok(isAbortError(err), `expected an AbortError, got ${String(err)}`);
    assert.equal((err as { cause?: RpcError }).cause?.code, StatusCode.CANCELLED);
    assert.equal(((await obs.reason) as RpcError).code, StatusCode.CANCELLED);
    await obs.finallyRan;
    assert.equal((await call.done).code, StatusCode.CANCELLED);
  });
});
