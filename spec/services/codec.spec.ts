import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ServingStatus,
  decodeHealthCheckRequest,
  decodeHealthCheckResponse,
  decodeHealthListResponse,
  encodeHealthCheckRequest,
  encodeHealthCheckResponse,
  encodeHealthListResponse,
} from '../../lib/services/health/codec.js';
import { decodeReflectionRequest } from '../../lib/services/reflection/wire.js';

// The hand-written codecs of the health and reflection messages, byte for byte. The services'
// own specs check them against protobufjs and grpc-js over a real connection; these pin the
// edges a conforming peer rarely sends: negative int32s, malformed input.

/** A negative int32 on the wire: ten bytes, sign-extended to 64 bits (protobuf encoding, "Signed Integers"). */
const MINUS_ONE = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];

describe('health and reflection message codecs', () => {
  it('write the health messages as protoc does: defaults left out, map entries with key and value', () => {
    assert.deepEqual(encodeHealthCheckRequest({ service: '' }), new Uint8Array(0));
    assert.deepEqual(encodeHealthCheckRequest({ service: 'a.B' }), Uint8Array.of(0x0a, 3, 0x61, 0x2e, 0x42));
    assert.deepEqual(encodeHealthCheckResponse({ status: ServingStatus.UNKNOWN }), new Uint8Array(0));
    assert.deepEqual(encodeHealthCheckResponse({ status: ServingStatus.NOT_SERVING }), Uint8Array.of(0x08, 2));
    const list = encodeHealthListResponse({ statuses: new Map([['', { status: ServingStatus.UNKNOWN }], ['x', { status: ServingStatus.SERVING }]]) });
    assert.deepEqual(list, Uint8Array.of(0x0a, 4, 0x0a, 0, 0x12, 0, 0x0a, 7, 0x0a, 1, 0x78, 0x12, 2, 0x08, 1));
    assert.deepEqual(decodeHealthListResponse(list).statuses, new Map([['', { status: 0 }], ['x', { status: 1 }]]));
  });

  it('read a negative enum or extension number as the int32 it is', () => {
    assert.equal(decodeHealthCheckResponse(Uint8Array.of(0x08, ...MINUS_ONE)).status, -1);
    // ExtensionRequest { containing_type = "T"; extension_number = -1 } in field 5.
    const extension = [0x0a, 1, 0x54, 0x10, ...MINUS_ONE];
    assert.deepEqual(decodeReflectionRequest(Uint8Array.of(0x2a, extension.length, ...extension)), {
      host: '',
      kind: 'fileContainingExtension',
      name: 'T',
      number: -1,
    });
  });

  it('refuse malformed input with a RangeError naming the message', () => {
    const cases: Array<[(bytes: Uint8Array) => unknown, string, number[]]> = [
      [decodeHealthCheckRequest, 'HealthCheckRequest', [0x0a, 5, 0x61]],
      [decodeHealthCheckResponse, 'HealthCheckResponse', [0x08]],
      [decodeHealthCheckResponse, 'HealthCheckResponse', [0x08, ...new Array<number>(10).fill(0xff), 0x01]],
      [decodeHealthListResponse, 'HealthListResponse.StatusesEntry', [0x0a, 2, 0x12, 9]],
      [decodeReflectionRequest, 'ServerReflectionRequest', [0x3a, 1]],
      [decodeReflectionRequest, 'ServerReflectionRequest', [0x0b]],
      [decodeReflectionRequest, 'ServerReflectionRequest', [0x09, 1, 2, 3]],
      [decodeReflectionRequest, 'ExtensionRequest', [0x2a, 1, 0x10]],
    ];
    for (const [decode, what, bytes] of cases) {
      assert.throws(() => decode(Uint8Array.from(bytes)), { name: 'RangeError', message: new RegExp(`^Cannot decode ${what.replace('.', '\\.')}: `) }, `${what} ${bytes.join(',')}`);
    }
  });

  it('refuse a string that is not UTF-8 with a TypeError', () => {
    assert.throws(() => decodeHealthCheckRequest(Uint8Array.of(0x0a, 1, 0xff)), TypeError);
    assert.throws(() => decodeReflectionRequest(Uint8Array.of(0x1a, 1, 0xff)), TypeError);
  });
});
