import { after, before, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import http2 from 'node:http2';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { StatusCode, streamStreamRpcMethodHandler, unaryUnaryRpcMethodHandler } from '../../lib/index.js';
import { decode, defer, encode, jsClient, startServer, type TestServer } from '../helpers/grpc.js';

const probeScript = new URL('../helpers/h2_probe.py', import.meta.url).pathname;
const abuseScript = new URL('../helpers/h2_abuse.py', import.meta.url).pathname;

/**
 * Runs h2_abuse.py: a flood that reads the server's ACKs as it goes, and the first GOAWAY code
 * it got back. (One that writes more than 1,000 ACK-eliciting frames before reading any trips
 * nghttp2's own outbound-queue guard first, which node:http2 answers with GOAWAY INTERNAL_ERROR.)
 */
function abuse(port: number, mode: string, count: number): Promise<{ sent: number; goaway: number | null; closed: boolean }> {
  return new Promise((resolve, reject) =>
    execFile('/usr/bin/python3', [abuseScript, '127.0.0.1', String(port), mode, String(count), 'paced'], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`h2_abuse.py failed (Debian's python3-h2 is needed): ${stderr || err.message}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as { sent: number; goaway: number | null; closed: boolean });
    }),
  );
}

interface ProbeStream {
  status: string | null;
  'grpc-status': string | null;
  'grpc-message': string | null;
  data: number;
  rst: number | null;
  ended: boolean;
}
interface ProbeResult {
  streams: Record<string, ProbeStream>;
  goaways: Array<{ last: number; code: number; debug: string }>;
  closed: boolean;
}

/** Runs h2_probe.py against `port`; `onEvent` sees each event line as it comes. */
function probe(port: number, scenario: string, arg = 0, onEvent: (e: { event: string }) => void = () => undefined): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', [probeScript, '127.0.0.1', String(port), scenario, String(arg)], { timeout: 30_000 });
    let stderr = '';
    let done: ProbeResult | undefined;
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const event = JSON.parse(line) as { event: string } & ProbeResult;
      if (event.event === 'done') done = event;
      else onEvent(event);
    });
    child.on('close', (code) => {
      if (done !== undefined) resolve(done);
      else reject(new Error(`h2_probe.py ${scenario} exited ${code} (Debian's python3-h2 is needed): ${stderr}`));
    });
  });
}

const holdHandler = streamStreamRpcMethodHandler(async function* (requests: AsyncIterable<string>) {
  yield 'open';
  for await (const _ of requests);
  yield 'closed';
}, decode, encode);

describe('request metadata over grpc.max_metadata_size is refused, never served', () => {
  let server: TestServer;
  let served = 0;
  before(async () => {
    server = await startServer({
      Echo: unaryUnaryRpcMethodHandler((r: string) => {
        served++;
        return r;
      }, decode, encode),
    });
  });
  after(() => server.close());

  for (const scenario of ['metadata', 'metadata-early']) {
    it(`${scenario === 'metadata' ? 'after' : 'before'} the SETTINGS exchange: 12 KiB of metadata gets RESOURCE_EXHAUSTED against the 8 KiB default; the next call on the connection is served`, async () => {
      const before = served;
      const r = await probe(server.port, scenario, 12 * 1024);
      const big = r.streams['1']!;
      assert.equal(big['grpc-status'], String(StatusCode.RESOURCE_EXHAUSTED), JSON.stringify(big));
      assert.match(big['grpc-message'] ?? '', /grpc\.max_metadata_size/);
      assert.equal(big.data, 0);
      assert.equal(r.streams['3']!['grpc-status'], '0');
      assert.equal(served, before + 1, 'only the small call reached the handler');
      assert.deepEqual(r.goaways, []);
    });
  }

  it('advertises SETTINGS_MAX_HEADER_LIST_SIZE of grpc.absolute_max_metadata_size (16 KiB by default); past it the stream is reset, never served', async () => {
    const settings = defer<Record<string, number>>();
    const before = served;
    const r = await probe(server.port, 'metadata', 20 * 1024, (e) => {
      if (e.event === 'settings') settings.resolve((e as unknown as { settings: Record<string, number> }).settings);
    });
    assert.equal((await settings)['6'], 16_384);
    const big = r.streams['1']!;
    assert.ok(big.rst !== null || big['grpc-status'] === String(StatusCode.RESOURCE_EXHAUSTED), JSON.stringify(big));
    assert.equal(r.streams['3']!['grpc-status'], '0');
    assert.equal(served, before + 1);
  });

  it('a grpc-js client whose metadata is too big gets RESOURCE_EXHAUSTED naming the limit, and the server keeps serving it', async () => {
    const client = jsClient(server.address, { Echo: 'unary' });
    const metadata = new grpc.Metadata();
    metadata.set('x-big', 'a'.repeat(10 * 1024));
    const before = served;
    const r = await client.unary('Echo', 'hi', metadata);
    assert.equal(r.error?.code, StatusCode.RESOURCE_EXHAUSTED);
    assert.match(r.error?.details ?? '', /metadata .*grpc\.max_metadata_size/);
    assert.equal(served, before);
    assert.equal((await client.unary('Echo', 'small')).value, 'small');
    client.close();
  });

  it('grpc.max_metadata_size raises the limit (and the advertised one with it)', async () => {
    const roomy = await startServer({ Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode) }, { options: { 'grpc.max_metadata_size': 32 * 1024 } });
    try {
      const r = await probe(roomy.port, 'metadata', 24 * 1024);
      assert.equal(r.streams['1']!['grpc-status'], '0', JSON.stringify(r.streams['1']));
    } finally {
      await roomy.close();
    }
  });
});

