// The client side of grpc/grpc doc/negative-http2-interop-test-descriptions.md: for each case the
// suite's misbehaving server (negative-http2-server.py, Python h2 like the reference server in
// grpc/grpc test/http2_test/) runs with that --test_case, and the interop client runs the same
// case against it from its command line, as the suite's harness does. The client must pass (its
// "Client asserts"), and what the server saw must hold too (its "Server asserts").
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import http2 from 'node:http2';
import { NEGATIVE_HTTP2_CASES, type NegativeHttp2Case } from '../../examples/interop/client.js';

const serverScript = new URL('./negative-http2-server.py', import.meta.url).pathname;

/** What the server saw on one connection (one JSON line when it closes). */
interface ConnectionSummary {
  connection: number;
  answered: number[];
  max_open_streams: number;
  pings_sent: number;
  pings_outstanding: number;
  streams_after_goaway: number;
  violation: string | null;
}

interface NegativeServer {
  port: number;
  /** Stops the server and returns the summaries of the connections it accepted (those written within 10 s). */
  stop(): Promise<ConnectionSummary[]>;
}

async function startServer(testCase: NegativeHttp2Case): Promise<NegativeServer> {
  const child = spawn('/usr/bin/python3', [serverScript, '--port=0', `--test_case=${testCase}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const signal = AbortSignal.timeout(10_000);
  while (!/^listening on \d+$/m.test(out)) {
    const [event] = (await Promise.race([once(child.stdout, 'data', { signal }), once(child, 'exit', { signal }).then(() => ['exit'])])) as [string];
    if (event === 'exit') throw new Error(`negative-http2-server.py exited (Debian's python3-h2 is needed): ${err}`);
  }
  const port = Number(/^listening on (\d+)$/m.exec(out)![1]);
  // Complete lines only: the last piece may be a line still being written.
  const lines = (): Array<Record<string, unknown>> =>
    out
      .split('\n')
      .slice(0, -1)
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    port,
    async stop() {
      // The client process has exited, so every connection is closing; wait until the server
      // has written the summary of each one it accepted. On a timeout the checks on the
      // summaries fail, after the client's own output has been checked.
      const waitFor = AbortSignal.timeout(10_000);
      const closed = (): ConnectionSummary[] => lines().filter((l) => 'connection' in l) as unknown as ConnectionSummary[];
      try {
        while (!(closed().length > 0 && closed().length === lines().filter((l) => 'opened' in l).length)) {
          await once(child.stdout, 'data', { signal: waitFor });
        }
      } catch {
        // Timed out: return what there is.
      }
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
      return closed();
    },
  };
}

function runClient(port: number, testCase: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'examples/interop/client.ts', '--server_host=127.0.0.1', `--server_port=${port}`, `--test_case=${testCase}`],
      { timeout: 40_000 },
      (err, stdout, stderr) => resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr }),
    );
  });
}

/** The server-side checks of each description, on what the server saw. */
const serverAsserts: Record<NegativeHttp2Case, (connections: ConnectionSummary[]) => void> = {
  rst_after_header(connections) {
    assert.equal(connections.length, 1);
    assert.deepEqual(connections[0]!.answered, [], 'the stream was reset before any response message');
  },
  rst_after_data(connections) {
    assert.equal(connections.length, 1);
    assert.deepEqual(connections[0]!.answered, [1]);
  },
  rst_during_data(connections) {
    assert.equal(connections.length, 1);
    assert.deepEqual(connections[0]!.answered, [1]);
  },
  goaway(connections) {
    // The second call went out on a new connection, and nothing new was started on the old one.
    assert.equal(connections.length, 2, 'two connections, one per call');
    for (const c of connections) {
      assert.equal(c.answered.length, 1, `connection ${c.connection} answered one call`);
      assert.equal(c.streams_after_goaway, 0, `connection ${c.connection}: no stream opened after GOAWAY`);
    }
  },
  ping(connections) {
    assert.equal(connections.length, 1);
    assert.equal(connections[0]!.pings_sent, 4, 'PINGs before and after the headers and the data');
    assert.equal(connections[0]!.pings_outstanding, 0, 'the client acknowledged every PING');
  },
  max_streams(connections) {
    assert.equal(
      connections.reduce((n, c) => n + c.answered.length, 0),
      11,
      'the first call and ten concurrent ones were answered',
    );
    for (const c of connections) assert.equal(c.max_open_streams, 1, `connection ${c.connection} never had more than one stream open`);
  },
};

// SimpleRequest { response_size: 314159, payload: { body: 271828 zero bytes } }, length-prefixed,
// and the length of the framed SimpleResponse the server owes it (5 + 1 + 3 + 1 + 3 + 314159).
const PAYLOAD = Buffer.concat([Buffer.from([0x12, 0xd4, 0xcb, 0x10]), Buffer.alloc(271828)]);
const REQUEST = Buffer.concat([Buffer.from([0x10, 0xaf, 0x96, 0x13, 0x1a, 0xd8, 0xcb, 0x10]), PAYLOAD]);
const FRAMED_REQUEST = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), REQUEST]);
FRAMED_REQUEST.writeUInt32BE(REQUEST.length, 1);
const FRAMED_RESPONSE_BYTES = 314172;

