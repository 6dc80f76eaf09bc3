import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FRAME_HEADER_BYTES, RpcError, StatusCode, createFrameDecoder, encodeFrame, type Frame } from '../../lib/protocol/index.js';

// PROTOCOL-HTTP2.md, Length-Prefixed-Message: a message may span many DATA frames and one DATA
// frame may carry many messages, so the decoder must give the same messages however the bytes
// are cut into chunks.

const RUNS = 200;

interface Message {
  readonly compressed: boolean;
  readonly payload: Uint8Array;
}

const messageArb: fc.Arbitrary<Message> = fc.record({
  compressed: fc.boolean(),
  payload: fc.uint8Array({ maxLength: 300 }),
});

/** Cuts `bytes` into chunks at the given points (taken modulo its length); empty chunks are kept on purpose. */
function chunksOf(bytes: Uint8Array, cuts: readonly number[], asBuffer: boolean): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1))))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    const slice = bytes.slice(from, p);
    // A plain Uint8Array at an odd offset into a larger ArrayBuffer, as a fetch body gives it.
    if (asBuffer) out.push(Buffer.from(slice));
    else {
      const backing = new Uint8Array(slice.length + 3);
      backing.set(slice, 1);
      out.push(backing.subarray(1, 1 + slice.length));
    }
    from = p;
  }
  return out;
}

function concat(messages: readonly Message[]): Uint8Array {
  return Buffer.concat(messages.map((m) => encodeFrame(m.payload, m.compressed)));
}

function decodeAll(chunks: readonly Uint8Array[], maxMessageBytes: number): Frame[] {
  const decoder = createFrameDecoder({ maxMessageBytes });
  const frames: Frame[] = [];
  for (const chunk of chunks) for (const frame of decoder.decode(chunk)) frames.push(frame);
  decoder.end();
  return frames;
}

function assertSameMessages(frames: readonly Frame[], messages: readonly Message[]): void {
  assert.equal(frames.length, messages.length);
  for (let i = 0; i < messages.length; i++) {
    assert.equal(frames[i]!.compressed, messages[i]!.compressed, `compressed flag of message ${i}`);
    assert.deepEqual(new Uint8Array(frames[i]!.payload), messages[i]!.payload, `payload of message ${i}`);
  }
}

function rpcCode(fn: () => unknown): StatusCode | 'no error' {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof RpcError, `expected an RpcError, got ${String(err)}`);
    return err.code;
  }
  return 'no error';
}

