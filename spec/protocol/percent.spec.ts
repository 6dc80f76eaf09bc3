import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeGrpcMessage, encodeGrpcMessage } from '../../lib/protocol/index.js';

// PROTOCOL-HTTP2.md, Responses: Status-Message is percent-encoded UTF-8; unreserved bytes are
// 0x20-0x7E except '%', and "when decoding invalid values, implementations MUST NOT error out
// or throw away the message" (broken escapes may be left as they are).

const RUNS = 300;

/** A header field value node:http2 keeps: printable ASCII, no space at either end (RFC 9113 §8.2.1). */
const FIELD_VALUE = /^(?:[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)?$/;

/** What UTF-8 can carry of a JS string: lone surrogates become U+FFFD. */
function wellFormed(s: string): string {
  return new TextDecoder().decode(new TextEncoder().encode(s));
}

const textArb = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  // Mostly ASCII with spaces and '%', where the plain fast path and escapes meet.
  fc.string({ unit: fc.constantFrom(' ', '%', 'a', 'Z', '~', '\t', '\n', 'é', '😀', '%4', '%41'), maxLength: 20 }),
);

describe('grpc-message properties', () => {
  it('decodes the encoding of any string back to it (lone surrogates as U+FFFD)', () => {
    fc.assert(
      fc.property(textArb, (message) => {
        assert.equal(decodeGrpcMessage(encodeGrpcMessage(message)), wellFormed(message));
      }),
      { numRuns: RUNS },
    );
  });

  it('encodes any string as a header value peers keep: printable ASCII, no space at either end', () => {
    fc.assert(
      fc.property(textArb, (message) => {
        assert.match(encodeGrpcMessage(message), FIELD_VALUE);
      }),
      { numRuns: RUNS },
    );
  });

  it('keeps a space at either end of the message (it was sent bare, and node:http2 peers drop such a field)', () => {
    assert.equal(encodeGrpcMessage(' padded '), '%20padded%20');
    assert.equal(encodeGrpcMessage(' '), '%20');
    assert.equal(decodeGrpcMessage(encodeGrpcMessage('  two  ')), '  two  ');
    assert.equal(encodeGrpcMessage('in between'), 'in between');
  });

  it('leaves printable ASCII without "%" and without edge spaces unchanged', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[\x20-\x24\x26-\x7e]*$/), (message) => {
        fc.pre(FIELD_VALUE.test(message));
        assert.equal(encodeGrpcMessage(message), message);
      }),
      { numRuns: RUNS },
    );
  });

  it('escapes only as "%" and two upper-case hex digits', () => {
    fc.assert(
      fc.property(textArb, (message) => {
        const encoded = encodeGrpcMessage(message);
        assert.doesNotMatch(encoded, /%(?![0-9A-F]{2})/);
      }),
      { numRuns: RUNS },
    );
  });

  it('never throws on any input, malformed escapes and invalid UTF-8 included', () => {
    const wireArb = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: fc.constantFrom('%', '%F', '%FF', '%C3', '%A9', '%e2%82', '%zz', 'a', ' ', '\u00e9'), maxLength: 20 }),
    );
    fc.assert(
      fc.property(wireArb, (value) => {
        assert.equal(typeof decodeGrpcMessage(value), 'string');
      }),
      { numRuns: RUNS },
    );
  });

  it('decodes text without valid escapes to itself, characters outside the BMP included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }).filter((t) => !t.includes('%')), fc.constantFrom('', '%', '%G', '%4', '100%'), (text, tail) => {
        assert.equal(decodeGrpcMessage(text + tail), text + tail);
      }),
      { numRuns: RUNS },
    );
  });

  it('keeps a character outside the BMP next to a "%" (it was split into two U+FFFD)', () => {
    assert.equal(decodeGrpcMessage('\u{1F600}%'), '\u{1F600}%');
    assert.equal(decodeGrpcMessage('\u{1F600}%41'), '\u{1F600}A');
  });

  it('leaves broken escapes as they are and turns escaped invalid UTF-8 into U+FFFD', () => {
    assert.equal(decodeGrpcMessage('100%'), '100%');
    assert.equal(decodeGrpcMessage('%4'), '%4');
    assert.equal(decodeGrpcMessage('%zz%41'), '%zzA');
    assert.equal(decodeGrpcMessage('%c3%a9'), '\u00e9');
    assert.equal(decodeGrpcMessage('a%FFb'), 'a\ufffdb');
    assert.equal(decodeGrpcMessage('%E2%82'), '\ufffd');
  });
});
