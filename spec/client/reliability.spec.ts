// Issue 10, client half: every error, cancel and abuse path ends the call with the right status,
// against servers we did not write (raw node:http2 here).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { RpcError, StatusCode, insecureChannel, type Channel } from '../../lib/index.js';
import { frame } from '../helpers/raw.js';
import { decode, defer, encode } from '../helpers/grpc.js';

const cleanup: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});
const keep = (ch: Channel): Channel => (cleanup.push(() => ch.close()), ch);

async function rawServer(onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void): Promise<string> {
  const raw = http2.createServer();
  raw.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    onStream(stream, headers);
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => raw.close(resolve)));
  return `127.0.0.1:${(raw.address() as AddressInfo).port}`;
}

/** Rejects with a clear message if `promise` has not settled within `ms` (a hang fails the test instead of the suite). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function collect(call: AsyncIterable<string>): Promise<{ got: string[]; error: unknown }> {
  const got: string[] = [];
  try {
    for await (const m of call) got.push(m);
  } catch (error) {
    return { got, error };
  }
  return { got, error: undefined };
}

const grpcResponse = { ':status': 200, 'content-type': 'application/grpc' };

/** A server that answers with one good gzip message, then `bad`, and never ends the stream. */
async function gzipServer(bad: Buffer): Promise<string> {
  return rawServer((stream) => {
    stream.on('data', () => undefined);
    stream.respond({ ...grpcResponse, 'grpc-encoding': 'gzip' });
    stream.write(frame(gzipSync(Buffer.from('first')), true));
    stream.write(frame(bad, true));
  });
}

