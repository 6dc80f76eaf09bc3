import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { gzipSync } from 'node:zlib';
import { delay } from 'abort-controller-x';
import { RpcError, StatusCode, unaryStreamRpcMethodHandler, unaryUnaryRpcMethodHandler } from '../../lib/index.js';
import { decode, defer, encode, eventually, jsClient, startServer, type TestServer } from '../helpers/grpc.js';
import { frame, grpcHeaders, rawRequest, statusOf, type RawResponse } from '../helpers/raw.js';

// DESIGN.md §5: each bad input gets a clear status, and the server keeps serving others.
describe('bad input gets a clear error and nothing else breaks', () => {
  let server: TestServer;
  let unlimited: TestServer;
  let ran = 0;
  const aborts: unknown[] = [];
  let active = 0;

  before(async () => {
    const handlers = {
      Echo: unaryUnaryRpcMethodHandler((r: string) => {
        ran++;
        return r;
      }, decode, encode),
      Strict: unaryUnaryRpcMethodHandler(
        (r: { n: number }) => String(r.n),
        (bytes: Uint8Array) => {
          const value = JSON.parse(Buffer.from(bytes).toString()) as { n: number };
          if (typeof value.n !== 'number') throw new TypeError('n must be a number');
          return value;
        },
        encode,
      ),
      Throws: unaryUnaryRpcMethodHandler((): string => {
        throw new Error('database password is hunter2');
      }, decode, encode),
      Forever: unaryStreamRpcMethodHandler(async function* (_r: string, ctx) {
        active++;
        ctx.signal.addEventListener('abort', () => aborts.push(ctx.signal.reason), { once: true });
        try {
          for (;;) {
            yield 'tick';
            await delay(ctx.signal, 10);
          }
        } finally {
          active--;
        }
      }, decode, encode),
    };
    server = await startServer(handlers, { options: { 'grpc.max_receive_message_length': 1024 } });
    unlimited = await startServer(handlers, { options: { 'grpc.max_receive_message_length': -1 } });
  });
  after(async () => {
    await server.close();
    await unlimited.close();
  });
  afterEach(async () => {
    // After every bad input, a well-formed call on a new connection still works.
    const client = jsClient(server.address, { Echo: 'unary' });
    assert.equal((await client.unary('Echo', 'still serving')).value, 'still serving');
    client.close();
  });

  const expectStatus = (r: RawResponse, code: number, message?: RegExp): void => {
    const status = statusOf(r);
    assert.equal(status.code, code, `status ${status.code} "${status.message}"`);
    if (message) assert.match(status.message ?? '', message);
  };

  it('unknown service or method: UNIMPLEMENTED, Trailers-Only', async () => {
    for (const path of ['/no.Such/Method', '/test.Svc/NoSuch', '/malformed']) {
      const r = await rawRequest(server.address, grpcHeaders(path), frame('x'));
      expectStatus(r, StatusCode.UNIMPLEMENTED);
      assert.equal(statusOf(r).trailersOnly, true);
      assert.equal(r.headers['content-type'], 'application/grpc');
    }
  });

  it('wrong or missing content-type: HTTP 415 and no handler runs', async () => {
    const before = ran;
    for (const contentType of ['application/json', 'text/plain', 'application/grpcfoo', undefined]) {
      const headers = grpcHeaders('/test.Svc/Echo');
      if (contentType === undefined) delete headers['content-type'];
      else headers['content-type'] = contentType;
      const r = await rawRequest(server.address, headers, frame('x'));
      assert.equal(r.headers[':status'], 415, String(contentType));
    }
    assert.equal(ran, before);
  });

  it('accepts application/grpc+proto and content-type parameters; refuses GET with 405', async () => {
    expectStatus(await rawRequest(server.address, grpcHeaders('/test.Svc/Echo', { 'content-type': 'application/grpc+proto' }), frame('x')), 0);
    expectStatus(await rawRequest(server.address, grpcHeaders('/test.Svc/Echo', { 'content-type': 'application/grpc; charset=utf-8' }), frame('x')), 0);
    const get = await rawRequest(server.address, grpcHeaders('/test.Svc/Echo', { ':method': 'GET' }), [], {});
    assert.equal(get.headers[':status'], 405);
  });

  it('a message over the receive limit: RESOURCE_EXHAUSTED', async () => {
    expectStatus(await rawRequest(server.address, grpcHeaders('/test.Svc/Echo'), frame('y'.repeat(2048))), StatusCode.RESOURCE_EXHAUSTED, /larger than max/);
  });

  it('a length prefix claiming 4 GiB: RESOURCE_EXHAUSTED at once, before any body, without allocating it', async () => {
    const session = http2.connect(`http://${server.address}`);
    const before = process.memoryUsage().arrayBuffers;
    const prefix = frame(Buffer.alloc(0), false, 0xffffffff);
    // Split the prefix over two DATA frames and never end the stream: the answer must not wait.
    const r = await rawRequest(session, grpcHeaders('/test.Svc/Echo'), [prefix.subarray(0, 2), prefix.subarray(2)], { endStream: false });
    session.close();
    expectStatus(r, StatusCode.RESOURCE_EXHAUSTED, /4294967295/);
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024, 'no claimed-size allocation');
  });

  it('with no receive limit, a 1 GiB claim followed by a few bytes allocates only what arrived, then fails INTERNAL', async () => {
    const before = process.memoryUsage().arrayBuffers;
    const r = await rawRequest(unlimited.address, grpcHeaders('/test.Svc/Echo'), frame(Buffer.from('tiny'), false, 1 << 30));
    expectStatus(r, StatusCode.INTERNAL, /middle of a message/);
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
  });

  it('a truncated message at END_STREAM: INTERNAL', async () => {
    expectStatus(await rawRequest(server.address, grpcHeaders('/test.Svc/Echo'), frame('hello').subarray(0, 7)), StatusCode.INTERNAL);
    expectStatus(await rawRequest(server.address, grpcHeaders('/test.Svc/Echo'), Buffer.from([0, 0])), StatusCode.INTERNAL);
  });

  it('a compressed flag other than 0 or 1, or 1 without grpc-encoding: INTERNAL', async () => {
    const bad = frame('x');
    bad[0] = 2;
    expectStatus(await rawRequest(server.address, grpcHeaders('/test.Svc/Echo'), bad), StatusCode.INTERNAL, /compressed flag/);
    expectStatus(await rawRequest(server.address, grpcHeaders('/test.Svc/Echo'), frame('x', true)), StatusCode.INTERNAL, /compressed/);
  });

  it('a message the deserializer cannot decode: INTERNAL', async () => {
    expectStatus(await rawRequest(server.address, grpcHeaders('/test.Svc/Strict'), frame('{not json')), StatusCode.INTERNAL, /deserialize/);
    expectStatus(await rawRequest(server.address, grpcHeaders('/test.Svc/Strict'), frame('{"n":"seven"}')), StatusCode.INTERNAL);
    expectStatus(await rawRequest(server.address, grpcHeaders('/test.Svc/Strict'), frame('{"n":7}')), StatusCode.OK);
  });

  it('a compressed message that inflates past the limit (a gzip bomb): RESOURCE_EXHAUSTED', async () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024));
    assert.ok(bomb.length < 100 * 1024);
    // The compressed bytes alone are over this server's 1 KiB limit.
    expectStatus(await rawRequest(server.address, grpcHeaders('/test.Svc/Echo', { 'grpc-encoding': 'gzip' }), frame(bomb, true)), StatusCode.RESOURCE_EXHAUSTED);
    // Here they fit, but inflate to 50 MiB against a 1 MiB limit.
    const limited = await startServer({ Echo: unaryUnaryRpcMethodHandler((x: string) => x, decode, encode) }, { options: { 'grpc.max_receive_message_length': 1024 * 1024 } });
    try {
      const before = process.memoryUsage().arrayBuffers;
      const inflated = await rawRequest(limited.address, grpcHeaders('/test.Svc/Echo', { 'grpc-encoding': 'gzip' }), frame(bomb, true));
      expectStatus(inflated, StatusCode.RESOURCE_EXHAUSTED, /decompression/);
      assert.ok(process.memoryUsage().arrayBuffers - before < 40 * 1024 * 1024, 'the bomb was not inflated whole');
    } finally {
      await limited.close();
    }
  });

  it('a malformed grpc-timeout: INTERNAL naming the header, never a crash', async () => {
    for (const timeout of ['soon', '123456789S', '100', 'S', '', '-5m', '1.5S']) {
      const r = await rawRequest(server.address, grpcHeaders('/test.Svc/Echo', { 'grpc-timeout': timeout }), frame('x'));
      expectStatus(r, StatusCode.INTERNAL, /grpc-timeout/);
    }
  });

  it('a handler that throws a plain error: UNKNOWN with a generic message, no details leak', async () => {
    const r = await rawRequest(server.address, grpcHeaders('/test.Svc/Throws'), frame('x'));
    expectStatus(r, StatusCode.UNKNOWN);
    assert.doesNotMatch(JSON.stringify(r.headers) + JSON.stringify(r.trailers), /hunter2|at .*\.ts/);
  });

  it('a unary call with two messages, or none: INTERNAL', async () => {
    expectStatus(await rawRequest(server.address, grpcHeaders('/test.Svc/Echo'), [frame('a'), frame('b')]), StatusCode.INTERNAL, /more than one/);
    expectStatus(await rawRequest(server.address, grpcHeaders('/test.Svc/Echo'), []), StatusCode.INTERNAL, /no request message/);
  });

  it('a peer that resets the stream or drops the connection aborts the handler signal, and nothing leaks', async () => {
    for (const how of ['reset', 'drop'] as const) {
      aborts.length = 0;
      const session = http2.connect(`http://${server.address}`);
      session.on('error', () => undefined);
      const stream = session.request(grpcHeaders('/test.Svc/Forever'));
      stream.on('error', () => undefined);
      stream.end(frame('x'));
      const first = defer();
      stream.once('data', () => first.resolve());
      await first;
      assert.equal(active, 1);
      if (how === 'reset') stream.close(http2.constants.NGHTTP2_CANCEL);
      else session.destroy(); // the TCP connection goes away under the call
      await eventually(() => aborts.length === 1 && active === 0, 3000, `the handler to stop after a ${how}`);
      assert.ok(aborts[0] instanceof RpcError);
      assert.equal((aborts[0] as RpcError).code, StatusCode.CANCELLED);
      session.destroy();
    }
  });
});
