// Issue 10, client half: every error, cancel and abuse path ends the call with the right status,
// against servers we did not write (raw node:http2 here).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { RpcError, StatusCode, insecureChannel, interceptChannel, metadataCallCredentials, type Channel, type ClientInterceptor, type MetadataInit } from '../../lib/index.js';
import type * as grpc from '@grpc/grpc-js';
import { frame } from '../helpers/raw.js';
import { startJsServer, type JsHandler } from '../helpers/js-server.js';
import { decode, defer, encode, eventually } from '../helpers/grpc.js';

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

  it('10: a request node:http2 refuses to send fails with an RpcError, on the unary fast path and streaming', async () => {
    let streams = 0;
    const address = await rawServer((stream) => {
      streams++;
      stream.respond(grpcResponse, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(frame('ok'));
    });
    const ch = keep(insecureChannel(address));
    await ch.waitForReady();
    // A connection-specific header (RFC 9113 §8.2.2) that is valid metadata: node:http2 throws at request().
    const metadata = { 'http2-settings': 'x' };
    await assert.rejects(ch.unaryUnary('/x.Y/Z')(new Uint8Array(), { metadata }), (err: unknown) => err instanceof RpcError && err.code === StatusCode.INTERNAL);
    const { error } = await collect(ch.unaryStream('/x.Y/Z', encode, decode)('', { metadata }));
    assert.ok(error instanceof RpcError, String(error));
    assert.equal(streams, 0);
    assert.equal(await ch.unaryUnary('/x.Y/Z', encode, decode)(''), 'ok', 'the channel still works');
    assert.equal(streams, 1);
  });

  it('10: RST_STREAM(NO_ERROR) before the trailers ends the call INTERNAL, also while a large request waits for its window', async () => {
    const address = await rawServer((stream) => {
      stream.respond(grpcResponse);
      stream.close(http2.constants.NGHTTP2_NO_ERROR); // never reads the request
    });
    const ch = keep(insecureChannel(address));
    await assert.rejects(within(ch.unaryUnary('/x.Y/Z')(new Uint8Array(300_000), { timeout: 5 }), 2000, 'the call to end'), (err: RpcError) => err.code === StatusCode.INTERNAL);
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

/** spec/helpers/h2_refuse.py: refuses the first `count` streams (RST_STREAM REFUSED_STREAM or GOAWAY), answers the rest OK. */
async function refusingServer(mode: 'refuse' | 'goaway', count: number): Promise<{ address: string; streams: () => number }> {
  const child = spawn('/usr/bin/python3', [fileURLToPath(new URL('../helpers/h2_refuse.py', import.meta.url)), mode, String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanup.push(() => child.kill());
  const lines = createInterface({ input: child.stdout });
  let streams = 0;
  const port = defer<string>();
  lines.on('line', (line) => (line.startsWith('stream') ? streams++ : port.resolve(line)));
  return { address: `127.0.0.1:${await within(port, 5000, 'the python server to start')}`, streams: () => streams };
}

/** A raw server answering every call Trailers-Only with `status` and `trailers`; counts the streams. */
async function failingServer(status: StatusCode, trailers: http2.OutgoingHttpHeaders = {}): Promise<{ address: string; times: number[] }> {
  const times: number[] = [];
  const address = await rawServer((stream) => {
    times.push(Date.now());
    stream.on('data', () => undefined);
    stream.respond({ ...grpcResponse, 'grpc-status': String(status), ...trailers }, { endStream: true });
  });
  return { address, times };
}

const retryConfig = (backoff: string): string =>
  JSON.stringify({ methodConfig: [{ name: [{}], retryPolicy: { maxAttempts: 3, initialBackoff: backoff, maxBackoff: backoff, backoffMultiplier: 1, retryableStatusCodes: ['UNAVAILABLE'] } }] });

describe('transparent retry and one retry loop (gRFC A6, issue 10)', () => {
  for (const mode of ['refuse', 'goaway'] as const) {
    it(`10: a stream refused before processing (${mode === 'refuse' ? 'REFUSED_STREAM' : 'above a GOAWAY last-stream-id'}) is retried once without a retry policy`, async () => {
      const server = await refusingServer(mode, 1);
      const ch = keep(insecureChannel(server.address));
      assert.equal(await within(ch.unaryUnary('/x.Y/Z', encode, decode)(''), 5000, 'the call'), 'ok');
      await eventually(() => server.streams() >= 2, 2000, 'the python server to report its streams');
      assert.equal(server.streams(), 2);
    });
  }

  it('10: a transparent retry happens once: a server that keeps refusing gets two streams and the call ends UNAVAILABLE', async () => {
    const server = await refusingServer('refuse', 100);
    const ch = keep(insecureChannel(server.address));
    await assert.rejects(within(ch.unaryUnary('/x.Y/Z')(new Uint8Array()), 5000, 'the call'), (err: RpcError) => err.code === StatusCode.UNAVAILABLE);
    await eventually(() => server.streams() >= 2, 2000, 'the python server to report its streams');
    assert.equal(server.streams(), 2);
  });

  it('10: refused server-streaming and bidi calls are retried transparently', async () => {
    for (const kind of ['serverStream', 'bidi'] as const) {
      const server = await refusingServer('refuse', 1);
      const ch = keep(insecureChannel(server.address));
      const call = kind === 'serverStream' ? ch.unaryStream('/x.Y/Z', encode, decode)('') : ch.streamStream('/x.Y/Z', encode, decode)(['a', 'b']);
      assert.deepEqual(await within(collect(call), 5000, 'the call'), { got: ['ok'], error: undefined });
      await eventually(() => server.streams() >= 2, 2000, 'the python server to report its streams');
      assert.equal(server.streams(), 2);
    }
  });

  it('10: a malformed grpc-retry-pushback-ms stops retries of a server-streaming call', async () => {
    const server = await failingServer(StatusCode.UNAVAILABLE, { 'grpc-retry-pushback-ms': 'soon' });
    const ch = keep(insecureChannel(server.address, { 'grpc.service_config': retryConfig('0.001s') }));
    const { error } = await collect(ch.unaryStream('/x.Y/Z', encode, decode)(''));
    assert.equal((error as RpcError).code, StatusCode.UNAVAILABLE);
    assert.equal(server.times.length, 1);
  });

  it('10: grpc-retry-pushback-ms sets the delay before the next attempt of a bidi call', async () => {
    const server = await failingServer(StatusCode.UNAVAILABLE, { 'grpc-retry-pushback-ms': '300' });
    const ch = keep(insecureChannel(server.address, { 'grpc.service_config': retryConfig('0.001s') }));
    const { error } = await collect(ch.streamStream('/x.Y/Z', encode, decode)(['a']));
    assert.equal((error as RpcError).code, StatusCode.UNAVAILABLE);
    assert.equal(server.times.length, 3);
    assert.ok(server.times[1]! - server.times[0]! >= 250, `${server.times[1]! - server.times[0]!} ms between attempts`);
  });

  it('10: aborting a server-streaming call during its backoff ends it CANCELLED without another stream', async () => {
    // Pushback, not the policy's jittered backoff, so the wait is certainly 500 ms.
    const server = await failingServer(StatusCode.UNAVAILABLE, { 'grpc-retry-pushback-ms': '500' });
    const ch = keep(insecureChannel(server.address, { 'grpc.service_config': retryConfig('0.001s') }));
    const controller = new AbortController();
    const call = ch.unaryStream('/x.Y/Z', encode, decode)('', { signal: controller.signal });
    const iterator = collect(call);
    while (server.times.length === 0) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 50)); // the first attempt has failed; the backoff runs
    controller.abort();
    const { error } = await within(iterator, 2000, 'the call to end');
    assert.equal((error as RpcError).code, StatusCode.CANCELLED);
    await new Promise((resolve) => setTimeout(resolve, 600)); // past the backoff: no stream may follow
    assert.equal(server.times.length, 1);
  });
});

describe('waits before a call starts (issue 10)', () => {
  it('10: a call-credentials plugin that never answers loses to the deadline and to abort', async () => {
    let streams = 0;
    const address = await rawServer(() => streams++);
    const ch = keep(insecureChannel(address, { 'grpc-iter.allow_insecure_call_credentials': 1 }));
    const never = metadataCallCredentials(() => new Promise<MetadataInit>(() => undefined));
    const started = Date.now();
    await assert.rejects(within(ch.unaryUnary('/x.Y/Z')(new Uint8Array(), { timeout: 0.2, credentials: never }), 2000, 'the deadline to win'), (err: RpcError) => err.code === StatusCode.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < 1500);
    const controller = new AbortController();
    const call = ch.unaryStream('/x.Y/Z')(new Uint8Array(), { signal: controller.signal, credentials: never });
    setTimeout(() => controller.abort(), 50);
    const { error } = await within(collect(call as AsyncIterable<unknown> as AsyncIterable<string>), 2000, 'the abort to win');
    assert.equal((error as RpcError).code, StatusCode.CANCELLED);
    assert.equal(await call.code(), StatusCode.CANCELLED);
    assert.equal(streams, 0, 'no stream was opened');
  });

  it('10: waiting for a connection leaves no deadline timer behind', async () => {
    // Track long timers made while the call waits for a connection that keeps failing.
    const live = new Set<unknown>();
    const realSet = globalThis.setTimeout;
    const realClear = globalThis.clearTimeout;
    globalThis.setTimeout = ((fn: () => void, ms?: number) => {
      const t = realSet(fn, ms);
      if ((ms ?? 0) >= 20_000) live.add(t);
      return t;
    }) as typeof setTimeout;
    globalThis.clearTimeout = ((t: NodeJS.Timeout | undefined) => {
      live.delete(t);
      realClear(t);
    }) as typeof clearTimeout;
    try {
      // A listener that drops every connection at once: each attempt fails, and is counted.
      let attempts = 0;
      const dropper = net.createServer((socket) => {
        attempts++;
        socket.destroy();
      });
      await new Promise<void>((resolve) => dropper.listen(0, '127.0.0.1', resolve));
      const port = (dropper.address() as AddressInfo).port;
      const ch = insecureChannel(`127.0.0.1:${port}`, { 'grpc.initial_reconnect_backoff_ms': 10, 'grpc.max_reconnect_backoff_ms': 10, 'grpc.min_reconnect_backoff_ms': 100 });
      const controller = new AbortController();
      const call = ch.unaryUnary('/x.Y/Z')(new Uint8Array(), { timeout: 60, waitForReady: true, signal: controller.signal });
      await eventually(() => attempts >= 3, 5000, 'a few failed connection attempts');
      controller.abort();
      await assert.rejects(call, (err: RpcError) => err.code === StatusCode.CANCELLED);
      ch.close();
      await new Promise((resolve) => dropper.close(resolve));
      assert.equal(live.size, 0, `${live.size} deadline timers left running`);
    } finally {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
    }
  });
});

describe('intercepted streaming calls report their status (issue 10)', () => {
  /** Streams "a", "b", then OK with an x-done trailer. */
  async function twoMessages(): Promise<string> {
    return rawServer((stream) => {
      stream.on('data', () => undefined);
      stream.respond(grpcResponse, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-done': 'yes' }));
      stream.write(frame('a'));
      stream.end(frame('b'));
    });
  }
  const passThrough: ClientInterceptor = (details, requests, next) => next(details, requests);

  it('10: code(), details() and trailingMetadata() settle when the consumer leaves the loop early', async () => {
    const ch = interceptChannel(keep(insecureChannel(await twoMessages())), passThrough);
    const call = ch.unaryStream('/x.Y/Z', encode, decode)('');
    for await (const m of call) {
      assert.equal(m, 'a');
      break;
    }
    assert.equal(await within(call.code(), 2000, 'code()'), StatusCode.CANCELLED);
    assert.equal(typeof (await within(call.details(), 2000, 'details()')), 'string');
    await within(call.trailingMetadata(), 2000, 'trailingMetadata()');
  });

  it('10: code() and trailingMetadata() settle with the server status when the consumer never iterates', async () => {
    const ch = interceptChannel(keep(insecureChannel(await twoMessages())), passThrough);
    const call = ch.streamStream('/x.Y/Z', encode, decode)(['x']);
    assert.equal(await within(call.code(), 2000, 'code()'), StatusCode.OK);
    assert.deepEqual((await within(call.trailingMetadata(), 2000, 'trailingMetadata()')).getAll('x-done'), ['yes']);
    const got: string[] = [];
    for await (const m of call) got.push(m);
    assert.deepEqual(got, ['a', 'b'], 'the messages are still there to read');
  });
});

describe('against a @grpc/grpc-js server (issue 10)', () => {
  it('10: a grpc-js server shut down in the middle of a stream ends the call UNAVAILABLE', async () => {
    const wrote = defer();
    const js = await startJsServer({
      Watch: [
        'serverStream',
        ((call: grpc.ServerWritableStream<string, string>) => {
          call.write('first', () => wrote.resolve());
        }) as JsHandler,
      ],
    });
    cleanup.push(() => js.server.forceShutdown());
    const ch = keep(insecureChannel(js.address));
    const call = ch.unaryStream('/test.Svc/Watch', encode, decode)('watch');
    const result = collect(call);
    await within(wrote, 2000, 'the server to write');
    js.server.forceShutdown();
    const { got, error } = await within(result, 2000, 'the call to end');
    assert.deepEqual(got, ['first']);
    assert.equal((error as RpcError).code, StatusCode.UNAVAILABLE);
  });
});
