// 6. gRPC-Web unary throughput, over HTTP/1.1 and over HTTP/2: grpc-iter's server (gRPC-Web on
// its one gRPC port, which tells HTTP/1.1 from HTTP/2 by the connection's first bytes) beside
// @connectrpc/connect-node's gRPC-Web server (on node:http and on node:http2), the same 100-byte
// messages, h2load as the load generator for both protocols (`--h1` for HTTP/1.1). Each
// contender's answer is checked on both protocols before it is timed, since h2load only counts
// HTTP statuses and a gRPC-Web error is HTTP 200 too.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The contenders of the gRPC-Web workload. */
export const GRPC_WEB_CONTENDERS = ['grpc-iter', 'connect-node'] as const;
type Contender = (typeof GRPC_WEB_CONTENDERS)[number];

/** What the workload needs from the suite. */
export interface GrpcWebHarness {
  readonly rounds: number;
  /** Seconds each h2load run measures for (after a warm-up second, unless under a second). */
  readonly seconds: number;
  readonly h2load: string | undefined;
  readonly notes: string[];
  record(workload: string, contender: string, value: number): void;
  run(command: string, argv: string[]): Promise<string>;
}

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const CONTENT_TYPE = 'application/grpc-web+proto';
const PATH = '/grpc.testing.BenchmarkService/UnaryCall';

/** One contender's server process and its ports: grpc-iter serves both protocols on one. */
class WebServerProcess {
  readonly #child: ChildProcess;
  http1Port = 0;
  http2Port = 0;

  constructor(readonly name: Contender) {
    this.#child = spawn(process.execPath, [here(`./contenders/${name}-server.mjs`)], { stdio: ['pipe', 'pipe', 'inherit'] });
  }

