// Rich error details against implementations we did not write: @grpc/grpc-js with the
// trailer bytes made and read by protobufjs, and Python grpcio with them made and read by
// Python protobuf (messages compiled by protoc from the same .proto fixtures).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  BadRequest,
  ErrorInfo,
  QuotaFailure,
  RetryInfo,
  RpcError,
  StatusCode,
  findDetails,
  insecureChannel,
  packDetail,
  unaryUnaryRpcMethodHandler,
} from '../../lib/index.js';
import { jsClient, startServer, type TestServer } from '../helpers/grpc.js';
import { startJsServer, type JsServer } from '../helpers/js-server.js';
import { FIXTURES, decodeStatusBytes, statusBytes } from './fixtures/google-rpc.js';

const PEER = join(FIXTURES, 'status_details_peer.py');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

// Our server: the same failures for every foreign client.
function ourServer(): Promise<TestServer> {
  return startServer({
    BadRequest: unaryUnaryRpcMethodHandler<Uint8Array, Uint8Array>(() => {
      throw new RpcError(StatusCode.INVALID_ARGUMENT, 'Cannot create user: 2 bad fields', {
        errorDetails: [
          packDetail(BadRequest, {
            fieldViolations: [
              { field: 'email', description: 'is empty', reason: 'EMPTY', localizedMessage: { locale: 'fr-FR', message: 'est vide' } },
              { field: 'age', description: 'must be positive' },
            ],
          }),
        ],
      });
    }),
    Retry: unaryUnaryRpcMethodHandler<Uint8Array, Uint8Array>((_req, ctx) =>
      ctx.abortWithStatus({ code: StatusCode.UNAVAILABLE, details: 'Cannot serve: busy', errorDetails: [packDetail(RetryInfo, { retryDelay: { seconds: 2, nanos: 250_000_000 } })] }),
    ),
    Quota: unaryUnaryRpcMethodHandler<Uint8Array, Uint8Array>(() => {
      throw new RpcError(StatusCode.RESOURCE_EXHAUSTED, 'Cannot read: quota ✗ exceeded', {
        errorDetails: [packDetail(QuotaFailure, { violations: [{ subject: 'user:ada', description: 'reads per day', quotaValue: 5_000_000_000 }] })],
      });
    }),
    TrailersAndDetails: unaryUnaryRpcMethodHandler<Uint8Array, Uint8Array>((_req, ctx) => {
      ctx.setTrailingMetadata({ 'x-request-id': 'r-7' });
      throw new RpcError(StatusCode.ABORTED, 'Cannot commit: conflict', { errorDetails: [packDetail(ErrorInfo, { reason: 'CONFLICT', domain: 'shop.example.com', metadata: { row: '12' } })] });
    }),
  });
}

