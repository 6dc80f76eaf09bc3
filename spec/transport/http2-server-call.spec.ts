import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2, { type ClientHttp2Session, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Http2ServerCall } from '../../lib/transport/http2-server-call.js';

// The server call over a node:http2 stream, made directly (no server around it), to see what it
// leaves on the stream. What an idle stream holds is counted in bench/RESULTS.md (memory per
// idle bidi stream): a call adds no function of its own to its stream.

const LIMITS = { maxReceiveMessageBytes: -1, maxSendMessageBytes: -1 };
const EVENTS = ['close', 'error', 'wantTrailers', 'readable', 'end', 'data', 'aborted'];

describe('Http2ServerCall on a node:http2 stream', () => {
  let h2: Http2Server;
  let client: ClientHttp2Session;
  const arrived: Array<{ stream: ServerHttp2Stream; call: Http2ServerCall }> = [];
  const waiters: Array<() => void> = [];

  before(async () => {
    h2 = http2.createServer();
    h2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
      arrived.push({ stream, call: new Http2ServerCall(stream, headers, rawHeaders, LIMITS) });
      for (const w of waiters.splice(0)) w();
    });
    h2.listen(0, '127.0.0.1');
    await once(h2, 'listening');
    client = http2.connect(`http://127.0.0.1:${(h2.address() as AddressInfo).port}`);
    client.on('error', () => undefined);
    await once(client, 'connect');
  });
  after(async () => {
    client.destroy();
    await new Promise((resolve) => h2.close(resolve));
  });

  async function open(extra: Record<string, string | string[]> = {}): Promise<{ stream: ServerHttp2Stream; call: Http2ServerCall }> {
    const count = arrived.length;
    const req = client.request({ ':method': 'POST', ':path': '/test.Svc/Chat', 'content-type': 'application/grpc', te: 'trailers', ...extra }, { endStream: false });
    req.on('error', () => undefined);
    req.resume();
    while (arrived.length === count) await new Promise<void>((resolve) => waiters.push(resolve));
    return arrived[count]!;
  }

  it('an idle call (headers sent, the request reader waiting) adds only listeners every call shares', async () => {
    const a = await open();
    const b = await open();
    for (const { call } of [a, b]) {
      call.sendHeaders();
      void call.requests((bytes) => bytes).next().catch(() => undefined);
    }
    await new Promise((resolve) => setImmediate(resolve));
    for (const event of EVENTS) {
      // A closure or a once-wrapper per call would differ between the two streams.
      assert.deepEqual(a.stream.rawListeners(event), b.stream.rawListeners(event), `'${event}' listeners`);
    }
    assert.equal(a.stream.listenerCount('wantTrailers'), 1);
    assert.equal(a.stream.listenerCount('readable'), 1);
    for (const { call } of [a, b]) call.finish(0, '');
  });

  it('keeps the request metadata, repeated keys apart and protocol headers out', async () => {
    const { call } = await open({ 'x-a': ['1', '2'], 'x-b-bin': Buffer.from('hi').toString('base64'), 'grpc-timeout': '5S' });
    assert.deepEqual(call.metadata.getAll('x-a'), ['1', '2']);
    assert.deepEqual(Buffer.from(call.metadata.get('x-b-bin') as Uint8Array).toString(), 'hi');
    assert.deepEqual([...call.metadata.keys()].sort(), ['x-a', 'x-b-bin']);
    call.finish(0, '');
  });
});
