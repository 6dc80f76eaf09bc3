import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { join } from 'node:path';
import {
  BadRequest,
  DebugInfo,
  ErrorInfo,
  Help,
  LocalizedMessage,
  Metadata,
  PreconditionFailure,
  QuotaFailure,
  RequestInfo,
  ResourceInfo,
  RetryInfo,
  RpcError,
  StatusCode,
  decodeRpcStatus,
  encodeRpcStatus,
  findDetails,
  insecureChannel,
  packDetail,
  unaryUnaryRpcMethodHandler,
  unaryStreamRpcMethodHandler,
  type DetailType,
} from '../../lib/index.js';
import { toRpcError } from '../../lib/protocol/index.js';
import { loadProto, type MessageType } from '../../lib/proto/index.js';
import { HelloRequest } from '../../examples/proto/generated/greeter.js';
import { startServer } from '../helpers/grpc.js';
import { FIXTURES, fromObject, pb, toObject } from './fixtures/google-rpc.js';

const pbStatus = pb('google.rpc.Status');

const shop = loadProto(join(FIXTURES, 'shop/shop.proto')) as unknown as { shop: { v1: { OutOfStock: MessageType<{ sku: string; available: number }> } } };
const OutOfStock = shop.shop.v1.OutOfStock;

// Each standard detail, a value using every field, and the same value as protobufjs spells it.
const samples: Array<[DetailType<any>, Record<string, unknown>, Record<string, unknown>]> = [
  [ErrorInfo, { reason: 'API_DISABLED', domain: 'example.com', metadata: { service: 'shop', zone: 'eu' } }, { reason: 'API_DISABLED', domain: 'example.com', metadata: { service: 'shop', zone: 'eu' } }],
  [RetryInfo, { retryDelay: { seconds: 3, nanos: 500_000_000 } }, { retryDelay: { seconds: 3, nanos: 500_000_000 } }],
  [DebugInfo, { stackEntries: ['at a', '', 'at b'], detail: 'boom' }, { stackEntries: ['at a', '', 'at b'], detail: 'boom' }],
  [
    QuotaFailure,
    { violations: [{ subject: 'clientip:1.2.3.4', description: 'Daily limit', apiService: 'shop.example.com', quotaMetric: 'reads', quotaId: 'ReadsPerDay', quotaDimensions: { region: 'eu' }, quotaValue: 5_000_000_000, futureQuotaValue: 0 }] },
    { violations: [{ subject: 'clientip:1.2.3.4', description: 'Daily limit', apiService: 'shop.example.com', quotaMetric: 'reads', quotaId: 'ReadsPerDay', quotaDimensions: { region: 'eu' }, quotaValue: 5_000_000_000, futureQuotaValue: 0 }] },
  ],
  [PreconditionFailure, { violations: [{ type: 'TOS', subject: 'example.com/terms', description: 'Terms not accepted' }] }, { violations: [{ type: 'TOS', subject: 'example.com/terms', description: 'Terms not accepted' }] }],
  [
    BadRequest,
    { fieldViolations: [{ field: 'email', description: 'is empty', reason: 'EMPTY', localizedMessage: { locale: 'fr-FR', message: 'est vide' } }, { field: 'age', description: 'must be positive', reason: '' }] },
    { fieldViolations: [{ field: 'email', description: 'is empty', reason: 'EMPTY', localizedMessage: { locale: 'fr-FR', message: 'est vide' } }, { field: 'age', description: 'must be positive' }] },
  ],
  [RequestInfo, { requestId: 'req-42', servingData: 'xyz' }, { requestId: 'req-42', servingData: 'xyz' }],
  [ResourceInfo, { resourceType: 'file', resourceName: 'a.txt', owner: 'user:ada', description: 'locked' }, { resourceType: 'file', resourceName: 'a.txt', owner: 'user:ada', description: 'locked' }],
  [Help, { links: [{ description: 'Docs', url: 'https://example.com/docs' }] }, { links: [{ description: 'Docs', url: 'https://example.com/docs' }] }],
  [LocalizedMessage, { locale: 'en-US', message: 'Try again later' }, { locale: 'en-US', message: 'Try again later' }],
];

