import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { StatusCode, unaryStreamRpcMethodHandler, unaryUnaryRpcMethodHandler, type RpcError, type ServicerContext } from '../../lib/index.js';
import { decode, defer, encode, startServer } from '../helpers/grpc.js';
import { WIRES, post, rawConnect, webFrame } from './grpc-web-wire.js';

// DESIGN.md §5 for gRPC-Web: bad input gets the same answers as on gRPC, and nothing else breaks.

const CODE_NAMES = new Map<number, string>(Object.entries(StatusCode).map(([name, code]) => [code, name]));

let ran = 0;
const handlers = {
  Echo: unaryUnaryRpcMethodHandler((request: string) => {
    ran++;
    return request;
  }, decode, encode),
};

const head = (path: string, extra: string): string => `POST ${path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/grpc-web\r\n${extra}\r\n`;

for (const wire of WIRES) {
  describe(`gRPC-Web bad bodies over ${wire}`, () => {
    const cases: Array<[string, Buffer | string, Record<string, string>, StatusCode, RegExp]> = [
      ['a body that ends in the middle of a frame', webFrame('abcdef').subarray(0, 7), {}, StatusCode.INTERNAL, /middle of a message/],
      ['an empty body', '', {}, StatusCode.INTERNAL, /no request message/],
      ['two messages for a unary method', Buffer.concat([webFrame('a'), webFrame('b')]), {}, StatusCode.INTERNAL, /more than one request message/],
      ['a trailers frame in the request', Buffer.concat([webFrame('a'), webFrame('grpc-status: 0\r\n', 0x80)]), {}, StatusCode.INTERNAL, /trailers frame/],
      ['an unknown frame flag', webFrame('a', 0x04), {}, StatusCode.INTERNAL, /unknown flag/],
      ['invalid base64 in text mode', 'AAAA!!!!', { 'content-type': 'application/grpc-web-text' }, StatusCode.INTERNAL, /invalid base64/],
      ['text mode that stops inside a base64 group', webFrame('a').toString('base64').slice(0, 6), { 'content-type': 'application/grpc-web-text' }, StatusCode.INTERNAL, /base64 group/],
      ['a compressed flag without grpc-encoding', webFrame('a', 1), {}, StatusCode.INTERNAL, /without grpc-encoding/],
      ['a message over the receive limit', webFrame(Buffer.alloc(2000)), {}, StatusCode.RESOURCE_EXHAUSTED, /larger than max/],
    ];
    for (const [what, body, headers, code, message] of cases) {
      it(`answers ${what} with ${CODE_NAMES.get(code)} and runs no handler`, async () => {
        const s = await startServer(handlers, { options: { 'grpc.max_receive_message_length': 1024 } });
        after(() => s.close());
        ran = 0;
        const r = await post(wire, s.address, '/test.Svc/Echo', body, { headers });
        assert.equal(r.headers['grpc-status'], String(code));
        assert.match(decodeURIComponent(String(r.headers['grpc-message'])), message);
        assert.equal(ran, 0);
        // The port keeps serving.
        const ok = await post(wire, s.address, '/test.Svc/Echo', webFrame('still'));
        assert.deepEqual(ok.messages.map(String), ['still']);
      });
    }
  });
}