  async start(): Promise<this> {
    for await (const line of createInterface({ input: this.#child.stdout! })) {
      if (!line.startsWith('READY ')) continue;
      const [h1, h2 = h1] = line.slice(6).trim().split(' ').map(Number);
      this.http1Port = h1!;
      this.http2Port = h2!;
      return this;
    }
    throw new Error(`${this.name} server exited before saying READY`);
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    this.#child.stdin!.write('exit\n');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await once(this.#child, 'exit');
    clearTimeout(timer);
  }
}

/** The request every run sends: a SimpleRequest for a 100-byte response with a 100-byte payload, framed. */
function requestBody(): Buffer {
  const payload = Buffer.concat([Buffer.from([0x12, 100]), Buffer.alloc(100)]);
  const message = Buffer.concat([Buffer.from([0x10, 100, 0x1a, payload.length]), payload]);
  const frame = Buffer.alloc(5);
  frame.writeUInt32BE(message.length, 1);
  return Buffer.concat([frame, message]);
}

/** Checks one gRPC-Web answer: HTTP 200, the binary content type, one message of a 100-byte payload, then trailers with grpc-status 0. */
function checkAnswer(name: string, protocol: string, status: number, contentType: string | undefined, body: Buffer): void {
  const fail = (why: string): never => {
    throw new Error(`${name} over ${protocol}: ${why}`);
  };
  if (status !== 200) fail(`HTTP ${status}`);
  if (contentType?.startsWith('application/grpc-web') !== true) fail(`content-type ${String(contentType)}`);
  if (body.length < 5 || body[0] !== 0) fail(`no message frame first (${body.length} bytes)`);
  const length = body.readUInt32BE(1);
  // SimpleResponse { payload (1) = Payload { body (2) = 100 bytes } }: 2 + 2 + 100 bytes.
  if (length !== 104 || body[5] !== 0x0a || body[7] !== 0x12 || body[8] !== 100) fail(`a ${length}-byte message, not a 100-byte payload`);
  const trailer = body.subarray(5 + length);
  if (trailer[0] !== 0x80 || !/^grpc-status: ?0\r?$/im.test(trailer.subarray(5).toString())) fail(`trailers ${JSON.stringify(trailer.subarray(5).toString())}`);
}

async function checkHttp1(name: string, port: number, body: Buffer): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${port}${PATH}`, { method: 'POST', headers: { 'content-type': CONTENT_TYPE, 'x-grpc-web': '1' }, body, signal: AbortSignal.timeout(10_000) });
  checkAnswer(name, 'HTTP/1.1', response.status, response.headers.get('content-type') ?? undefined, Buffer.from(await response.arrayBuffer()));
}

async function checkHttp2(name: string, port: number, body: Buffer): Promise<void> {
  const session = connect(`http://127.0.0.1:${port}`);
  try {
    const stream = session.request({ ':method': 'POST', ':path': PATH, 'content-type': CONTENT_TYPE, 'x-grpc-web': '1' }, { signal: AbortSignal.timeout(10_000) });
    stream.end(body);
    const [headers] = (await once(stream, 'response')) as [Record<string, string | number>];
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    checkAnswer(name, 'HTTP/2', Number(headers[':status']), headers['content-type'] as string | undefined, Buffer.concat(chunks));
  } finally {
    session.close();
  }
}

/** Runs the workload: `grpcweb-h1` and `grpcweb-h2`, req/s per contender, rounds interleaved. */
export async function grpcWebUnary(harness: GrpcWebHarness): Promise<void> {
  const { h2load } = harness;
  if (h2load === undefined) {
    harness.notes.push('gRPC-Web unary throughput was not measured: h2load is missing. Install it with `sudo apt-get install nghttp2-client` (Debian/Ubuntu) or `brew install nghttp2` (macOS).');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'grpc-iter-bench-web-'));
  const file = join(dir, 'request.bin');
  const body = requestBody();
  writeFileSync(file, body);
  const servers = await Promise.all(GRPC_WEB_CONTENDERS.map((n) => new WebServerProcess(n).start()));
  try {
    for (const s of servers) {
      await checkHttp1(s.name, s.http1Port, body);
      await checkHttp2(s.name, s.http2Port, body);
    }
    const headers = ['-H', `content-type: ${CONTENT_TYPE}`, '-H', 'x-grpc-web: 1'];
    // HTTP/2: as the gRPC unary workload, 8 connections × 32 streams. HTTP/1.1: one request at a
    // time per connection (no pipelining, as browsers do), so 64 connections.
    const protocols = [
      ['h1', (s: WebServerProcess) => ['--h1', '-c', '64', '-m', '1', ...headers, `http://127.0.0.1:${s.http1Port}${PATH}`]],
      ['h2', (s: WebServerProcess) => ['-c', '8', '-m', '32', ...headers, `http://127.0.0.1:${s.http2Port}${PATH}`]],
    ] as const;
    // Timed runs, not a request count: connect-node answers several times fewer requests per
    // second, and a fixed count would make its runs take minutes.
    const timing = harness.seconds >= 1 ? ['-D', String(harness.seconds), '--warm-up-time=1'] : ['-D', '1'];
    for (let round = 0; round < harness.rounds; round++) {
      for (const [protocol, argv] of protocols) {
        for (const s of servers) {
          const out = await harness.run(h2load, [...timing, '-t', '2', '-d', file, ...argv(s)]);
          const rate = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
          const counts = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
          if (rate === null || counts === null || Number(counts[1]) === 0 || counts[1] !== counts[2] || counts[3] !== '0' || counts[4] !== '0') throw new Error(`${s.name} (gRPC-Web ${protocol}): h2load saw requests fail:\n${out}`);
          harness.record(`grpcweb-${protocol}`, s.name, Number(rate[1]));
        }
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The workload's tables, with each contender's ratio to connect-node. */
export function grpcWebTables(results: Readonly<Record<string, Readonly<Record<string, { readonly median: number; readonly min: number; readonly max: number }>>>>): string[] {
  const fmt = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 0 });
  const tables: string[] = [];
  for (const [protocol, title] of [
    ['h1', '6a. gRPC-Web unary throughput over HTTP/1.1 (h2load --h1, 64 connections, 100-byte messages)'],
    ['h2', '6b. gRPC-Web unary throughput over HTTP/2 (h2load, 8 connections × 32 streams, 100-byte messages)'],
  ] as const) {
    const w = results[`grpcweb-${protocol}`];
    if (w === undefined) continue;
    const base = w['connect-node']?.median;
    const lines = [`### ${title}`, '', '| contender | median req/s | min | max | vs connect-node |', '|---|---:|---:|---:|---:|'];
    for (const [name, s] of Object.entries(w)) lines.push(`| ${name} | ${fmt(s.median)} | ${fmt(s.min)} | ${fmt(s.max)} | ${base === undefined || base === 0 ? '' : `${(s.median / base).toFixed(2)}×`} |`);
    tables.push(`${lines.join('\n')}\n`);
  }
  return tables;
}
