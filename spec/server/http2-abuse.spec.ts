import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import { streamStreamRpcMethodHandler, unaryStreamRpcMethodHandler, unaryUnaryRpcMethodHandler } from '../../lib/index.js';
import { decode, defer, encode, jsClient, sleep, startServer, type TestServer } from '../helpers/grpc.js';
import { frame, grpcHeaders } from '../helpers/raw.js';

const abuseScript = new URL('../helpers/h2_abuse.py', import.meta.url).pathname;

function abuse(port: number, mode: string, count: number): Promise<{ sent: number; goaway: number | null; closed: boolean }> {
  return new Promise((resolve, reject) =>
    execFile('/usr/bin/python3', [abuseScript, '127.0.0.1', String(port), mode, String(count)], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`h2_abuse.py failed (Debian's python3-h2 is needed): ${stderr || err.message}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as { sent: number; goaway: number | null; closed: boolean });
    }),
  );
}

describe('HTTP/2 abuse: memory stays bounded and other clients keep being served', () => {
  let server: TestServer;
  let echoes = 0;
  before(async () => {
    server = await startServer(
      {
        Echo: unaryUnaryRpcMethodHandler((r: string) => {
          echoes++;
          return r;
        }, decode, encode),
      },
      { options: { 'grpc.max_concurrent_streams': 50 } },
    );
  });
  after(() => server.close());

  /** Runs `attack` while a well-behaved client keeps calling; every one of its calls must succeed. */
  async function underAttack(attack: () => Promise<unknown>): Promise<void> {
    const client = jsClient(server.address, { Echo: 'unary' });
    const rssBefore = process.memoryUsage().rss;
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const bystander = (async () => {
      while (!stop) {
        const r = await client.unary('Echo', 'bystander');
        if (r.value === 'bystander') ok++;
        else failures.push(String(r.error?.message));
      }
    })();
    try {
      await attack();
    } finally {
      stop = true;
      await bystander;
    }
    assert.deepEqual(failures, [], 'the well-behaved client saw no failures');
    assert.ok(ok > 0, 'the well-behaved client was served during the attack');
    const after = await client.unary('Echo', 'after');
    assert.equal(after.value, 'after');
    client.close();
    assert.ok(process.memoryUsage().rss - rssBefore < 200 * 1024 * 1024, 'memory stayed bounded');
  }

  it('rapid reset (2,000 HEADERS + RST_STREAM pairs)', async () => {
    await underAttack(async () => {
      const r = await abuse(server.port, 'rapid-reset', 2000);
      assert.ok(r.sent > 0);
    });
  });

  it('ping flood (5,000 PINGs)', async () => {
    await underAttack(() => abuse(server.port, 'ping-flood', 5000));
  });

  it('SETTINGS flood (2,000 SETTINGS frames)', async () => {
    await underAttack(() => abuse(server.port, 'settings-flood', 2000));
  });

  it('a connection holding all grpc.max_concurrent_streams open does not starve other connections', async () => {
    const session = http2.connect(`http://${server.address}`);
    session.on('error', () => undefined);
    await new Promise((resolve) => session.once('remoteSettings', resolve));
    assert.equal(session.remoteSettings.maxConcurrentStreams, 50);
    await underAttack(async () => {
      // Open streams that never finish sending: they occupy the 50 slots of this connection.
      const streams: http2.ClientHttp2Stream[] = [];
      for (let i = 0; i < 50; i++) {
        const s = session.request(grpcHeaders('/test.Svc/Echo'));
        s.on('error', () => undefined);
        s.write(frame('hold').subarray(0, 3));
        streams.push(s);
      }
      await sleep(100);
      for (const s of streams) s.close(http2.constants.NGHTTP2_CANCEL);
    });
    session.destroy();
  });
});