describe('gRPC-Web oversized bodies', () => {
  it('answers a length prefix over the limit over HTTP/1.1 before the body arrives, and closes the connection', async () => {
    const s = await startServer(handlers);
    after(() => s.close());
    const c = await rawConnect(s.address);
    // 5 MiB announced, only the prefix sent: the answer must not wait for (or buffer) the rest.
    c.socket.write(head('/test.Svc/Echo', `Content-Length: ${5 * 1024 * 1024 + 5}\r\n`));
    c.socket.write(webFrame('', 0, 5 * 1024 * 1024));
    const response = await c.waitFor('\r\n\r\n');
    assert.match(response, /^HTTP\/1\.1 200/);
    assert.match(response, /grpc-status: 8\r\n/i);
    assert.match(response, /connection: close\r\n/i);
    await c.closed;
  });

  it('answers a length prefix over the limit over HTTP/2 before the body arrives, and stops the stream', async () => {
    const s = await startServer(handlers);
    after(() => s.close());
    const session = http2.connect(`http://${s.address}`);
    after(() => session.close());
    const stream = session.request({ ':method': 'POST', ':path': '/test.Svc/Echo', 'content-type': 'application/grpc-web' });
    stream.write(webFrame('', 0, 5 * 1024 * 1024));
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
    assert.equal(headers['grpc-status'], String(StatusCode.RESOURCE_EXHAUSTED));
    await new Promise((resolve) => stream.once('close', resolve));
    assert.equal(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR);
  });

  it('closes an HTTP/1.1 connection whose body is still arriving when the call is answered (an unknown method)', async () => {
    const s = await startServer(handlers);
    after(() => s.close());
    const c = await rawConnect(s.address);
    c.socket.write(head('/test.Svc/Nope', 'Content-Length: 100000\r\n'));
    c.socket.write(webFrame('x'.repeat(99_995)).subarray(0, 100));
    const response = await c.waitFor('\r\n\r\n');
    assert.match(response, /grpc-status: 12\r\n/i);
    assert.match(response, /connection: close\r\n/i);
    const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('still open'), 3000).unref());
    assert.equal(await Promise.race([c.closed.then(() => 'closed'), timeout]), 'closed');
  });

  it('keeps an HTTP/1.1 connection whose whole body had arrived when the call was answered without reading it', async () => {
    const s = await startServer(handlers);
    after(() => s.close());
    const c = await rawConnect(s.address);
    const body = webFrame('unread');
    c.socket.write(head('/test.Svc/Nope', `Content-Length: ${body.length}\r\n`));
    c.socket.write(body);
    await c.waitFor('grpc-status: 12');
    const next = webFrame('next');
    c.socket.write(head('/test.Svc/Echo', `Content-Length: ${next.length}\r\n`));
    c.socket.write(next);
    assert.match(await c.waitFor('grpc-status: 0'), /next/);
  });

  it('answers HTTP/1.1 headers over the hard metadata limit with 431', async () => {
    const s = await startServer(handlers);
    after(() => s.close());
    const c = await rawConnect(s.address);
    c.socket.write(head('/test.Svc/Echo', `X-Big: ${'a'.repeat(20_000)}\r\nContent-Length: 0\r\n`));
    assert.match(await c.waitFor('\r\n\r\n'), /^HTTP\/1\.1 431/);
    await c.closed;
  });
});

describe('slow HTTP/1.1 clients', () => {
  const options = { 'grpc-iter.http1_headers_timeout_ms': 300, 'grpc-iter.web_request_body_timeout_ms': 300 };

  it('closes a connection whose headers do not arrive in time, and one that sends nothing, while serving others', async () => {
    const s = await startServer(handlers, { options });
    after(() => s.close());
    const silent = await rawConnect(s.address);
    const slow = await rawConnect(s.address);
    slow.socket.write('POST /test.Svc/Echo HTTP/1.1\r\nHost: te');
    const drip = setInterval(() => slow.socket.write('x'), 50);
    after(() => clearInterval(drip));
    const started = Date.now();
    const served = await post('HTTP/1.1', s.address, '/test.Svc/Echo', webFrame('meanwhile'));
    assert.deepEqual(served.messages.map(String), ['meanwhile']);
    await Promise.all([silent.closed, slow.closed]);
    clearInterval(drip);
    assert.ok(Date.now() - started < 5000);
    assert.equal(slow.received(), '');
  });

  it('applies the headers timeout again to the next request on a kept-alive connection', async () => {
    const s = await startServer(handlers, { options });
    after(() => s.close());
    const c = await rawConnect(s.address);
    const body = webFrame('one');
    c.socket.write(head('/test.Svc/Echo', `Content-Length: ${body.length}\r\n`));
    c.socket.write(body);
    await c.waitFor('grpc-status: 0');
    c.socket.write('POST /test.Svc/Echo HTTP/1.1\r\n'); // and nothing more
    await c.closed;
  });

  it('ends a call whose body does not arrive in time CANCELLED, and closes its connection', async () => {
    const s = await startServer(handlers, { options });
    after(() => s.close());
    ran = 0;
    const c = await rawConnect(s.address);
    c.socket.write(head('/test.Svc/Echo', 'Content-Length: 100\r\n'));
    c.socket.write(webFrame('x'.repeat(95)).subarray(0, 10));
    const response = await c.waitFor('\r\n\r\n');
    assert.match(response, /grpc-status: 1\r\n/i);
    assert.match(decodeURIComponent(/grpc-message: ([^\r]*)/i.exec(response)?.[1] ?? ''), /request body did not arrive within 300 ms/);
    await c.closed;
    assert.equal(ran, 0);
  });
});

