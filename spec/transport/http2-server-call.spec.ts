import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serverCalls } from '../helpers/server-calls.js';

// The server call over a node:http2 stream, made directly (no server around it), to see what it
// leaves on the stream. What an idle stream holds is counted in bench/RESULTS.md (memory per
// idle bidi stream): a call adds no function of its own to its stream.

const EVENTS = ['close', 'error', 'wantTrailers', 'readable', 'end', 'data', 'aborted'];

describe('Http2ServerCall on a node:http2 stream', () => {
  const { open } = serverCalls();

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