interface RawExchange {
  status: number | undefined;
  dataBytes: number;
  trailers: http2.IncomingHttpHeaders | undefined;
  rstCode: number | undefined;
  goaway: { code: number; lastStreamId: number } | undefined;
}

/** One UnaryCall on a bare node:http2 session: what arrived, frame by frame. */
async function rawUnaryCall(port: number): Promise<RawExchange> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const seen: RawExchange = { status: undefined, dataBytes: 0, trailers: undefined, rstCode: undefined, goaway: undefined };
  session.on('goaway', (code, lastStreamId) => (seen.goaway = { code, lastStreamId }));
  session.on('error', () => {});
  const stream = session.request({ ':method': 'POST', ':path': '/grpc.testing.TestService/UnaryCall', 'content-type': 'application/grpc', te: 'trailers' });
  stream.on('response', (headers) => (seen.status = headers[':status']));
  stream.on('data', (chunk: Buffer) => (seen.dataBytes += chunk.length));
  stream.on('trailers', (trailers) => (seen.trailers = trailers));
  stream.on('error', () => {});
  stream.end(FRAMED_REQUEST);
  try {
    // After RST_STREAM(NO_ERROR) node:http2 ends the readable side but never emits 'close'
    // while request bytes are still unsent, so 'end' is where the answer is complete.
    await once(stream, 'end', { signal: AbortSignal.timeout(10_000) });
    seen.rstCode = stream.rstCode;
    if (seen.goaway === undefined && seen.trailers !== undefined) await once(session, 'goaway', { signal: AbortSignal.timeout(1_000) }).catch(() => {});
  } finally {
    stream.destroy();
    session.destroy();
  }
  return seen;
}

describe('the misbehaving server does what each description says, seen through bare node:http2', () => {
  const expectations: Partial<Record<NegativeHttp2Case, (seen: RawExchange) => void>> = {
    rst_after_header(seen) {
      assert.equal(seen.status, 200);
      assert.equal(seen.dataBytes, 0);
      assert.equal(seen.trailers, undefined);
      assert.equal(seen.rstCode, http2.constants.NGHTTP2_NO_ERROR, 'RST_STREAM(NO_ERROR)');
    },
    rst_during_data(seen) {
      assert.equal(seen.status, 200);
      assert.equal(seen.dataBytes, Math.floor(FRAMED_RESPONSE_BYTES / 2), 'half of the response message');
      assert.equal(seen.trailers, undefined);
      assert.equal(seen.rstCode, http2.constants.NGHTTP2_NO_ERROR, 'RST_STREAM(NO_ERROR)');
    },
    rst_after_data(seen) {
      assert.equal(seen.status, 200);
      assert.equal(seen.dataBytes, FRAMED_RESPONSE_BYTES, 'the whole response message');
      assert.equal(seen.trailers, undefined);
      assert.equal(seen.rstCode, http2.constants.NGHTTP2_NO_ERROR, 'RST_STREAM(NO_ERROR)');
    },
    goaway(seen) {
      assert.equal(seen.dataBytes, FRAMED_RESPONSE_BYTES);
      assert.equal(seen.trailers?.['grpc-status'], '0');
      assert.deepEqual(seen.goaway, { code: http2.constants.NGHTTP2_NO_ERROR, lastStreamId: 1 }, 'GOAWAY(NO_ERROR) naming the answered stream');
    },
  };
  for (const [testCase, expect] of Object.entries(expectations) as Array<[NegativeHttp2Case, (seen: RawExchange) => void]>) {
    it(testCase, { timeout: 30_000 }, async () => {
      const server = await startServer(testCase);
      try {
        expect(await rawUnaryCall(server.port));
      } finally {
        await server.stop();
      }
    });
  }
});

describe('negative HTTP/2 interop: the interop client against a misbehaving server', () => {
  for (const testCase of NEGATIVE_HTTP2_CASES) {
    it(`${testCase}: the client passes and the server saw what the description asserts`, { timeout: 50_000 }, async () => {
      const server = await startServer(testCase);
      let connections: ConnectionSummary[];
      let client: Awaited<ReturnType<typeof runClient>>;
      try {
        client = await runClient(server.port, testCase);
      } finally {
        connections = await server.stop();
      }
      assert.equal(client.code, 0, `${client.stdout}${client.stderr}`);
      assert.match(client.stdout, new RegExp(`^${testCase}: passed$`, 'm'));
      for (const c of connections) assert.equal(c.violation, null, `connection ${c.connection}: the client broke an HTTP/2 rule`);
      serverAsserts[testCase](connections);
    });
  }

  it('a case that does not see what it expects exits 1 and prints the reason', { timeout: 50_000 }, async () => {
    // rst_after_header expects the call to fail; the ping server answers it normally.
    const server = await startServer('ping');
    try {
      const { code, stderr } = await runClient(server.port, 'rst_after_header');
      assert.equal(code, 1);
      assert.match(stderr, /^rst_after_header: FAILED: UnaryCall reset with RST_STREAM\(NO_ERROR\): succeeded, expected status INTERNAL$/m);
    } finally {
      await server.stop();
    }
  });
});