describe('many HTTP/1.1 keep-alive connections', () => {
  it('keeps serving with hundreds of idle kept-alive connections open, and stop() closes them all', async () => {
    const s = await startServer(handlers);
    const connections = await Promise.all(Array.from({ length: 200 }, () => rawConnect(s.address)));
    const body = webFrame('k');
    for (const c of connections) {
      c.socket.write(head('/test.Svc/Echo', `Content-Length: ${body.length}\r\n`));
      c.socket.write(body);
    }
    await Promise.all(connections.map((c) => c.waitFor('grpc-status: 0')));
    assert.equal(connections.filter((c) => c.socket.destroyed).length, 0);
    for (const wire of WIRES) {
      const r = await post(wire, s.address, '/test.Svc/Echo', webFrame(wire));
      assert.deepEqual(r.messages.map(String), [wire]);
    }
    await s.close();
    await Promise.all(connections.map((c) => c.closed));
  });
});

describe('gRPC-Web clients that do not read', () => {
  for (const wire of ['HTTP/1.1', 'HTTP/2'] as const) {
    it(`pauses a server stream whose ${wire} client stops reading: memory stays bounded, and leaving cancels it`, async () => {
      let produced = 0;
      const reason = defer<unknown>();
      const chunk = 'x'.repeat(64 * 1024);
      const s = await startServer({
        Flood: unaryStreamRpcMethodHandler(async function* (_r: string, context: ServicerContext) {
          context.signal.addEventListener('abort', () => reason.resolve(context.signal.reason), { once: true });
          for (;;) {
            produced++;
            yield chunk;
          }
        }, decode, encode),
      });
      after(() => s.close());
      let stop = (): void => undefined;
      if (wire === 'HTTP/1.1') {
        const c = await rawConnect(s.address);
        const body = webFrame('go');
        c.socket.write(head('/test.Svc/Flood', `Content-Length: ${body.length}\r\n`));
        c.socket.write(body);
        await c.waitFor('\r\n\r\n');
        c.socket.pause();
        stop = () => c.socket.destroy();
      } else {
        const session = http2.connect(`http://${s.address}`);
        const stream = session.request({ ':method': 'POST', ':path': '/test.Svc/Flood', 'content-type': 'application/grpc-web' });
        stream.end(webFrame('go'));
        await new Promise((resolve) => stream.once('response', resolve));
        stream.pause();
        stop = () => session.destroy();
      }
      // The handler runs only as fast as the client reads: once the buffers are full it waits.
      let last = -1;
      for (let i = 0; i < 25 && produced !== last; i++) {
        last = produced;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.ok(produced * chunk.length < 32 * 1024 * 1024, `${produced} messages of 64 KiB produced`);
      stop();
      assert.equal(((await reason) as RpcError).code, StatusCode.CANCELLED);
    });
  }
});