describe('client reliability (issue 10)', () => {
  for (const kind of ['serverStream', 'bidi'] as const) {
    it(`10: a ${kind} call whose compressed message is corrupt ends INTERNAL at once`, async () => {
      const address = await gzipServer(Buffer.from('this is not gzip'));
      const ch = keep(insecureChannel(address));
      const call = kind === 'serverStream' ? ch.unaryStream('/x.Y/Z', encode, decode)('') : ch.streamStream('/x.Y/Z', encode, decode)(['']);
      const { got, error } = await within(collect(call), 2000, 'the call to end');
      assert.deepEqual(got, ['first']);
      assert.equal((error as RpcError).code, StatusCode.INTERNAL);
      assert.equal(await call.code(), StatusCode.INTERNAL);
    });

    it(`10: a ${kind} call whose message inflates past the receive limit ends RESOURCE_EXHAUSTED at once`, async () => {
      const address = await gzipServer(gzipSync(Buffer.alloc(64 * 1024)));
      const ch = keep(insecureChannel(address, { 'grpc.max_receive_message_length': 1024 }));
      const call = kind === 'serverStream' ? ch.unaryStream('/x.Y/Z', encode, decode)('') : ch.streamStream('/x.Y/Z', encode, decode)(['']);
      const { got, error } = await within(collect(call), 2000, 'the call to end');
      assert.deepEqual(got, ['first']);
      assert.equal((error as RpcError).code, StatusCode.RESOURCE_EXHAUSTED);
    });
  }

  it('10: a unary call whose compressed response is corrupt ends INTERNAL', async () => {
    const address = await rawServer((stream) => {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        stream.respond({ ...grpcResponse, 'grpc-encoding': 'gzip' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(frame(Buffer.from('garbage'), true));
      });
    });
    const ch = keep(insecureChannel(address));
    await assert.rejects(within(ch.unaryUnary('/x.Y/Z')(new Uint8Array()), 2000, 'the call to end'), (err: RpcError) => err.code === StatusCode.INTERNAL);
  });

  for (const kind of ['unary', 'serverStream'] as const) {
    it(`10: a ${kind} request over grpc.max_send_message_length fails RESOURCE_EXHAUSTED and resets its stream`, async () => {
      const closed = defer<number | undefined>();
      const address = await rawServer((stream) => {
        stream.on('data', () => undefined);
        stream.on('close', () => closed.resolve(stream.rstCode));
      });
      const ch = keep(insecureChannel(address, { 'grpc.max_send_message_length': 10 }));
      const big = 'x'.repeat(100);
      if (kind === 'unary') {
        await assert.rejects(ch.unaryUnary('/x.Y/Z', encode, decode)(big), (err: RpcError) => err.code === StatusCode.RESOURCE_EXHAUSTED);
      } else {
        const { error } = await collect(ch.unaryStream('/x.Y/Z', encode, decode)(big));
        assert.equal((error as RpcError).code, StatusCode.RESOURCE_EXHAUSTED);
      }
      assert.equal(await within(closed, 2000, 'the server stream to close'), http2.constants.NGHTTP2_CANCEL);
    });
  }

  it('10: repeated response header and trailer keys arrive as separate values', async () => {
    const address = await rawServer((stream) => {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        stream.respond({ ...grpcResponse, 'x-multi': ['one', 'two, three'] }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-trail': ['a', 'b'] }));
        stream.end(frame('ok'));
      });
    });
    const ch = keep(insecureChannel(address));
    const result = await ch.unaryUnary('/x.Y/Z', encode, decode).withCall('');
    assert.deepEqual(result.initialMetadata.getAll('x-multi'), ['one', 'two, three']);
    assert.deepEqual(result.trailingMetadata.getAll('x-trail'), ['a', 'b']);
    const streaming = ch.unaryStream('/x.Y/Z', encode, decode)('');
    assert.deepEqual((await collect(streaming)).got, ['ok']);
    assert.deepEqual((await streaming.initialMetadata()).getAll('x-multi'), ['one', 'two, three']);
    assert.deepEqual((await streaming.trailingMetadata()).getAll('x-trail'), ['a', 'b']);
  });

  it('10: a connection that closes in the middle of a call ends it UNAVAILABLE', async () => {
    const address = await rawServer((stream) => {
      stream.on('data', () => undefined);
      stream.respond(grpcResponse);
      stream.write(frame('partial'), () => stream.session?.destroy());
    });
    const ch = keep(insecureChannel(address));
    const call = ch.unaryStream('/x.Y/Z', encode, decode)('');
    const { got, error } = await within(collect(call), 2000, 'the call to end');
    assert.deepEqual(got, ['partial']);
    assert.equal((error as RpcError).code, StatusCode.UNAVAILABLE);
    await assert.rejects(ch.unaryUnary('/x.Y/Z')(new Uint8Array()), (err: RpcError) => err.code === StatusCode.UNAVAILABLE);
  });

  it('10: a stream reset with REFUSED_STREAM ends UNAVAILABLE, not INTERNAL', async () => {
    const address = await rawServer((stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM));
    const ch = keep(insecureChannel(address));
    await assert.rejects(ch.unaryUnary('/x.Y/Z')(new Uint8Array()), (err: RpcError) => err.code === StatusCode.UNAVAILABLE);
  });
});

describe('client receive buffer (issue 10)', () => {
  it('10: a consumer that stops reading holds a bounded number of bytes, not 32 large messages', async () => {
    const size = 256 * 1024;
    let flushed = 0;
    const stalled = defer();
    const address = await rawServer((stream) => {
      stream.on('data', () => undefined);
      stream.respond(grpcResponse);
      const message = frame(Buffer.alloc(size, 7));
      let idle: NodeJS.Timeout | undefined;
      const writeNext = (): void => {
        if (stream.destroyed) return;
        clearTimeout(idle);
        idle = setTimeout(() => stalled.resolve(), 300); // no write completed for 300 ms: the client holds back
        stream.write(message, () => {
          flushed++;
          if (flushed < 64) writeNext();
        });
      };
      writeNext();
    });
    const ch = keep(insecureChannel(address, { 'grpc.max_receive_message_length': -1 }));
    const call = ch.unaryStream('/x.Y/Z', encode, (b) => b.length)('');
    const iterator = call[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).value, size);
    await within(stalled, 10_000, 'the server to be held back');
    // 256 KiB of buffer, the message crossing it and the HTTP/2 windows: well under 32 messages.
    assert.ok(flushed <= 8, `${flushed} messages of 256 KiB left the server for a consumer that read one`);
    for (let i = 1; i < 12; i++) assert.equal((await iterator.next()).value, size);
    assert.ok(flushed >= 12, 'reading again lets the server go on');
    call.cancel();
  });
});
