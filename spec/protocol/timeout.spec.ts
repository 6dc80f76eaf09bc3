import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeGrpcTimeout, parseGrpcTimeout } from '../../lib/protocol/index.js';

// PROTOCOL-HTTP2.md, Requests: Timeout → "grpc-timeout" TimeoutValue TimeoutUnit, TimeoutValue
// is a positive integer of at most 8 ASCII digits, TimeoutUnit one of H M S m u n.

const RUNS = 300;
const UNIT_MS = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 } as const;
const WIRE = /^\d{1,8}[HMSmun]$/;

describe('grpc-timeout properties', () => {
  it('parses any 1-8 digits and unit into that many units in milliseconds', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{1,8}$/), fc.constantFrom(...(Object.keys(UNIT_MS) as Array<keyof typeof UNIT_MS>)), (digits, unit) => {
        assert.equal(parseGrpcTimeout(`${digits}${unit}`), Number(digits) * UNIT_MS[unit]);
      }),
      { numRuns: RUNS },
    );
  });

  it('encodes any non-negative duration as 1-8 digits and a unit, never shorter than asked and at most 1 ns or 0.001% longer', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.double({ min: 0, max: 3.5e14, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })),
        (ms) => {
          const wire = encodeGrpcTimeout(ms);
          assert.match(wire, WIRE);
          const back = parseGrpcTimeout(wire);
          // Float division by 1e-6 may land a hair off; a relative 1e-12 is far below a nanosecond.
          assert.ok(back >= ms * (1 - 1e-12), `${wire} (${back} ms) is shorter than ${ms} ms`);
          assert.ok(back - ms <= Math.max(1e-6 * (1 + 1e-9), ms * 1e-5), `${wire} (${back} ms) overshoots ${ms} ms`);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('encodes negative durations as zero and durations past 99999999 hours as the largest value', () => {
    fc.assert(
      fc.property(fc.double({ max: -Number.MIN_VALUE, noNaN: true }), (ms) => assert.equal(encodeGrpcTimeout(ms), '0n')),
      { numRuns: 50 },
    );
    for (const ms of [99_999_999 * 3_600_000 + 1, 1e300, Infinity]) assert.equal(encodeGrpcTimeout(ms), '99999999H');
  });

  it('refuses anything else with a RangeError naming the header, and only that', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.stringMatching(/^[ +-]?[0-9]{0,10}[HMSmunhs ]?[0-9 ]?$/)), (value) => {
        fc.pre(!WIRE.test(value));
        assert.throws(() => parseGrpcTimeout(value), (err: unknown) => {
          assert.ok(err instanceof RangeError, `threw ${String(err)}`);
          assert.match(err.message, /^Cannot parse grpc-timeout: ".*" is not 1-8 digits and a unit$/s);
          return true;
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses nine digits, an empty value, a missing unit, signs, spaces and non-ASCII digits', () => {
    for (const value of ['123456789S', '', '100', 'S', '-1S', '+1S', ' 1S', '1S ', '1 S', '1.5S', '1s', '1h', '\u0661S', '１S']) {
      assert.throws(() => parseGrpcTimeout(value), RangeError, JSON.stringify(value));
    }
  });

  it('quotes at most 32 characters of a long malformed value in the error', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', minLength: 40, maxLength: 200 }), (value) => {
        assert.throws(() => parseGrpcTimeout(value), (err: unknown) => err instanceof RangeError && err.message.length <= 32 + 60);
      }),
      { numRuns: 50 },
    );
  });
});
