import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isAbortError } from 'abort-controller-x';
import { RpcError, StatusCode, encodeFrame } from '../../lib/protocol/index.js';
import { constants as h2constants } from 'node:http2';
import { serverCalls } from '../helpers/server-calls.js';

// The request iterator of a server call over a node:http2 stream keeps an async generator's
// contract, which handlers, interceptors and the worker pool rely on.

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString();
const frame = (s: string): Buffer => encodeFrame(Buffer.from(s));
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Http2ServerCall request iterator', () => {
  const { open } = serverCalls();

  it('reads nothing before the first next(), and is its own async iterator', async () => {
    const { req, call } = await open();
    const it = call.requests(text)[Symbol.asyncIterator]();
    assert.equal(it[Symbol.asyncIterator](), it);
    req.end(frame('a'));
    await tick();
    await tick();
    assert.deepEqual(await it.next(), { value: 'a', done: false });
    assert.deepEqual(await it.next(), { value: undefined, done: true });
    assert.deepEqual(await it.next(), { value: undefined, done: true });
    call.finish(StatusCode.OK, '');
  });

  it('settles next() calls made while one waits in the order they were made', async () => {
    const { req, call } = await open();
    const it = call.requests(text)[Symbol.asyncIterator]();
    const order: string[] = [];
    const calls = [0, 1, 2, 3].map((i) => it.next().then((r) => (order.push(`${i}:${String(r.value)}`), r)));
    await tick();
    req.write(frame('a'));
    await tick();
    req.end(Buffer.concat([frame('b'), frame('c')]));
    const results = await Promise.all(calls);
    assert.deepEqual(order, ['0:a', '1:b', '2:c', '3:undefined']);
    assert.deepEqual(results[3], { value: undefined, done: true });
    call.finish(StatusCode.OK, '');
  });

  it('return() made while next() waits ends it after that next() settles; later next() is done', async () => {
    const { req, call } = await open();
    const it = call.requests(text)[Symbol.asyncIterator]();
    const first = it.next();
    await tick();
    let returned = false;
    const ret = it.return!(undefined).then((r) => ((returned = true), r));
    const later = it.next();
    await tick();
    assert.equal(returned, false, 'a generator answers return() in turn, after the waiting next()');
    req.write(Buffer.concat([frame('a'), frame('b')]));
    assert.deepEqual(await first, { value: 'a', done: false });
    assert.deepEqual(await ret, { value: undefined, done: true });
    assert.deepEqual(await later, { value: undefined, done: true }, 'the message after return() is not given out');
    assert.equal(call.active, true, 'return() does not end the call');
    call.finish(StatusCode.OK, '');
  });

  it('return() before the first next() ends it without reading', async () => {
    const { req, call } = await open();
    const it = call.requests(text)[Symbol.asyncIterator]();
    assert.deepEqual(await it.return!(), { value: undefined, done: true });
    req.write(frame('a'));
    await tick();
    assert.deepEqual(await it.next(), { value: undefined, done: true });
    call.finish(StatusCode.OK, '');
  });

  it('a bad frame rejects the waiting next() with an RpcError and ends the call with its status; queued next() is done', async () => {
    const { req, call } = await open();
    const it = call.requests(text)[Symbol.asyncIterator]();
    const first = it.next();
    const second = it.next();
    await tick();
    req.write(Buffer.from([7, 0, 0, 0, 1, 0]));
    await assert.rejects(first, (err: unknown) => err instanceof RpcError && err.code === StatusCode.INTERNAL && /compressed flag is 7/.test(err.details));
    assert.deepEqual(await second, { value: undefined, done: true });
    assert.deepEqual(await it.next(), { value: undefined, done: true });
    assert.equal(call.active, false);
    assert.equal(call.status?.code, StatusCode.INTERNAL);
  });

  it('a cancel while next() waits rejects it with an AbortError; it stays done', async () => {
    const { call } = await open();
    const it = call.requests(text)[Symbol.asyncIterator]();
    const first = it.next();
    const second = it.next();
    await tick();
    call.cancel(new RpcError(StatusCode.CANCELLED, 'stop'), false);
    await assert.rejects(first, (err: unknown) => isAbortError(err) && (err as { cause?: RpcError }).cause?.details === 'stop');
    assert.deepEqual(await second, { value: undefined, done: true });
    assert.deepEqual(await it.next(), { value: undefined, done: true });
  });

  it('a client reset while next() waits rejects it with an AbortError', async () => {
    const { req, call } = await open();
    const it = call.requests(text)[Symbol.asyncIterator]();
    const first = it.next();
    await tick();
    req.close(h2constants.NGHTTP2_CANCEL);
    await assert.rejects(first, (err: unknown) => isAbortError(err));
    assert.equal(call.cancelled, true);
  });

  it('throw() at a message ends it with that error; an RpcError ends the call with its status', async () => {
    const { req, call } = await open();
    const it = call.requests(text)[Symbol.asyncIterator]();
    req.write(Buffer.concat([frame('a'), frame('b')]));
    assert.deepEqual(await it.next(), { value: 'a', done: false });
    const err = new RpcError(StatusCode.INVALID_ARGUMENT, 'no');
    await assert.rejects(it.throw!(err), (e: unknown) => e === err);
    assert.deepEqual(await it.next(), { value: undefined, done: true });
    assert.equal(call.status?.code, StatusCode.INVALID_ARGUMENT);
  });

  it('throw() before the first next() rejects with that error and leaves the call alone', async () => {
    const { call } = await open();
    const it = call.requests(text)[Symbol.asyncIterator]();
    const err = new RpcError(StatusCode.INVALID_ARGUMENT, 'no');
    await assert.rejects(it.throw!(err), (e: unknown) => e === err);
    assert.deepEqual(await it.next(), { value: undefined, done: true });
    assert.equal(call.active, true);
    call.finish(StatusCode.OK, '');
  });

  it('a decode that throws rejects that next(); the message is not retried', async () => {
    const { req, call } = await open();
    const it = call
      .requests((bytes) => {
        if (text(bytes) === 'bad') throw new RpcError(StatusCode.INTERNAL, 'Cannot parse');
        return text(bytes);
      })
      [Symbol.asyncIterator]();
    req.write(Buffer.concat([frame('bad'), frame('b')]));
    await assert.rejects(it.next(), (e: unknown) => e instanceof RpcError && e.details === 'Cannot parse');
    assert.deepEqual(await it.next(), { value: undefined, done: true });
    assert.equal(call.status?.code, StatusCode.INTERNAL);
  });
});