describe('rich error details with @grpc/grpc-js', () => {
  let ours: TestServer;
  let theirs: JsServer;
  before(async () => {
    ours = await ourServer();
    theirs = await startJsServer({
      BadRequest: [
        'unary',
        (_call: grpc.ServerUnaryCall<string, string>, callback: grpc.sendUnaryData<string>) => {
          const metadata = new grpc.Metadata();
          metadata.set(
            'grpc-status-details-bin',
            statusBytes(StatusCode.INVALID_ARGUMENT, 'Cannot create user: bad email', [
              ['google.rpc.BadRequest', { fieldViolations: [{ field: 'email', description: 'is empty' }] }],
              ['google.rpc.RetryInfo', { retryDelay: { seconds: 1, nanos: 5 } }],
              ['shop.v1.OutOfStock', Uint8Array.of(0x0a, 0x03, 0x41, 0x2d, 0x31)],
            ]),
          );
          callback({ code: grpc.status.INVALID_ARGUMENT, details: 'Cannot create user: bad email', metadata });
        },
      ],
      Mismatch: [
        'unary',
        (_call: grpc.ServerUnaryCall<string, string>, callback: grpc.sendUnaryData<string>) => {
          const metadata = new grpc.Metadata();
          metadata.set('grpc-status-details-bin', statusBytes(StatusCode.OK, 'all good', [['google.rpc.BadRequest', { fieldViolations: [{ field: 'lie' }] }]]));
          callback({ code: grpc.status.PERMISSION_DENIED, details: 'Cannot read: denied', metadata });
        },
      ],
    });
  });
  after(async () => {
    await ours.close();
    await theirs.close();
  });

  it('a grpc-js client reads our details with protobufjs: code and message match the status, every field as sent', async () => {
    const client = jsClient(ours.address, { BadRequest: 'unary', Quota: 'unary', Retry: 'unary', TrailersAndDetails: 'unary' });
    try {
      const bad = await client.unary('BadRequest', 'x');
      assert.equal(bad.error?.code, grpc.status.INVALID_ARGUMENT);
      const bin = bad.error!.metadata.get('grpc-status-details-bin')[0] as Buffer;
      assert.deepEqual(decodeStatusBytes(bin), {
        code: grpc.status.INVALID_ARGUMENT,
        message: bad.error!.details,
        details: [
          {
            type: 'google.rpc.BadRequest',
            value: {
              fieldViolations: [
                { field: 'email', description: 'is empty', reason: 'EMPTY', localizedMessage: { locale: 'fr-FR', message: 'est vide' } },
                { field: 'age', description: 'must be positive' },
              ],
            },
          },
        ],
      });

      const retry = await client.unary('Retry', 'x');
      assert.deepEqual(decodeStatusBytes(retry.error!.metadata.get('grpc-status-details-bin')[0] as Buffer), {
        code: grpc.status.UNAVAILABLE,
        message: 'Cannot serve: busy',
        details: [{ type: 'google.rpc.RetryInfo', value: { retryDelay: { seconds: 2, nanos: 250_000_000 } } }],
      });

      const quota = await client.unary('Quota', 'x');
      const quotaStatus = decodeStatusBytes(quota.error!.metadata.get('grpc-status-details-bin')[0] as Buffer);
      assert.equal(quotaStatus.message, 'Cannot read: quota ✗ exceeded');
      assert.equal(quota.error!.details, 'Cannot read: quota ✗ exceeded');
      assert.deepEqual(quotaStatus.details[0]!.value, { violations: [{ subject: 'user:ada', description: 'reads per day', quotaDimensions: {}, quotaValue: 5_000_000_000 }] });

      const both = await client.unary('TrailersAndDetails', 'x');
      assert.equal(both.error!.metadata.get('x-request-id')[0], 'r-7');
      assert.deepEqual(decodeStatusBytes(both.error!.metadata.get('grpc-status-details-bin')[0] as Buffer).details, [
        { type: 'google.rpc.ErrorInfo', value: { reason: 'CONFLICT', domain: 'shop.example.com', metadata: { row: '12' } } },
      ]);
    } finally {
      client.close();
    }
  });

  it('our client decodes the details a grpc-js server sent, and ignores a trailer that contradicts the status line', async () => {
    const channel = insecureChannel(theirs.address);
    try {
      const call = (name: string): Promise<RpcError> =>
        channel
          .unaryUnary<Uint8Array, Uint8Array>(`/test.Svc/${name}`)(utf8('x'), { timeout: 5 })
          .then(
            () => assert.fail('expected an error'),
            (err: unknown) => err as RpcError,
          );
      const bad = await call('BadRequest');
      assert.equal(bad.code, StatusCode.INVALID_ARGUMENT);
      assert.deepEqual(
        bad.errorDetails.map((d) => d.typeName),
        ['google.rpc.BadRequest', 'google.rpc.RetryInfo', 'shop.v1.OutOfStock'],
      );
      assert.equal(bad.errorDetails[2]!.value, undefined);
      assert.deepEqual(bad.errorDetails[2]!.any, { typeUrl: 'type.googleapis.com/shop.v1.OutOfStock', value: Uint8Array.of(0x0a, 0x03, 0x41, 0x2d, 0x31) });
      assert.deepEqual(findDetails(bad, BadRequest), [{ fieldViolations: [{ field: 'email', description: 'is empty', reason: '' }] }]);
      assert.deepEqual(findDetails(bad, RetryInfo), [{ retryDelay: { seconds: 1, nanos: 5 } }]);
      const first = bad.errorDetails[0]!;
      assert.ok(first.typeName === 'google.rpc.BadRequest' && first.value !== undefined);

      const lie = await call('Mismatch');
      assert.equal(lie.code, StatusCode.PERMISSION_DENIED);
      assert.equal(lie.details, 'Cannot read: denied');
      assert.deepEqual(lie.errorDetails, []);
      assert.deepEqual(findDetails(lie, BadRequest), []);
      assert.ok(lie.statusDetailsBin !== undefined, 'the raw trailer stays readable');
    } finally {
      channel.close();
    }
  });
});

