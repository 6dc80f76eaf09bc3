import { describe, it } from 'node:test';
import { base64Encode } from '../../lib/util/index.js';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  RpcError,
  StatusCode,
  TRAILER_FLAG,
  createBase64Decoder,
  createWebFrameDecoder,
  encodeTrailerFrame,
  encodeWebFrame,
  grpcWebContentType,
  parseGrpcWebContentType,
  parseTrailerBlock,
  type WebFrame,
} from '../../lib/protocol/index.js';

// grpc/grpc doc/PROTOCOL-WEB.md: the gRPC framing with a trailers frame (flag 0x80) last, and a
// text mode that base64-encodes each flushed chunk whole.

const RUNS = 200;

function cut(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.slice(from, p));
    from = p;
  }
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function rpcCode(err: unknown): StatusCode | undefined {
  return err instanceof RpcError ? err.code : undefined;
}

describe('gRPC-Web content types', () => {
  it('reads binary and text types, with a codec suffix and parameters, in any case', () => {
    assert.deepEqual(parseGrpcWebContentType('application/grpc-web'), { text: false, codec: 'proto' });
    assert.deepEqual(parseGrpcWebContentType('application/grpc-web+proto'), { text: false, codec: 'proto' });
    assert.deepEqual(parseGrpcWebContentType('application/grpc-web-text'), { text: true, codec: 'proto' });
    assert.deepEqual(parseGrpcWebContentType('Application/GRPC-Web-Text+json; charset=utf-8'), { text: true, codec: 'json' });
  });

  it('is not fooled by native gRPC or other types', () => {
    for (const value of [undefined, '', 'application/grpc', 'application/grpc+proto', 'application/grpc-webx', 'application/grpc-web+', 'text/plain']) {
      assert.equal(parseGrpcWebContentType(value), undefined, String(value));
    }
  });

  it('names the response type of a format', () => {
    assert.equal(grpcWebContentType({ text: false, codec: 'proto' }), 'application/grpc-web+proto');
    assert.equal(grpcWebContentType({ text: true, codec: 'json' }), 'application/grpc-web-text+json');
  });
});