describe('frame decoder properties', () => {
  it('gives the same messages and compressed flags however the stream is chunked', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), fc.boolean(), (messages, cuts, asBuffer) => {
        const frames = decodeAll(chunksOf(concat(messages), cuts, asBuffer), -1);
        assertSameMessages(frames, messages);
      }),
      { numRuns: RUNS },
    );
  });

  it('gives the same messages fed one byte at a time', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 6 }), (messages) => {
        const bytes = concat(messages);
        const chunks: Uint8Array[] = [];
        for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
        assertSameMessages(decodeAll(chunks, -1), messages);
      }),
      { numRuns: 50 },
    );
  });

  it('accepts a message exactly at the size limit, whatever the chunking', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 256 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 20 }), (limit, compressed, cuts) => {
        const messages = [{ compressed, payload: new Uint8Array(limit).fill(7) }];
        assertSameMessages(decodeAll(chunksOf(concat(messages), cuts, true), limit), messages);
      }),
      { numRuns: RUNS },
    );
  });

  it('fails RESOURCE_EXHAUSTED on the chunk that completes a length prefix over the limit, before any payload arrives', () => {
    fc.assert(
      fc.property(
        fc.array(messageArb, { maxLength: 4 }),
        fc.integer({ min: 0, max: 64 }),
        fc.integer({ min: 1, max: 0xffffffff - 64 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 20 }),
        (candidates, limit, excess, compressed, cuts) => {
          const before = candidates.filter((m) => m.payload.length <= limit);
          const valid = concat(before);
          const prefix = Buffer.alloc(FRAME_HEADER_BYTES);
          prefix[0] = compressed ? 1 : 0;
          prefix.writeUInt32BE(limit + excess, 1);
          // Only the prefix is sent: the claimed body never arrives, so failing proves nothing waited for it.
          const bytes = Buffer.concat([valid, prefix]);
          const decoder = createFrameDecoder({ maxMessageBytes: limit });
          let decoded = 0;
          let code: StatusCode | 'no error' = 'no error';
          let consumed = 0;
          for (const chunk of chunksOf(bytes, cuts, true)) {
            consumed += chunk.length;
            code = rpcCode(() => (decoded += decoder.decode(chunk).length));
            if (code !== 'no error') break;
          }
          assert.equal(code, StatusCode.RESOURCE_EXHAUSTED);
          assert.equal(consumed, bytes.length, 'fails on the chunk holding the last prefix byte, not earlier');
          // Messages before the oversized one that completed in earlier chunks were delivered.
          assert.ok(decoded <= before.length);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('keeps memory to the bytes received when a peer claims a huge length and no limit is set', () => {
    const before = process.memoryUsage().arrayBuffers;
    const decoder = createFrameDecoder({ maxMessageBytes: -1 });
    const prefix = Buffer.from([0, 0xff, 0xff, 0xff, 0xff]);
    assert.deepEqual(decoder.decode(prefix), []);
    for (let i = 0; i < 100; i++) assert.deepEqual(decoder.decode(Buffer.alloc(10, i)), []);
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(grown < 1 << 20, `grew ${grown} bytes for a claimed 4 GiB message`);
    assert.equal(rpcCode(() => decoder.end()), StatusCode.INTERNAL);
  });

  it('fails INTERNAL at end() for any stream cut short inside a message', () => {
    fc.assert(
      fc.property(
        fc.array(messageArb, { minLength: 1, maxLength: 6 }),
        fc.nat(),
        fc.array(fc.nat(), { maxLength: 20 }),
        (messages, cutAt, cuts) => {
          const bytes = concat(messages);
          // Message boundaries are the only places a stream may end.
          const boundaries = new Set<number>([0]);
          let at = 0;
          for (const m of messages) boundaries.add((at += FRAME_HEADER_BYTES + m.payload.length));
          const length = cutAt % bytes.length;
          fc.pre(!boundaries.has(length));
          const decoder = createFrameDecoder({ maxMessageBytes: -1 });
          for (const chunk of chunksOf(bytes.subarray(0, length), cuts, true)) decoder.decode(chunk);
          assert.equal(rpcCode(() => decoder.end()), StatusCode.INTERNAL);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('fails INTERNAL for any compressed flag other than 0 or 1, whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.array(messageArb, { maxLength: 4 }),
        fc.integer({ min: 2, max: 255 }),
        fc.uint8Array({ maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (before, flag, payload, cuts) => {
          const bad = Buffer.from(encodeFrame(payload));
          bad[0] = flag;
          const decoder = createFrameDecoder({ maxMessageBytes: -1 });
          let code: StatusCode | 'no error' = 'no error';
          for (const chunk of chunksOf(Buffer.concat([concat(before), bad]), cuts, true)) {
            code = rpcCode(() => decoder.decode(chunk));
            if (code !== 'no error') break;
          }
          assert.equal(code, StatusCode.INTERNAL);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('is idle exactly when the bytes so far end on a message boundary, so a reader may drop it then and start a new one', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 30 }), (messages, cuts) => {
        const boundaries = new Set([0]);
        let end = 0;
        for (const m of messages) boundaries.add((end += FRAME_HEADER_BYTES + m.payload.length));
        const kept = createFrameDecoder({ maxMessageBytes: -1 });
        let fresh: ReturnType<typeof createFrameDecoder> | undefined;
        const frames: Frame[] = [];
        let received = 0;
        for (const chunk of chunksOf(concat(messages), cuts, true)) {
          kept.decode(chunk);
          received += chunk.length;
          assert.equal(kept.idle, boundaries.has(received), `after ${received} bytes`);
          const decoder = (fresh ??= createFrameDecoder({ maxMessageBytes: -1 }));
          frames.push(...decoder.decode(chunk));
          if (decoder.idle) fresh = undefined;
        }
        assertSameMessages(frames, messages);
      }),
      { numRuns: RUNS },
    );
  });
});
