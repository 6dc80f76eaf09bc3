import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Metadata,
  headersToMetadata,
  isReservedHeader,
  metadataToHeaders,
  rawHeadersToMetadata,
  type HeaderMap,
  type MetadataValue,
} from '../../lib/protocol/index.js';

// PROTOCOL-HTTP2.md, Requests: Custom-Metadata → Binary-Header / ASCII-Header; Header-Name is
// 1*( %x30-39 / %x61-7A / "_" / "-" / "." ), ASCII-Value is printable ASCII and space, and
// Binary-Header values are base64, which implementations must accept padded or unpadded.

const RUNS = 200;

const keyArb = fc
  .tuple(fc.stringMatching(/^[0-9a-z_.-]{1,16}$/), fc.boolean())
  .map(([name, binary]) => (binary && !name.endsWith('-bin') ? `${name}-bin` : name))
  .filter((key) => !isReservedHeader(key));

// RFC 9113 §8.2.1: a field value must not start or end with whitespace, or peers drop it.
const asciiValueArb = fc.oneof(fc.constant(''), fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,30}[\x21-\x7e])?$/));

const entriesArb: fc.Arbitrary<Array<[string, MetadataValue]>> = fc
  .tuple(
    fc.uniqueArray(keyArb, { minLength: 1, maxLength: 5 }),
    fc.array(fc.tuple(fc.nat(), asciiValueArb, fc.uint8Array({ maxLength: 40 })), { maxLength: 12 }),
  )
  .map(([keys, picks]) =>
    picks.map(([i, ascii, bytes]): [string, MetadataValue] => {
      const key = keys[i % keys.length]!;
      return [key, key.endsWith('-bin') ? bytes : ascii];
    }),
  );

/**
 * Key/value pairs in a form deepEqual compares by content (a received -bin value is a Buffer),
 * sorted by key: the order of values of one key is kept, the order of different keys is not
 * (HTTP fields with different names are unordered, and a JS object puts "0" before "a").
 */
function pairs(md: Metadata): Array<[string, string | number[]]> {
  return [...md].map(([k, v]): [string, string | number[]] => [k, typeof v === 'string' ? v : [...v]]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** What node:http2 puts on the wire for a header object: each array element is its own field. */
function toRawHeaders(headers: HeaderMap): string[] {
  const raw: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [String(value)]) raw.push(name, v);
  }
  return raw;
}

/** What node:http2 hands a client for received headers: repeated fields joined with ", ". */
function toHeaderObject(raw: readonly string[]): HeaderMap {
  // node:http2 builds it without a prototype, so a "__proto__" header is an own property.
  const headers = Object.create(null) as Record<string, string>;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    headers[name] = headers[name] === undefined ? raw[i + 1]! : `${headers[name]}, ${raw[i + 1]!}`;
  }
  return headers;
}

function metadataOf(entries: ReadonlyArray<readonly [string, MetadataValue]>): Metadata {
  const md = new Metadata();
  for (const [k, v] of entries) md.add(k, v);
  return md;
}

