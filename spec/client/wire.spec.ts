import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import {
  Compression,
  RpcError,
  StatusCode,
  insecureChannel,
  streamStreamRpcMethodHandler,
  streamUnaryRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
  type Channel,
} from '../../lib/index.js';
import { decode, defer, encode, eventually, sleep, startServer, type TestServer } from '../helpers/grpc.js';

const cleanup: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});
const keep = <T extends Channel | TestServer>(x: T): T => (cleanup.push(() => x.close()), x);

async function rawServer(onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void): Promise<string> {
  const raw = http2.createServer();
  raw.on('stream', onStream);
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => raw.close(resolve)));
  return `127.0.0.1:${(raw.address() as AddressInfo).port}`;
}

describe('client wire behaviour', () => {
  it('compresses requests (channel default and per call) and decompresses responses', async () => {
    const seen: string[] = [];
    const s = keep(
      await startServer(
        {
          Echo: unaryUnaryRpcMethodHandler((r: string, ctx) => {
            seen.push(String(ctx.requestCompressed()));
            return r;
          }, decode, encode),
        },
        { compression: Compression.Gzip },
      ),
    );
    const big = 'q'.repeat(5000);
    const gz = keep(insecureChannel(s.address, { 'grpc.default_compression_algorithm': Compression.Gzip }));
    assert.equal(await gz.unaryUnary('/test.Svc/Echo', encode, decode)(big), big);
    const plain = keep(insecureChannel(s.address));
    assert.equal(await plain.unaryUnary('/test.Svc/Echo', encode, decode)(big), big);
    assert.equal(await plain.unaryUnary('/test.Svc/Echo', encode, decode)(big, { compression: Compression.Deflate }), big);
    assert.deepEqual(seen, ['true', 'false', 'true']);
    // The server compressed its answers (it accepts our grpc-accept-encoding); check one on the wire.
    const address = await rawServer((stream) => {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-encoding': 'gzip' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        const body = gzipSync(Buffer.from('inflated!'));
        const head = Buffer.from([1, 0, 0, 0, 0]);
        head.writeUInt32BE(body.length, 1);
        stream.end(Buffer.concat([head, body]));
      });
    });
    const raw = keep(insecureChannel(address));
    assert.equal(await raw.unaryUnary('/x.Y/Z', encode, decode)(''), 'inflated!');
  });

  for (const [httpStatus, code] of [[400, StatusCode.INTERNAL], [401, StatusCode.UNAUTHENTICATED], [403, StatusCode.PERMISSION_DENIED], [404, StatusCode.UNIMPLEMENTED], [429, StatusCode.UNAVAILABLE], [502, StatusCode.UNAVAILABLE], [503, StatusCode.UNAVAILABLE], [504, StatusCode.UNAVAILABLE], [500, StatusCode.UNKNOWN]] as const) {
    it(`maps HTTP ${httpStatus} without grpc-status to ${code} (doc/http-grpc-status-mapping.md)`, async () => {
      const address = await rawServer((stream) => {
        stream.on('data', () => undefined);
        stream.respond({ ':status': httpStatus, 'content-type': 'text/html' }, { endStream: true });
      });
      const ch = keep(insecureChannel(address));
      await assert.rejects(ch.unaryUnary('/x.Y/Z')(new Uint8Array()), (err: RpcError) => err.code === code);
    });
  }

  it('retries a bidi call before commit, replaying its requests', async () => {
    let attempts = 0;
    const address = await rawServer((stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        attempts++;
        if (attempts < 3) {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(StatusCode.UNAVAILABLE) }, { endStream: true });
          return;
        }
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.concat(chunks)); // echo every request message back
      });
    });
    const config = JSON.stringify({ methodConfig: [{ name: [{}], retryPolicy: { maxAttempts: 3, initialBackoff: '0.01s', maxBackoff: '0.01s', backoffMultiplier: 1, retryableStatusCodes: ['UNAVAILABLE'] } }] });
    const ch = keep(insecureChannel(address, { 'grpc.service_config': config }));
    const got: string[] = [];
    for await (const m of ch.streamStream('/x.Y/Chat', encode, decode)(['one', 'two'])) got.push(m);
    assert.deepEqual(got, ['one', 'two']);
    assert.equal(attempts, 3);
  });

  it('pulls the request source only as fast as the stream drains (a server not reading holds it back)', async () => {
    const gate = defer();
    let received = 0;
    const s = keep(
      await startServer({
        Slow: streamUnaryRpcMethodHandler(async (reqs: AsyncIterable<string>) => {
          await gate;
          for await (const _ of reqs) received++;
          return String(received);
        }, decode, encode),
        Unused: streamStreamRpcMethodHandler(function* () {}, decode, encode),
      }),
    );
    const ch = keep(insecureChannel(s.address));
    let pulled = 0;
    const chunk = 'k'.repeat(1024);
    async function* source(): AsyncGenerator<string> {
      for (let i = 0; i < 3000; i++) {
        pulled++;
        yield chunk;
      }
    }
    const result = ch.streamUnary('/test.Svc/Slow', encode, decode)(source());
    await eventually(() => pulled > 0, 2000, 'the source to be pulled');
    await sleep(300);
    const held = pulled;
    await sleep(200);
    assert.equal(pulled, held, 'no more requests are pulled while the server does not read');
    assert.ok(held < 1500, `${held} KiB pulled before the client was held back`);
    gate.resolve();
    assert.equal(await result, '3000');
  });
});
