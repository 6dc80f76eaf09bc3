// The bench's raw stream client (bench/clients/h2.mjs) against servers that misbehave on purpose:
// one that stalls through a short measured window must still yield a count, and one that ends its
// streams must be named in the output at once, not after the client's waits run out.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

const frame = (size: number): Buffer => {
  const out = Buffer.alloc(5 + size);
  out.writeUInt32BE(size, 1);
  return out;
};

/** Runs the stream client in `mode` against `port`; its stdout and how long it took. */
function client(mode: 'stream' | 'bidi', port: number, seconds: number): Promise<{ out: string; ms: number }> {
  const start = Date.now();
  const args = mode === 'stream' ? ['stream', port, 1, seconds, 64] : ['bidi', port, seconds, 64];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['bench/clients/h2.mjs', ...args.map(String)], { timeout: 30_000 }, (err, out) =>
      err === null ? resolve({ out, ms: Date.now() - start }) : reject(err),
    );
  });
}

let server: http2.Http2Server | undefined;
afterEach(() => server?.close());

async function listen(onStream: (stream: http2.ServerHttp2Stream) => void): Promise<number> {
  server = http2.createServer();
  server.on('stream', (stream) => {
    stream.on('error', () => undefined);
    onStream(stream);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('bench stream client', () => {
  it('counts messages when the server stalls through the whole measured window', async () => {
    // Three messages, then nothing for 600 ms (longer than the 75 ms warm-up and 150 ms window
    // together), then a message every millisecond until the client cancels.
    const port = await listen((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      for (let i = 0; i < 3; i++) stream.write(frame(64));
      const later = setTimeout(() => {
        const tick = setInterval(() => (stream.destroyed ? clearInterval(tick) : stream.write(frame(64))), 1);
      }, 600);
      stream.on('close', () => clearTimeout(later));
    });
    for (const mode of ['stream', 'bidi'] as const) {
      const { out } = await client(mode, port, 0.15);
      const m = /(?:STREAM|BIDI) (\d+) (?:\d+ )?([\d.]+)/.exec(out);
      assert.ok(m !== null, out);
      assert.ok(Number(m[1]) >= 10, `${mode}: counted ${m[1]} messages (${out.trim()})`);
      assert.ok(Number(m[2]) > 0.4, `${mode}: a window of ${m[2]} s cannot have reached past the stall`);
    }
  });

  it('names why streams ended and stops waiting once they all have', async () => {
    let calls = 0;
    const port = await listen((stream) => {
      if (calls++ % 2 === 0) stream.respond({ ':status': 415 }, { endStream: true });
      else stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'no such method' }, { endStream: true });
    });
    const first = await client('stream', port, 0.15);
    assert.match(first.out, /^stream 1 ended early: HTTP 415$/m);
    assert.match(first.out, /^STREAM 0 0 /m);
    const second = await client('bidi', port, 0.15);
    assert.match(second.out, /^the bidi stream ended early: grpc-status 12 no such method$/m);
    assert.match(second.out, /^BIDI 0 /m);
    for (const { ms } of [first, second]) assert.ok(ms < 5000, `the client took ${ms} ms after its streams had ended`);
  });
});
