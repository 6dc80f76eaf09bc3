import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import http2 from 'node:http2';
import {
  StatusCode,
  methodHandlersGenericHandler,
  server,
  sslServerCredentials,
  unaryStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
  type ServicerContext,
} from '../../lib/index.js';
import { makeCerts } from '../helpers/certs.js';
import { decode, defer, encode, startServer } from '../helpers/grpc.js';
import { parseWebBody, rawConnect, webFrame } from './grpc-web-wire.js';

// stop(grace) and TLS for gRPC-Web connections, as for HTTP/2 sessions.

const head = (path: string, length: number): string => `POST ${path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/grpc-web\r\nContent-Length: ${length}\r\n\r\n`;

describe('stop(grace) with HTTP/1.1 connections', () => {
  it('closes idle connections at once, lets a call in flight finish within the grace, then closes its connection', async () => {
    const release = defer<void>();
    const started = defer<void>();
    const s = await startServer({
      Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode),
      Slow: unaryStreamRpcMethodHandler(async function* () {
        yield 'before';
        started.resolve();
        await release;
        yield 'after';
      }, decode, encode),
    });
    const idle = await rawConnect(s.address);
    idle.socket.write(head('/test.Svc/Echo', 6));
    idle.socket.write(webFrame('i'));
    await idle.waitFor('grpc-status: 0');
    const busy = await rawConnect(s.address);
    busy.socket.write(head('/test.Svc/Slow', 6));
    busy.socket.write(webFrame('b'));
    await started;
    let stopped = false;
    const stopping = s.srv.stop(10).then(() => (stopped = true));
    await idle.closed;
    assert.equal(stopped, false);
    assert.equal(busy.socket.destroyed, false);
    release.resolve();
    await busy.closed;
    await stopping;
    const body = Buffer.from(busy.received().split('\r\n\r\n').slice(1).join('\r\n\r\n'), 'latin1');
    // Chunked transfer: the frames are inside chunks; find them by their text.
    assert.match(body.toString('latin1'), /before[\s\S]*after[\s\S]*grpc-status: 0/);
  });

  it('cancels a call still running when the grace runs out: its signal aborts and the client gets UNAVAILABLE', async () => {
    const reason = defer<unknown>();
    const started = defer<void>();
    const s = await startServer({
      Forever: unaryStreamRpcMethodHandler(async function* (_r: string, context: ServicerContext) {
        context.signal.addEventListener('abort', () => reason.resolve(context.signal.reason), { once: true });
        yield 'one';
        started.resolve();
        await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
      }, decode, encode),
    });
    const c = await rawConnect(s.address);
    c.socket.write(head('/test.Svc/Forever', 6));
    c.socket.write(webFrame('f'));
    await started;
    await s.srv.stop(0.05);
    assert.equal(((await reason) as { code: number }).code, StatusCode.UNAVAILABLE);
    await c.closed;
    assert.match(c.received(), /grpc-status: 14/);
  });
});

describe('gRPC-Web over TLS', () => {
  it('serves HTTP/1.1 (ALPN http/1.1) and HTTP/2 (ALPN h2) on a secure port, with the TLS auth context', async () => {
    const certs = makeCerts();
    let auth: Record<string, Uint8Array[]> = {};
    const srv = server({
      handlers: [
        methodHandlersGenericHandler('test.Svc', {
          Who: unaryUnaryRpcMethodHandler((_r: string, context: ServicerContext) => {
            auth = context.authContext();
            return 'secure';
          }, decode, encode),
        }),
      ],
    });
    const port = await srv.addSecurePort('127.0.0.1:0', sslServerCredentials([{ privateKey: certs.serverKey, certChain: certs.serverCert }]));
    await srv.start();
    after(() => srv.stop(null));

    const h1 = await new Promise<{ alpn: string; body: Buffer; type: string | undefined }>((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port, method: 'POST', path: '/test.Svc/Who', ca: certs.ca, servername: 'localhost', headers: { 'content-type': 'application/grpc-web' }, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ alpn: String((res.socket as unknown as { alpnProtocol: string }).alpnProtocol), body: Buffer.concat(chunks), type: res.headers['content-type'] }));
        },
      );
      req.on('error', reject);
      req.end(webFrame('x'));
    });
    assert.equal(h1.alpn, 'false'); // node's https client offers no ALPN: the server takes HTTP/1.1
    assert.equal(h1.type, 'application/grpc-web+proto');
    assert.deepEqual(parseWebBody(h1.body, false).messages.map(String), ['secure']);
    assert.equal(Buffer.from(auth.transport_security_type?.[0] ?? []).toString(), 'ssl');

    const session = http2.connect(`https://localhost:${port}`, { ca: certs.ca });
    after(() => session.close());
    const stream = session.request({ ':method': 'POST', ':path': '/test.Svc/Who', 'content-type': 'application/grpc-web-text' });
    stream.end(webFrame('y').toString('base64'));
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    await new Promise((resolve) => stream.on('end', resolve));
    assert.equal(session.alpnProtocol, 'h2');
    assert.deepEqual(parseWebBody(Buffer.concat(chunks), true).messages.map(String), ['secure']);
  });

  it('takes HTTP/1.1 over TLS when the client asks for http/1.1 by ALPN', async () => {
    const certs = makeCerts();
    const srv = server({ handlers: [methodHandlersGenericHandler('test.Svc', { Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode) })] });
    const port = await srv.addSecurePort('127.0.0.1:0', sslServerCredentials([{ privateKey: certs.serverKey, certChain: certs.serverCert }]));
    await srv.start();
    after(() => srv.stop(null));
    const result = await new Promise<{ alpn: unknown; body: Buffer }>((resolve, reject) => {
      const req = https.request(
        // RequestOptions does not list ALPNProtocols, though https.request passes it to tls.connect.
        { host: '127.0.0.1', port, method: 'POST', path: '/test.Svc/Echo', ca: certs.ca, servername: 'localhost', ALPNProtocols: ['http/1.1'], headers: { 'content-type': 'application/grpc-web' }, agent: false } as https.RequestOptions,
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ alpn: (res.socket as unknown as { alpnProtocol: unknown }).alpnProtocol, body: Buffer.concat(chunks) }));
        },
      );
      req.on('error', reject);
      req.end(webFrame('alpn'));
    });
    assert.equal(result.alpn, 'http/1.1');
    assert.deepEqual(parseWebBody(result.body, false).messages.map(String), ['alpn']);
  });
});