describe('metadata properties', () => {
  it('round-trips any valid metadata, repeated keys and -bin values included, through the raw header list', () => {
    fc.assert(
      fc.property(entriesArb, (entries) => {
        const md = metadataOf(entries);
        const received = rawHeadersToMetadata(toRawHeaders(metadataToHeaders(md, {})));
        assert.deepEqual(pairs(received), pairs(md));
      }),
      { numRuns: RUNS },
    );
  });

  it('round-trips every -bin value and every single ASCII value through a joined header object', () => {
    fc.assert(
      fc.property(entriesArb, (entries) => {
        const md = metadataOf(entries);
        const received = headersToMetadata(toHeaderObject(toRawHeaders(metadataToHeaders(md, {}))));
        for (const key of md.keys()) {
          // node:http2 joins a repeated ASCII header with ", ", which cannot be split back
          // safely because a value may itself hold a comma; -bin values can (base64 has no comma).
          if (key.endsWith('-bin') || md.getAll(key).length === 1) {
            assert.deepEqual(received.getAll(key).map((v) => [...(v as Uint8Array | string)]), md.getAll(key).map((v) => [...v]));
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('puts a "__proto__" key on the wire like any other key, and does not change the header object', () => {
    // Found by the round-trip property: `headers[key] = value` with key "__proto__" set the
    // object's prototype instead of a header, so the entry vanished (and an array value would
    // have become the prototype).
    for (const values of [['v'], ['a', 'b']]) {
      const md = metadataOf(values.map((v) => ['__proto__', v]));
      const headers = metadataToHeaders(md, {});
      assert.equal(Object.getPrototypeOf(headers), Object.prototype);
      assert.deepEqual(Object.keys(headers), ['__proto__']);
      assert.deepEqual(toRawHeaders(headers), values.flatMap((v) => ['__proto__', v]));
      assert.deepEqual(rawHeadersToMetadata(toRawHeaders(headers)).getAll('__proto__'), values);
    }
  });

  it('sends -bin values as unpadded base64 and accepts them padded or unpadded', () => {
    fc.assert(
      fc.property(keyArb.map((k) => (k.endsWith('-bin') ? k : `${k}-bin`)), fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 4 }), fc.boolean(), (key, values, padded) => {
        const md = metadataOf(values.map((v) => [key, v]));
        const sent = toRawHeaders(metadataToHeaders(md, {}));
        for (let i = 1; i < sent.length; i += 2) assert.doesNotMatch(sent[i]!, /=/);
        const raw = values.flatMap((v) => {
          const b64 = Buffer.from(v).toString('base64');
          return [key, padded ? b64 : b64.replace(/=+$/, '')];
        });
        assert.deepEqual(pairs(rawHeadersToMetadata(raw)), pairs(md));
      }),
      { numRuns: RUNS },
    );
  });

  it('splits -bin values that arrive joined in one field, with or without spaces', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 20 }), { minLength: 1, maxLength: 5 }), fc.constantFrom(',', ', '), (values, separator) => {
        const joined = values.map((v) => Buffer.from(v).toString('base64')).join(separator);
        const md = rawHeadersToMetadata(['trace-bin', joined]);
        assert.deepEqual(md.getAll('trace-bin').map((v) => [...(v as Uint8Array)]), values.map((v) => [...v]));
      }),
      { numRuns: RUNS },
    );
  });

  it('lower-cases keys given in upper case', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9A-Za-z_.-]{1,16}$/), asciiValueArb, (key, value) => {
        fc.pre(!key.toLowerCase().endsWith('-bin'));
        const md = new Metadata().add(key, value);
        assert.deepEqual([...md], [[key.toLowerCase(), value]]);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses any key outside 0-9 a-z _ - . with a TypeError saying so', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 12 }), (key) => {
        fc.pre(!/^[0-9A-Za-z_.-]+$/.test(key));
        assert.throws(() => new Metadata().add(key, 'v'), { name: 'TypeError', message: /^Cannot use metadata key ".*": keys are 0-9 a-z _ - \. only$/s });
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses a non-ASCII key that lower-cases to ASCII (KELVIN SIGN becomes "k")', () => {
    // The property above checks this only on the rare runs that draw U+212A, so it is pinned
    // here: String#toLowerCase maps it to "k", and the key was taken as "k" although it can
    // never be a header name.
    assert.throws(() => new Metadata().add('\u212a', 'v'), { name: 'TypeError', message: /^Cannot use metadata key/ });
    assert.throws(() => new Metadata().set('x-\u212aey', 'v'), { name: 'TypeError', message: /^Cannot use metadata key/ });
  });

  it('refuses any ASCII-key value outside printable ASCII with a TypeError saying so', () => {
    fc.assert(
      fc.property(keyArb.filter((k) => !k.endsWith('-bin')), fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }), (key, value) => {
        fc.pre(!/^[\x20-\x7e]*$/.test(value));
        assert.throws(() => new Metadata().add(key, value), { name: 'TypeError', message: /^Cannot set metadata ".*": / });
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses a value that starts or ends with a space, which peers drop from the wire', () => {
    // RFC 9113 §8.2.1: a field value must not start or end with whitespace; nghttp2 discards such
    // a field, so the metadata would vanish without a word.
    for (const value of [' a', 'a ', ' ']) {
      assert.throws(() => new Metadata().add('x-key', value), { name: 'TypeError', message: /^Cannot set metadata "x-key": / });
    }
    assert.equal(new Metadata().add('x-key', 'a b').get('x-key'), 'a b');
  });

  it('refuses bytes for an ASCII key and a non-byte value for a -bin key', () => {
    assert.throws(() => new Metadata().add('x-key', new Uint8Array([1])), { name: 'TypeError', message: /^Cannot set metadata "x-key": / });
    assert.throws(() => new Metadata().add('x-bin', 7 as unknown as string), { name: 'TypeError', message: /^Cannot set metadata "x-bin": / });
  });

  it('never puts reserved headers on the wire as user metadata, nor reads them back as metadata', () => {
    const reservedArb = fc.oneof(
      fc.constantFrom('content-type', 'te', 'content-length', 'host', 'connection', 'transfer-encoding', 'upgrade', 'keep-alive', 'proxy-connection'),
      fc.stringMatching(/^[0-9a-z_.-]{1,12}$/).map((s) => `grpc-${s}`).filter((k) => k !== 'grpc-status-details-bin' && k !== 'grpc-retry-pushback-ms'),
    );
    fc.assert(
      fc.property(reservedArb, entriesArb, (reserved, entries) => {
        const md = metadataOf(entries).add(reserved, reserved.endsWith('-bin') ? new Uint8Array([1]) : 'x');
        const headers = metadataToHeaders(md, {});
        assert.equal(headers[reserved], undefined);
        const raw = [':path', '/a.B/C', reserved, 'x', ...toRawHeaders(headers)];
        for (const received of [rawHeadersToMetadata(raw), headersToMetadata(toHeaderObject(raw))]) {
          assert.equal(received.has(reserved), false);
          assert.equal(received.has(':path'), false);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('carries grpc-status-details-bin and grpc-retry-pushback-ms both ways, as user metadata', () => {
    // gRFC A6: a server sends grpc-retry-pushback-ms in its trailers and the client reads it; it
    // was dropped as a reserved grpc-* header, so pushback never reached the retry logic.
    const md = new Metadata().set('grpc-status-details-bin', new Uint8Array([8, 5])).set('grpc-retry-pushback-ms', '250');
    const headers = metadataToHeaders(md, {});
    assert.deepEqual(headers, { 'grpc-status-details-bin': 'CAU', 'grpc-retry-pushback-ms': '250' });
    for (const received of [headersToMetadata(headers), rawHeadersToMetadata(toRawHeaders(headers))]) {
      assert.equal(received.get('grpc-retry-pushback-ms'), '250');
      assert.deepEqual([...(received.get('grpc-status-details-bin') as Uint8Array)], [8, 5]);
    }
  });
});