// A peer that opens more streams than it has acknowledged in SETTINGS makes nghttp2 raise a
// connection error, which node:http2 answers with GOAWAY INTERNAL_ERROR; node exposes no way to
// make that a stream error. Streams sent before the ACK are refused one by one, and clients that
// honour the setting (grpc-js, grpc-go) queue the rest themselves.
describe('streams over MAX_CONCURRENT_STREAMS', () => {
  it('are reset with REFUSED_STREAM, so the client may retry them; the admitted ones are served', async () => {
    const s = await startServer({ Hold: holdHandler }, { options: { 'grpc.max_concurrent_streams': 3 } });
    try {
      const r = await probe(s.port, 'streams', 5);
      const admitted = Object.values(r.streams).filter((x) => x.data > 0).length;
      const refused = Object.values(r.streams).filter((x) => x.rst !== null).map((x) => x.rst);
      assert.equal(admitted, 3, JSON.stringify(r.streams));
      assert.deepEqual(refused, [http2.constants.NGHTTP2_REFUSED_STREAM, http2.constants.NGHTTP2_REFUSED_STREAM]);
      assert.deepEqual(r.goaways, []);
    } finally {
      await s.close();
    }
  });

  it('a grpc-js client with ten times more calls than the limit queues them; every call succeeds', async () => {
    const s = await startServer(
      {
        Echo: unaryUnaryRpcMethodHandler(async (r: string) => {
          await new Promise((resolve) => setImmediate(resolve));
          return r;
        }, decode, encode),
      },
      { options: { 'grpc.max_concurrent_streams': 5 } },
    );
    const client = jsClient(s.address, { Echo: 'unary' });
    try {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => client.unary('Echo', `call ${i}`)));
      assert.deepEqual(
        results.map((r) => r.value ?? r.error?.message),
        Array.from({ length: 50 }, (_, i) => `call ${i}`),
      );
    } finally {
      client.close();
      await s.close();
    }
  });
});

describe('ping floods', () => {
  // The flood reads the PING ACKs as it goes; see abuse() for one that does not.
  it('a ping flood on a connection with a call in flight gets GOAWAY ENHANCE_YOUR_CALM, and every GOAWAY says so', async () => {
    const s = await startServer({ Hold: holdHandler, Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode) });
    try {
      const r = await probe(s.port, 'ping-flood', 20_000);
      assert.ok(r.goaways.length > 0, 'the flood was answered with GOAWAY');
      for (const g of r.goaways) assert.equal(g.code, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, JSON.stringify(r.goaways));
      assert.equal(r.goaways[0]!.debug, 'too_many_pings');
      const client = jsClient(s.address, { Echo: 'unary' });
      assert.equal((await client.unary('Echo', 'after')).value, 'after');
      client.close();
    } finally {
      await s.close();
    }
  });
});

describe('SETTINGS floods', () => {
  it('a SETTINGS flood gets GOAWAY ENHANCE_YOUR_CALM; a new connection is served', async () => {
    const s = await startServer({ Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode) });
    try {
      const r = await abuse(s.port, 'settings-flood', 2000);
      assert.equal(r.goaway, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, JSON.stringify(r));
      assert.ok(r.sent < 2000, 'the flood was cut off');
      const client = jsClient(s.address, { Echo: 'unary' });
      assert.equal((await client.unary('Echo', 'after')).value, 'after');
      client.close();
    } finally {
      await s.close();
    }
  });

  it('a few SETTINGS frames over a connection\'s life (window and table updates) are fine', async () => {
    const s = await startServer({ Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode) });
    try {
      const r = await abuse(s.port, 'settings-flood', 20);
      assert.equal(r.goaway, null, JSON.stringify(r));
      assert.equal(r.sent, 20);
    } finally {
      await s.close();
    }
  });
});

describe('graceful stop', () => {
  // node:http2 (nghttp2_submit_goaway) ignores every stream that arrives after it sent any GOAWAY,
  // so a stream racing the GOAWAY cannot be served. It is not lost either: RFC 9113 6.8, the
  // GOAWAY's last-stream-id tells the client the stream was not processed and may be retried.
  it('a call racing the GOAWAY is left unprocessed and every GOAWAY names only the calls served; the call in flight finishes', async () => {
    const s = await startServer({ Hold: holdHandler, Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode) });
    let stopped: Promise<void> | undefined;
    const r = await probe(s.port, 'graceful', 0, (e) => {
      if (e.event === 'ready') stopped = s.srv.stop(10);
    });
    assert.ok(stopped !== undefined, 'the probe got its first call answered');
    assert.ok(r.goaways.length > 0);
    for (const g of r.goaways) assert.deepEqual([g.last, g.code], [1, http2.constants.NGHTTP2_NO_ERROR]);
    assert.equal(r.streams['3'], undefined, 'stream 3 was not processed: no frame came back on it');
    assert.equal(r.streams['1']!['grpc-status'], '0', 'the call in flight finished');
    await stopped;
  });
});

describe('connection age', () => {
  it('grpc.max_connection_age_ms just under INT_MAX with +10% jitter does not overflow the timer into an immediate GOAWAY', async (t) => {
    t.after(() => mock.restoreAll());
    mock.method(Math, 'random', () => 0.999); // the largest jitter: 2_147_000_000 x 1.1 > 2^31-1
    const s = await startServer({ Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode) }, { options: { 'grpc.max_connection_age_ms': 2_147_000_000 } });
    const session = http2.connect(`http://${s.address}`);
    session.on('error', () => undefined);
    let goaways = 0;
    session.on('goaway', () => goaways++);
    await new Promise((resolve) => session.once('remoteSettings', resolve));
    mock.restoreAll();
    // An overflowed timer fires after 1 ms; give it ample time to show.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(goaways, 0);
    session.destroy();
    await s.close();
  });
});