describe('google.rpc.Status and the standard error details', () => {
  for (const [type, value, expected] of samples) {
    it(`${type.fullName}: our bytes decode with protobufjs and protobufjs bytes decode with ours`, () => {
      assert.deepEqual(toObject(pb(type.fullName), type.encode(value) as Uint8Array), expected);
      const decoded = type.decode(fromObject(pb(type.fullName), expected)) as Record<string, unknown>;
      for (const [key, v] of Object.entries(value)) assert.deepEqual(decoded[key], v, key);
    });
  }

  it('a Status with a negative code and a non-ASCII message round-trips with protobufjs, Any URLs included', () => {
    const bytes = encodeRpcStatus({ code: -1, message: 'échec ✗', details: [packDetail(RetryInfo, { retryDelay: { seconds: 1, nanos: 0 } })] });
    const theirs = toObject(pbStatus, bytes) as { code: number; message: string; details: Array<{ type_url: string; value: Uint8Array }> };
    assert.equal(theirs.code, -1);
    assert.equal(theirs.message, 'échec ✗');
    assert.equal(theirs.details[0]!.type_url, 'type.googleapis.com/google.rpc.RetryInfo');
    assert.deepEqual(decodeRpcStatus(fromObject(pbStatus, { code: -1, message: 'échec ✗', details: [] })), { code: -1, message: 'échec ✗', details: [] });
  });

  it('any code, message, RetryInfo delay (negative and past 2^32 included) and field violations match protobufjs both ways', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 20 });
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        text,
        fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
        fc.integer({ min: -999_999_999, max: 999_999_999 }),
        fc.array(fc.record({ field: text, description: text }), { maxLength: 4 }),
        (code, message, seconds, nanos, fieldViolations) => {
          const details = [packDetail(RetryInfo, { retryDelay: { seconds, nanos } }), packDetail(BadRequest, { fieldViolations })];
          const ours = encodeRpcStatus({ code, message, details });
          const theirs = pbStatus.decode(ours) as unknown as { code: number; message: string; details: Array<{ type_url: string; value: Uint8Array }> };
          assert.equal(theirs.code, code);
          assert.equal(theirs.message, message);
          const delay = toObject(pb('google.rpc.RetryInfo'), theirs.details[0]!.value).retryDelay as { seconds?: number; nanos?: number } | undefined;
          assert.deepEqual({ seconds: delay?.seconds ?? 0, nanos: delay?.nanos ?? 0 }, { seconds, nanos });
          const back = decodeRpcStatus(pbStatus.encode(theirs).finish());
          assert.equal(back.code, code);
          assert.equal(back.message, message);
          assert.deepEqual(RetryInfo.decode(back.details[0]!.value), { retryDelay: { seconds, nanos } });
          assert.deepEqual(
            BadRequest.decode(back.details[1]!.value).fieldViolations.map(({ field, description }) => ({ field, description })),
            fieldViolations.map((v) => ({ ...v })), // fast-check records have a null prototype
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('malformed Status bytes throw rather than yield a wrong status', () => {
    assert.throws(() => decodeRpcStatus(Uint8Array.of(0x12, 0x05, 0x61)), /Cannot decode protobuf/);
    assert.throws(() => decodeRpcStatus(Uint8Array.of(0x08, 0xff)), /truncated varint/);
  });
});

describe('RpcError.errorDetails and findDetails', () => {
  const bad = { fieldViolations: [{ field: 'email', description: 'is empty' }] };

  it('an RpcError with errorDetails carries a grpc-status-details-bin whose code and message are its own', () => {
    const err = new RpcError(StatusCode.INVALID_ARGUMENT, 'Cannot create user: 1 bad field', { errorDetails: [packDetail(BadRequest, bad)] });
    const status = toObject(pbStatus, err.statusDetailsBin!) as { code: number; message: string; details: Array<{ type_url: string; value: Uint8Array }> };
    assert.equal(status.code, StatusCode.INVALID_ARGUMENT);
    assert.equal(status.message, 'Cannot create user: 1 bad field');
    assert.deepEqual(toObject(pb('google.rpc.BadRequest'), status.details[0]!.value), bad);
    assert.deepEqual(findDetails(err, BadRequest), [{ fieldViolations: [{ field: 'email', description: 'is empty', reason: '' }] }]);
  });

  it('errorDetails decodes standard details typed and keeps a user-defined one raw; findDetails decodes it with a loadProto type', () => {
    const err = new RpcError(StatusCode.FAILED_PRECONDITION, 'Cannot order: out of stock', {
      errorDetails: [packDetail(OutOfStock, { sku: 'A-1', available: 2 }), packDetail(ErrorInfo, { reason: 'STOCK', domain: 'shop', metadata: {} })],
    });
    const [first, second] = err.errorDetails;
    assert.equal(first!.typeName, 'shop.v1.OutOfStock');
    assert.equal(first!.value, undefined);
    assert.equal(first!.any.typeUrl, 'type.googleapis.com/shop.v1.OutOfStock');
    assert.equal(second!.typeName, 'google.rpc.ErrorInfo');
    assert.deepEqual(second!.value, { reason: 'STOCK', domain: 'shop', metadata: {} });
    assert.deepEqual(findDetails(err, OutOfStock), [{ sku: 'A-1', available: 2 }]);
    assert.deepEqual(findDetails(err, RetryInfo), []);
  });

  it('a message of grpc-iter gen output packs and unpacks as a detail type as it is', () => {
    const err = new RpcError(StatusCode.INVALID_ARGUMENT, 'Cannot greet', { errorDetails: [packDetail(HelloRequest, { name: 'Ada' })] });
    assert.equal(err.errorDetails[0]!.any.typeUrl, 'type.googleapis.com/greeter.v1.HelloRequest');
    assert.equal(findDetails(err, HelloRequest)[0]!.name, 'Ada');
  });

  it('a trailer whose code or message disagrees with the status line is not trusted: no details, status unchanged', () => {
    for (const [code, message] of [[StatusCode.NOT_FOUND, 'the message'], [StatusCode.INVALID_ARGUMENT, 'another message']] as const) {
      const bin = fromObject(pbStatus, { code, message, details: [{ type_url: 'type.googleapis.com/google.rpc.BadRequest', value: fromObject(pb('google.rpc.BadRequest'), bad) }] });
      const err = new RpcError(StatusCode.INVALID_ARGUMENT, 'the message', { trailingMetadata: new Metadata({ 'grpc-status-details-bin': bin }) });
      assert.equal(err.code, StatusCode.INVALID_ARGUMENT);
      assert.deepEqual(err.errorDetails, []);
      assert.deepEqual(findDetails(err, BadRequest), []);
      assert.deepEqual(err.statusDetailsBin, bin);
    }
    const garbage = new RpcError(StatusCode.INTERNAL, '', { trailingMetadata: new Metadata({ 'grpc-status-details-bin': Uint8Array.of(0xff) }) });
    assert.deepEqual(garbage.errorDetails, []);
  });

  it('a thrown RpcError with code OK becomes UNKNOWN and its details are re-sent under UNKNOWN', () => {
    const err = toRpcError(new RpcError(StatusCode.OK, 'not really ok', { errorDetails: [packDetail(BadRequest, bad)] }));
    assert.equal(err.code, StatusCode.UNKNOWN);
    assert.equal(decodeRpcStatus(err.statusDetailsBin!).code, StatusCode.UNKNOWN);
    assert.equal(findDetails(err, BadRequest).length, 1);
  });

  it('the errorDetails option does not change the Metadata it was given', () => {
    const trailers = new Metadata({ 'x-trace': '1' });
    const err = new RpcError(StatusCode.ABORTED, 'x', { trailingMetadata: trailers, errorDetails: [packDetail(BadRequest, bad)] });
    assert.equal(trailers.has('grpc-status-details-bin'), false);
    assert.equal(err.trailingMetadata.get('x-trace'), '1');
  });
});

describe('rich error details over the wire, our server to our client', () => {
  const bad = { fieldViolations: [{ field: 'name', description: 'is empty' }] };
  const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
  const text = (b: Uint8Array): string => new TextDecoder().decode(b);

  it('thrown, aborted with status, after setTrailingMetadata, and after streamed messages: the client decodes the details', async (t) => {
    const { address, close } = await startServer({
      Thrown: unaryUnaryRpcMethodHandler<Uint8Array, Uint8Array>(() => {
        throw new RpcError(StatusCode.INVALID_ARGUMENT, 'Cannot greet: bad request', { errorDetails: [packDetail(BadRequest, bad)] });
      }),
      Aborted: unaryUnaryRpcMethodHandler<Uint8Array, Uint8Array>((_req, ctx) =>
        ctx.abortWithStatus({ code: StatusCode.UNAVAILABLE, details: 'Cannot greet: busy', errorDetails: [packDetail(RetryInfo, { retryDelay: { seconds: 0, nanos: 5_000_000 } })] }),
      ),
      WithTrailers: unaryUnaryRpcMethodHandler<Uint8Array, Uint8Array>((_req, ctx) => {
        ctx.setTrailingMetadata({ 'x-request-id': '7' });
        throw new RpcError(StatusCode.INVALID_ARGUMENT, 'Cannot greet: bad request', { errorDetails: [packDetail(BadRequest, bad)] });
      }),
      Streamed: unaryStreamRpcMethodHandler(async function* () {
        yield utf8('one');
        throw new RpcError(StatusCode.RESOURCE_EXHAUSTED, 'Cannot stream: quota', { errorDetails: [packDetail(QuotaFailure, { violations: [{ subject: 'user:ada', description: 'too many' }] })] });
      }),
    });
    const channel = insecureChannel(address);
    after(async () => {
      channel.close();
      await close();
    });
    const call = (name: string): Promise<unknown> => channel.unaryUnary<Uint8Array, Uint8Array>(`/test.Svc/${name}`)(utf8('x'), { timeout: 5 });
    const failure = async (p: Promise<unknown>): Promise<RpcError> => {
      const err = await p.then(() => assert.fail('expected an error'), (e: unknown) => e);
      assert.ok(err instanceof RpcError);
      return err;
    };

    await t.test('thrown RpcError', async () => {
      const err = await failure(call('Thrown'));
      assert.equal(err.code, StatusCode.INVALID_ARGUMENT);
      assert.deepEqual(findDetails(err, BadRequest)[0]!.fieldViolations.map((v) => v.field), ['name']);
    });
    await t.test('context.abortWithStatus', async () => {
      const err = await failure(call('Aborted'));
      assert.equal(err.code, StatusCode.UNAVAILABLE);
      assert.equal(err.details, 'Cannot greet: busy');
      assert.deepEqual(findDetails(err, RetryInfo), [{ retryDelay: { seconds: 0, nanos: 5_000_000 } }]);
    });
    await t.test('trailing metadata set on the context is sent beside the details', async () => {
      const err = await failure(call('WithTrailers'));
      assert.equal(err.trailingMetadata.get('x-request-id'), '7');
      assert.equal(findDetails(err, BadRequest).length, 1);
    });
    await t.test('after a streamed message', async () => {
      const got: string[] = [];
      const err = await failure(
        (async () => {
          for await (const m of channel.unaryStream<Uint8Array, Uint8Array>('/test.Svc/Streamed')(utf8('x'), { timeout: 5 })) got.push(text(m));
        })(),
      );
      assert.deepEqual(got, ['one']);
      assert.equal(err.code, StatusCode.RESOURCE_EXHAUSTED);
      assert.deepEqual(findDetails(err, QuotaFailure)[0]!.violations[0]!.subject, 'user:ada');
    });
  });
});