describe('keepalive enforcement and connection limits', () => {
  it('answers pings faster than allowed without calls with GOAWAY ENHANCE_YOUR_CALM "too_many_pings"', async () => {
    const s = await startServer(
      { Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode) },
      { options: { 'grpc.http2.min_ping_interval_without_data_ms': 60_000, 'grpc.http2.max_ping_strikes': 2, 'grpc.keepalive_permit_without_calls': 1 } },
    );
    const session = http2.connect(`http://${s.address}`);
    session.on('error', () => undefined);
    const goaway = defer<{ code: number; data: string }>();
    session.on('goaway', (code, _last, data) => goaway.resolve({ code, data: data?.toString() ?? '' }));
    await new Promise((resolve) => session.once('connect', resolve));
    for (let i = 0; i < 6 && !session.destroyed; i++) {
      session.ping(() => undefined);
      await sleep(5);
    }
    const g = await goaway;
    assert.equal(g.code, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    assert.equal(g.data, 'too_many_pings');
    session.destroy();
    // A client that pings politely on a new connection is fine.
    const client = jsClient(s.address, { Echo: 'unary' });
    assert.equal((await client.unary('Echo', 'ok')).value, 'ok');
    client.close();
    await s.close();
  });

  it('does not strike pings that follow data the server sent (doc/keepalive.md: busy streams with client keepalive or BDP pings)', async () => {
    const s = await startServer(
      {
        Chat: streamStreamRpcMethodHandler(async function* (requests: AsyncIterable<string>) {
          for await (const r of requests) yield r;
        }, decode, encode),
      },
      { options: { 'grpc.http2.min_ping_interval_without_data_ms': 60_000, 'grpc.http2.max_ping_strikes': 0 } },
    );
    const session = http2.connect(`http://${s.address}`);
    session.on('error', () => undefined);
    let goaways = 0;
    session.on('goaway', () => goaways++);
    const stream = session.request(grpcHeaders('/test.Svc/Chat'));
    stream.on('error', () => undefined);
    const trailers = defer<http2.IncomingHttpHeaders>();
    stream.on('trailers', (t) => trailers.resolve(t));
    for (let i = 0; i < 5; i++) {
      const echoed = defer();
      stream.once('data', () => echoed.resolve());
      stream.write(frame(`m${i}`));
      await echoed;
      await new Promise((resolve) => session.ping((err) => resolve(err)));
    }
    stream.end();
    assert.equal((await trailers)['grpc-status'], '0');
    assert.equal(goaways, 0);
    session.destroy();
    await s.close();
  });

  it('strikes pings on a call in flight when the server sent nothing between them: GOAWAY ENHANCE_YOUR_CALM, then the connection closes', async () => {
    const s = await startServer(
      {
        Wait: unaryStreamRpcMethodHandler(async function* (_r: string, ctx) {
          yield 'open';
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        }, decode, encode),
      },
      { options: { 'grpc.http2.min_ping_interval_without_data_ms': 60_000, 'grpc.http2.max_ping_strikes': 2 } },
    );
    const session = http2.connect(`http://${s.address}`);
    session.on('error', () => undefined);
    const codes: number[] = [];
    session.on('goaway', (code) => codes.push(code));
    const closed = new Promise((resolve) => session.once('close', resolve));
    const stream = session.request(grpcHeaders('/test.Svc/Wait'));
    stream.on('error', () => undefined);
    stream.end(frame('x'));
    await new Promise((resolve) => stream.once('data', resolve));
    for (let i = 0; i < 6 && !session.destroyed && codes.length === 0; i++) await new Promise((resolve) => session.ping((err) => resolve(err)));
    await closed;
    assert.ok(codes.length > 0);
    for (const code of codes) assert.equal(code, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    await s.close();
  });

  it('closes a connection idle past grpc.max_connection_idle_ms with GOAWAY', async () => {
    const s = await startServer({ Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode) }, { options: { 'grpc.max_connection_idle_ms': 150 } });
    const session = http2.connect(`http://${s.address}`);
    session.on('error', () => undefined);
    const goaway = defer<number>();
    session.on('goaway', (code) => goaway.resolve(code));
    assert.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR);
    session.destroy();
    await s.close();
  });

  it('sends GOAWAY at grpc.max_connection_age_ms and lets the call in flight finish within the grace', async () => {
    const release = defer();
    const s = await startServer(
      {
        Slow: unaryUnaryRpcMethodHandler(async (r: string) => {
          await release;
          return r;
        }, decode, encode),
      },
      { options: { 'grpc.max_connection_age_ms': 200, 'grpc.max_connection_age_grace_ms': 5000 } },
    );
    const session = http2.connect(`http://${s.address}`);
    session.on('error', () => undefined);
    const goaway = defer<number>();
    session.on('goaway', (code) => goaway.resolve(code));
    const stream = session.request(grpcHeaders('/test.Svc/Slow'));
    const trailers = defer<http2.IncomingHttpHeaders>();
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('trailers', (t) => trailers.resolve(t));
    stream.end(frame('finished'));
    assert.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR, 'GOAWAY arrives while the call is in flight');
    release.resolve();
    assert.equal((await trailers)['grpc-status'], '0');
    assert.equal(Buffer.concat(chunks).subarray(5).toString(), 'finished');
    session.destroy();
    await s.close();
  });
});
