import { after, describe, it } from 'node:test';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import {
  RpcError,
  StatusCode,
  accessTokenCallCredentials,
  compositeChannelCredentials,
  insecureChannel,
  metadataCallCredentials,
  methodHandlersGenericHandler,
  secureChannel,
  server,
  sslChannelCredentials,
  sslServerCredentials,
  unaryStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
  type Channel,
} from '../../lib/index.js';
import { makeCerts } from '../helpers/certs.js';
import { decode, defer, encode, eventually, sleep, startServer, type TestServer } from '../helpers/grpc.js';

const cleanup: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});
function track<T extends Channel | TestServer>(x: T): T {
  cleanup.push(() => ('srv' in x ? x.close() : x.close()));
  return x;
}

const whoAmI = unaryUnaryRpcMethodHandler((_r: string, ctx) => {
  const ids = ctx.peerIdentities();
  return `${ids === null ? 'anonymous' : Buffer.from(ids[0]!).toString()} ${String(ctx.invocationMetadata().get('authorization') ?? '')}`;
}, decode, encode);

describe('the client against a grpc-iter server', () => {
  it('makes calls over TLS and mutual TLS, with call credentials composed in', async () => {
    const certs = makeCerts();
    const srv = server({ handlers: [methodHandlersGenericHandler('test.Svc', { WhoAmI: whoAmI })] });
    const port = await srv.addSecurePort('127.0.0.1:0', sslServerCredentials([{ privateKey: certs.serverKey, certChain: certs.serverCert }], { rootCertificates: certs.ca }));
    await srv.start();
    cleanup.push(() => srv.stop(null));
    const tlsOnly = track(secureChannel(`localhost:${port}`, sslChannelCredentials(certs.ca)));
    assert.equal(await tlsOnly.unaryUnary('/test.Svc/WhoAmI', encode, decode)(''), 'anonymous ');
    const mtls = track(
      secureChannel(
        `127.0.0.1:${port}`,
        compositeChannelCredentials(sslChannelCredentials(certs.ca, certs.clientKey, certs.clientCert), accessTokenCallCredentials('t0k3n')),
        { 'grpc.ssl_target_name_override': 'foo.test.google.fr' },
      ),
    );
    assert.equal(await mtls.unaryUnary('/test.Svc/WhoAmI', encode, decode)(''), 'client.example Bearer t0k3n');
    const perCall = metadataCallCredentials(async (context) => ({ authorization: `Bearer for ${context.methodName}` }));
    assert.equal(await tlsOnly.unaryUnary('/test.Svc/WhoAmI', encode, decode)('', { credentials: perCall }), 'anonymous Bearer for WhoAmI');
  });

  it('a TLS failure is UNAVAILABLE: no client certificate for a server that requires one, or an untrusted server', async () => {
    const certs = makeCerts();
    const srv = server({ handlers: [methodHandlersGenericHandler('test.Svc', { WhoAmI: whoAmI })] });
    const port = await srv.addSecurePort('127.0.0.1:0', sslServerCredentials([{ privateKey: certs.serverKey, certChain: certs.serverCert }], { rootCertificates: certs.ca, requireClientAuth: true }));
    await srv.start();
    cleanup.push(() => srv.stop(null));
    const noClientCert = track(secureChannel(`localhost:${port}`, sslChannelCredentials(certs.ca)));
    await assert.rejects(noClientCert.unaryUnary('/test.Svc/WhoAmI', encode, decode)('', { timeout: 5 }), (err: RpcError) => {
      assert.equal(err.code, StatusCode.UNAVAILABLE, err.details);
      assert.match(err.details, /certificate/i);
      return true;
    });
    const untrusted = track(secureChannel(`localhost:${port}`, sslChannelCredentials(certs.clientCert)));
    await assert.rejects(untrusted.unaryUnary('/test.Svc/WhoAmI', encode, decode)('', { timeout: 5 }), (err: RpcError) => {
      assert.equal(err.code, StatusCode.UNAVAILABLE, err.details);
      return true;
    });
    const good = track(secureChannel(`localhost:${port}`, sslChannelCredentials(certs.ca, certs.clientKey, certs.clientCert)));
    assert.equal(await good.unaryUnary('/test.Svc/WhoAmI', encode, decode)(''), 'client.example ');
  });

  it('refuses to send call credentials over a plaintext channel unless allowed', async () => {
    const s = track(await startServer({ WhoAmI: whoAmI }));
    const plain = track(insecureChannel(s.address));
    const token = accessTokenCallCredentials('secret');
    await assert.rejects(plain.unaryUnary('/test.Svc/WhoAmI', encode, decode)('', { credentials: token }), (err: RpcError) => err.code === StatusCode.UNAUTHENTICATED && /insecure/.test(err.details));
    const allowed = track(insecureChannel(s.address, { 'grpc-iter.allow_insecure_call_credentials': 1 }));
    assert.equal(await allowed.unaryUnary('/test.Svc/WhoAmI', encode, decode)('', { credentials: token }), 'anonymous Bearer secret');
  });

  it('retries per the service config while uncommitted, sending grpc-previous-rpc-attempts', async () => {
    // A raw HTTP/2 server, so the retry header itself is observed: it fails with a Trailers-Only
    // UNAVAILABLE until the attempt given in the request body, then answers.
    const attempts: string[] = [];
    const raw = http2.createServer();
    raw.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        attempts.push(String(headers['grpc-previous-rpc-attempts'] ?? '0'));
        const wanted = Number(Buffer.concat(chunks).subarray(5).toString());
        if (attempts.length < wanted) {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(StatusCode.UNAVAILABLE), 'grpc-message': 'try again' }, { endStream: true });
          return;
        }
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.concat([Buffer.from([0, 0, 0, 0, 2]), Buffer.from('ok')]));
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => raw.close(resolve)));
    const address = `127.0.0.1:${(raw.address() as AddressInfo).port}`;
    const serviceConfig = JSON.stringify({
      methodConfig: [{ name: [{ service: 'test.Svc' }], retryPolicy: { maxAttempts: 4, initialBackoff: '0.01s', maxBackoff: '0.05s', backoffMultiplier: 2, retryableStatusCodes: ['UNAVAILABLE'] } }],
    });
    const ch = track(insecureChannel(address, { 'grpc.service_config': serviceConfig }));
    const flaky = ch.unaryUnary('/test.Svc/Flaky', encode, decode);
    assert.equal(await flaky('3'), 'ok');
    assert.deepEqual(attempts, ['0', '1', '2']);
    attempts.length = 0;
    await assert.rejects(flaky('10'), (err: RpcError) => err.code === StatusCode.UNAVAILABLE && err.details === 'try again');
    assert.deepEqual(attempts, ['0', '1', '2', '3'], 'maxAttempts bounds the attempts');
    attempts.length = 0;
    const off = track(insecureChannel(address, { 'grpc.service_config': serviceConfig, 'grpc.enable_retries': 0 }));
    await assert.rejects(off.unaryUnary('/test.Svc/Flaky', encode, decode)('3'));
    assert.equal(attempts.length, 1, 'grpc.enable_retries=0 turns retries off');
  });

  it('reconnects after the server restarts on the same port', async () => {
    const first = await startServer({ Echo: unaryUnaryRpcMethodHandler((r: string) => `one:${r}`, decode, encode) });
    const ch = track(insecureChannel(first.address, { 'grpc.initial_reconnect_backoff_ms': 50, 'grpc.max_reconnect_backoff_ms': 100 }));
    const echo = ch.unaryUnary('/test.Svc/Echo', encode, decode);
    assert.equal(await echo('a'), 'one:a');
    await first.close();
    await eventually(() => ch.getState() !== 'READY', 2000, 'the channel to notice');
    const second = server({ handlers: [methodHandlersGenericHandler('test.Svc', { Echo: unaryUnaryRpcMethodHandler((r: string) => `two:${r}`, decode, encode) })] });
    await second.addInsecurePort(first.address);
    await second.start();
    cleanup.push(() => second.stop(null));
    assert.equal(await echo('b', { waitForReady: true, timeout: 5 }), 'two:b');
    assert.equal(ch.getState(), 'READY');
  });

  it('finishes a call in flight across a GOAWAY and sends new calls on a new connection', async () => {
    const release = defer();
    const peers = new Set<string>();
    const s = track(
      await startServer(
        {
          Slow: unaryUnaryRpcMethodHandler(async (r: string, ctx) => {
            peers.add(ctx.peer());
            if (r === 'wait') await release;
            return r;
          }, decode, encode),
        },
        { options: { 'grpc.max_connection_age_ms': 150, 'grpc.max_connection_age_grace_ms': 10_000 } },
      ),
    );
    const ch = track(insecureChannel(s.address));
    const slow = ch.unaryUnary('/test.Svc/Slow', encode, decode);
    const inFlight = slow('wait');
    await sleep(400); // past the connection's age: the server has sent GOAWAY
    assert.equal(await slow('fresh'), 'fresh');
    release.resolve();
    assert.equal(await inFlight, 'wait');
    assert.equal(peers.size, 2, 'the new call went over a new connection');
  });

  it('does not read a server stream faster than the consumer: the server handler is held back', async () => {
    let yielded = 0;
    const s = track(
      await startServer({
        Flood: unaryStreamRpcMethodHandler(async function* (_r: string, ctx) {
          const chunk = 'x'.repeat(1024);
          while (!ctx.signal.aborted) {
            yield chunk;
            yielded++;
          }
        }, decode, encode),
      }),
    );
    const ch = track(insecureChannel(s.address));
    const call = ch.unaryStream('/test.Svc/Flood', encode, decode)('');
    const iterator = call[Symbol.asyncIterator]();
    await iterator.next(); // read one, then stop reading
    await sleep(300);
    const plateau = yielded;
    await sleep(300);
    assert.equal(yielded, plateau, 'the server stopped yielding while the client was not reading');
    assert.ok(plateau < 1000, `${plateau} messages in flight to a consumer that read one`);
    for (let i = 0; i < 2000; i++) await iterator.next();
    assert.ok(yielded > plateau + 1000, 'reading again lets the server go on');
    call.cancel();
    assert.equal(await call.code(), StatusCode.CANCELLED);
  });
});

