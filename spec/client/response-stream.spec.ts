import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { Compression, RpcError, StatusCode, insecureChannel, server, unaryStreamRpcMethodHandler, type Channel, type ServicerContext } from '../../lib/index.js';
import { defer, type Deferred } from '../helpers/grpc.js';
import { frame } from '../helpers/raw.js';

// Reading a server stream: messages already received are taken without waiting, others are
// awaited; either way they come out in the order they were sent, one per read.

const cleanup: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

/** A bare HTTP/2 server: on each call it waits for `go`, then sends `body` in one write and status 0. */
async function rawServer(body: Buffer, go: Deferred<void> | undefined, headers: http2.OutgoingHttpHeaders = {}): Promise<Channel> {
  const srv = http2.createServer();
  srv.on('stream', (stream) => {
    stream.on('error', () => undefined);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...headers }, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.resume();
    void (go ?? Promise.resolve()).then(() => stream.end(body));
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => srv.close(resolve)));
  const channel = insecureChannel(`127.0.0.1:${(srv.address() as AddressInfo).port}`);
  cleanup.push(() => channel.close());
  return channel;
}

const text = (b: Uint8Array): string => Buffer.from(b).toString();
const withTimeout = <T>(p: Promise<T>, what: string): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), 5000).unref())]);

describe('reading a server stream', () => {
  it('keeps the order and the compressed flag of each message when plain and gzip messages arrive in one chunk', async () => {
    const sent = Array.from({ length: 300 }, (_, i) => ({ value: `m${i}`, compressed: i % 7 === 3 }));
    const body = Buffer.concat(sent.map((m) => (m.compressed ? frame(gzipSync(m.value), true) : frame(m.value))));
    const channel = await rawServer(body, undefined, { 'grpc-encoding': 'gzip' });
    const call = channel.unaryStream('/t.S/Many', (s: string) => Buffer.from(s), text)('');
    const got: Array<{ value: string; compressed: boolean }> = [];
    for await (const value of call) got.push({ value, compressed: call.responseCompressed() });
    assert.deepEqual(got, sent);
    assert.equal(await call.code(), StatusCode.OK);
  });

  it('answers reads started before any message arrived in order, one message each', async () => {
    const go = defer<void>();
    const channel = await rawServer(Buffer.concat(['a', 'b', 'c', 'd'].map((s) => frame(s))), go);
    const call = channel.unaryStream('/t.S/Many', (s: string) => Buffer.from(s), text)('');
    const it = call[Symbol.asyncIterator]();
    const reads = [it.next(), it.next(), it.next()];
    await call.initialMetadata();
    go.resolve();
    const results = await withTimeout(Promise.all(reads), 'three reads started together');
    assert.deepEqual(
      results.map((r) => r.value),
      ['a', 'b', 'c'],
    );
    assert.deepEqual(await withTimeout(it.next(), 'fourth read'), { done: false, value: 'd' });
    assert.deepEqual(await withTimeout(it.next(), 'end'), { done: true, value: undefined });
  });

  it('rejects the read of a message its deserializer cannot decode with INTERNAL, after the messages before it', async () => {
    const channel = await rawServer(Buffer.concat(['ok1', 'ok2', 'bad', 'ok4'].map((s) => frame(s))), undefined);
    const call = channel.unaryStream('/t.S/Many', (s: string) => Buffer.from(s), (b) => {
      const s = text(b);
      if (s === 'bad') throw new Error('not decodable');
      return s;
    })('');
    const it = call[Symbol.asyncIterator]();
    assert.equal((await it.next()).value, 'ok1');
    assert.equal((await it.next()).value, 'ok2');
    await assert.rejects(it.next(), (err: unknown) => err instanceof RpcError && err.code === StatusCode.INTERNAL && err.details === 'Cannot deserialize response');
    await it.return?.();
  });
});

describe('reading a server stream whose trailers arrive while the client holds data back', () => {
  it('keeps every message: a compressed one being inflated pauses the stream, and the status waits for the data behind it', async () => {
    // The server alternates compressed and plain messages. While the client inflates a compressed
    // one it pauses the stream; the trailers can arrive then, ahead of data still buffered in it.
    const srv = server({ compression: Compression.Gzip });
    srv.addRegisteredMethodHandlers('test.Stream', {
      Alternate: unaryStreamRpcMethodHandler(
        async function* (_request: Uint8Array, context: ServicerContext) {
          for (let i = 1; i <= 4; i++) {
            if (i % 2 === 0) context.disableNextMessageCompression();
            yield Buffer.from(`m${i}`);
          }
        },
        (b: Uint8Array) => b,
        (b: Uint8Array) => b,
      ),
    });
    const port = await srv.addInsecurePort('127.0.0.1:0');
    await srv.start();
    const channel = insecureChannel(`127.0.0.1:${port}`);
    try {
      const call = channel.unaryStream('/test.Stream/Alternate', (b: Uint8Array) => b, text);
      // One stream lost its last messages about every other time before the fix.
      for (let round = 0; round < 40; round++) {
        const got: string[] = [];
        for await (const m of call(new Uint8Array(0))) got.push(m);
        assert.deepEqual(got, ['m1', 'm2', 'm3', 'm4'], `round ${round}`);
      }
    } finally {
      channel.close();
      await srv.stop(null);
    }
  });
});