describe('gRPC-Web frames', () => {
  it('frames a message with its flag and big-endian length', () => {
    assert.deepEqual([...encodeWebFrame(new Uint8Array([7, 8]), 0)], [0, 0, 0, 0, 2, 7, 8]);
    assert.deepEqual([...encodeWebFrame(new Uint8Array(0), TRAILER_FLAG)], [0x80, 0, 0, 0, 0]);
  });

  it('writes the trailers block HTTP/1-style with lower-case keys, and reads it back', () => {
    const frame = encodeTrailerFrame([
      ['Grpc-Status', '3'],
      ['grpc-message', 'bad%20thing'],
      ['x-note', 'a: b'],
    ]);
    assert.equal(frame[0], TRAILER_FLAG);
    const payload = frame.subarray(5);
    assert.equal(new TextDecoder().decode(payload), 'grpc-status: 3\r\ngrpc-message: bad%20thing\r\nx-note: a: b\r\n');
    assert.deepEqual(parseTrailerBlock(payload), [
      ['grpc-status', '3'],
      ['grpc-message', 'bad%20thing'],
      ['x-note', 'a: b'],
    ]);
  });

  it('refuses a trailers line that has no colon', () => {
    assert.throws(() => parseTrailerBlock(new TextEncoder().encode('grpc-status 0\r\n')), (err) => rpcCode(err) === StatusCode.INTERNAL);
  });

  it('decodes the same frames however the body is cut into chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ compressed: fc.boolean(), payload: fc.uint8Array({ maxLength: 200 }) }), { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 12 }), (messages, cuts) => {
        const body = concat([...messages.map((m) => encodeWebFrame(m.payload, m.compressed ? 1 : 0)), encodeTrailerFrame([['grpc-status', '0']])]);
        const decoder = createWebFrameDecoder(-1);
        const frames: WebFrame[] = [];
        for (const chunk of cut(body, cuts)) frames.push(...decoder.decode(chunk));
        assert.equal(decoder.atBoundary, true);
        assert.equal(frames.length, messages.length + 1);
        messages.forEach((m, i) => {
          assert.equal(frames[i]!.trailers, false);
          assert.equal(frames[i]!.compressed, m.compressed);
          assert.deepEqual([...frames[i]!.payload], [...m.payload]);
        });
        assert.equal(frames.at(-1)!.trailers, true);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses a length prefix over the limit before the payload arrives', () => {
    const decoder = createWebFrameDecoder(10);
    assert.throws(() => decoder.decode(new Uint8Array([0, 0, 0, 0, 11])), (err) => rpcCode(err) === StatusCode.RESOURCE_EXHAUSTED);
  });

  it('refuses unknown flags and frames after the trailers', () => {
    assert.throws(() => createWebFrameDecoder(-1).decode(new Uint8Array([0x02, 0, 0, 0, 0])), (err) => rpcCode(err) === StatusCode.INTERNAL);
    const decoder = createWebFrameDecoder(-1);
    assert.throws(() => decoder.decode(concat([encodeTrailerFrame([]), encodeWebFrame(new Uint8Array(1), 0)])), (err) => rpcCode(err) === StatusCode.INTERNAL);
  });

  it('says when the body stopped in the middle of a frame', () => {
    const decoder = createWebFrameDecoder(-1);
    assert.deepEqual(decoder.decode(new Uint8Array([0, 0, 0, 0, 3, 1])), []);
    assert.equal(decoder.atBoundary, false);
  });

  it('decodes a large message sent in small chunks in linear time', () => {
    // A quadratic decoder (copying everything buffered on each chunk) would copy 4 GiB here.
    const frame = encodeWebFrame(new Uint8Array(8 * 1024 * 1024).fill(7), 0);
    const decoder = createWebFrameDecoder(-1);
    const started = performance.now();
    const frames: WebFrame[] = [];
    for (let i = 0; i < frame.length; i += 8192) frames.push(...decoder.decode(frame.subarray(i, i + 8192)));
    const elapsed = performance.now() - started;
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.payload.length, 8 * 1024 * 1024);
    assert.equal(frames[0]!.payload[8 * 1024 * 1024 - 1], 7);
    assert.ok(elapsed < 1500, `took ${Math.round(elapsed)} ms`);
  });
});

describe('gRPC-Web text mode', () => {
  it('encodes as standard padded base64', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        assert.equal(base64Encode(bytes), Buffer.from(bytes).toString('base64'));
      }),
      { numRuns: RUNS },
    );
  });

  it('decodes chunks each encoded whole (padding between them), cut anywhere', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 5 }), fc.array(fc.nat(), { maxLength: 8 }), (flushes, cuts) => {
        const text = flushes.map((f) => base64Encode(f)).join('');
        const decoder = createBase64Decoder();
        const out: Uint8Array[] = [];
        const bytes = new TextEncoder().encode(text);
        for (const piece of cut(bytes, cuts)) out.push(decoder.decode(new TextDecoder().decode(piece)));
        assert.equal(decoder.atBoundary, true);
        assert.deepEqual([...concat(out)], [...concat(flushes)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses characters outside the alphabet and misplaced padding', () => {
    for (const bad of ['QU!D', 'Q===', '=QUJ', 'QU=D', 'QUJD\u00e9AAA']) {
      assert.throws(() => createBase64Decoder().decode(bad), (err) => rpcCode(err) === StatusCode.INTERNAL, bad);
    }
  });

  it('says when the text stopped in the middle of a group', () => {
    const decoder = createBase64Decoder();
    assert.deepEqual([...decoder.decode('QUJDRA')], [65, 66, 67]);
    assert.equal(decoder.atBoundary, false);
  });
});