describe("rich error details with Python grpcio's wire format", () => {
  it('a grpcio client unpacks our details with Python protobuf, and checks them as rpc_status.from_call does', async () => {
    const ours = await ourServer();
    try {
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile('/usr/bin/python3', [PEER, 'client', ours.address], { timeout: 30_000 }, (err, out, errOut) => (err === null ? resolve(out) : reject(new Error(`${err.message}\n${errOut}`))));
      });
      const got = JSON.parse(stdout) as Record<string, { code: string; details: string; status_code?: number; error?: string; metadata: Record<string, string>; details_decoded?: Array<{ type: string; text: string }> }>;
      assert.equal(got.BadRequest!.code, 'INVALID_ARGUMENT');
      assert.equal(got.BadRequest!.error, undefined);
      assert.equal(got.BadRequest!.status_code, 3);
      assert.equal(got.BadRequest!.details_decoded![0]!.type, 'google.rpc.BadRequest');
      assert.match(got.BadRequest!.details_decoded![0]!.text, /field: "email"\s+description: "is empty"\s+reason: "EMPTY"\s+localized_message \{\s+locale: "fr-FR"\s+message: "est vide"\s+\}/);
      assert.match(got.BadRequest!.details_decoded![0]!.text, /field: "age"\s+description: "must be positive"/);
      assert.equal(got.Retry!.details_decoded![0]!.type, 'google.rpc.RetryInfo');
      assert.match(got.Retry!.details_decoded![0]!.text, /retry_delay \{\s+seconds: 2\s+nanos: 250000000\s+\}/);
      assert.equal(got.Quota!.details, 'Cannot read: quota ✗ exceeded');
      assert.equal(got.Quota!.error, undefined);
      assert.match(got.Quota!.details_decoded![0]!.text, /subject: "user:ada"[\s\S]*quota_value: 5000000000/);
      assert.equal(got.TrailersAndDetails!.metadata['x-request-id'], 'r-7');
      assert.match(got.TrailersAndDetails!.details_decoded![0]!.text, /reason: "CONFLICT"/);
    } finally {
      await ours.close();
    }
  });

  it('our client decodes what a grpcio server sent with abort_with_status, and ignores a contradicting trailer', async () => {
    const child: ChildProcess = spawn('/usr/bin/python3', [PEER, 'server'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill(), 30_000);
    let errOut = '';
    child.stderr!.on('data', (d: Buffer) => (errOut += d.toString()));
    try {
      const [line] = (await Promise.race([once(child.stdout!, 'data'), once(child, 'exit').then(() => assert.fail(`python peer exited: ${errOut}`))])) as [Buffer];
      const channel = insecureChannel(`127.0.0.1:${line.toString().trim()}`);
      try {
        const call = (name: string): Promise<RpcError> =>
          channel
            .unaryUnary<Uint8Array, Uint8Array>(`/test.Svc/${name}`)(utf8('x'), { timeout: 10 })
            .then(
              () => assert.fail('expected an error'),
              (err: unknown) => err as RpcError,
            );
        const bad = await call('BadRequest');
        assert.equal(bad.code, StatusCode.INVALID_ARGUMENT);
        assert.equal(bad.details, 'Cannot create user: 2 bad fields');
        assert.deepEqual(findDetails(bad, BadRequest), [
          {
            fieldViolations: [
              { field: 'email', description: 'is empty', reason: 'EMPTY', localizedMessage: { locale: 'fr-FR', message: 'est vide' } },
              { field: 'age', description: 'must be positive', reason: '' },
            ],
          },
        ]);
        const retry = await call('Retry');
        assert.equal(retry.code, StatusCode.UNAVAILABLE);
        assert.deepEqual(findDetails(retry, RetryInfo), [{ retryDelay: { seconds: 2, nanos: 250_000_000 } }]);
        const lie = await call('Mismatch');
        assert.equal(lie.code, StatusCode.PERMISSION_DENIED);
        assert.deepEqual(lie.errorDetails, []);
      } finally {
        channel.close();
      }
    } finally {
      clearTimeout(timer);
      child.stdin!.end();
      if (child.exitCode === null) await once(child, 'exit');
    }
  });
});