describe('client-streaming retries (gRFC A6)', () => {
  async function rawFlaky(failures: number): Promise<{ address: string; received: string[][]; close: () => Promise<void> }> {
    const received: string[][] = [];
    const raw = http2.createServer();
    raw.on('stream', (stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        const messages: string[] = [];
        for (let i = 0; i + 5 <= body.length; i += 5 + body.readUInt32BE(i + 1)) messages.push(body.subarray(i + 5, i + 5 + body.readUInt32BE(i + 1)).toString());
        received.push(messages);
        if (received.length <= failures) {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(StatusCode.UNAVAILABLE) }, { endStream: true });
          return;
        }
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        const reply = Buffer.from(messages.join('+'));
        stream.end(Buffer.concat([Buffer.from([0, 0, 0, 0, reply.length]), reply]));
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    return { address: `127.0.0.1:${(raw.address() as AddressInfo).port}`, received, close: () => new Promise((resolve) => raw.close(() => resolve())) };
  }
  const config = JSON.stringify({
    methodConfig: [{ name: [{ service: 'test.Svc' }], retryPolicy: { maxAttempts: 3, initialBackoff: '0.01s', maxBackoff: '0.02s', backoffMultiplier: 1.5, retryableStatusCodes: ['UNAVAILABLE'] } }],
  });

  it('replays every request on each new attempt', async () => {
    const raw = await rawFlaky(2);
    cleanup.push(raw.close);
    const ch = track(insecureChannel(raw.address, { 'grpc.service_config': config }));
    async function* requests(): AsyncGenerator<string> {
      yield 'a';
      yield 'b';
      yield 'c';
    }
    assert.equal(await ch.streamUnary('/test.Svc/Join', encode, decode)(requests()), 'a+b+c');
    assert.deepEqual(raw.received, [['a', 'b', 'c'], ['a', 'b', 'c'], ['a', 'b', 'c']]);
  });

  it('does not retry once the requests outgrow grpc.per_rpc_retry_buffer_size', async () => {
    const raw = await rawFlaky(1);
    cleanup.push(raw.close);
    const ch = track(insecureChannel(raw.address, { 'grpc.service_config': config, 'grpc.per_rpc_retry_buffer_size': 4 }));
    await assert.rejects(ch.streamUnary('/test.Svc/Join', encode, decode)(['abc', 'def']), (err: RpcError) => err.code === StatusCode.UNAVAILABLE);
    assert.equal(raw.received.length, 1);
  });
});
