// A gRPC-Web client we did not write, @connectrpc/connect-web's createGrpcWebTransport (on
// Node's fetch, so HTTP/1.1), calling our server: unary, server streaming, an error with
// details, metadata both ways, deadline and cancel. The descriptors are built at run time from
// protoc's descriptor set; no generated code is committed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, createFileRegistry, fromBinary, toBinary, type DescMessage, type DescService } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcWebTransport } from '@connectrpc/connect-web';
import { ErrorInfo, RpcError, StatusCode, packDetail, unaryStreamRpcMethodHandler, unaryUnaryRpcMethodHandler, type ServicerContext } from '../../lib/index.js';
import { defer, startServer, type TestServer } from '../helpers/grpc.js';

const PROTO = `syntax = "proto3";
package webinterop;
message Req { string text = 1; int32 count = 2; }
message Rep { string text = 1; int32 index = 2; }
service Svc {
  rpc Unary(Req) returns (Rep);
  rpc Stream(Req) returns (stream Rep);
  rpc Fail(Req) returns (Rep);
  rpc Wait(Req) returns (stream Rep);
}
`;
// google.rpc.ErrorInfo, field numbers as in googleapis' google/rpc/error_details.proto.
const ERROR_INFO = `syntax = "proto3";
package google.rpc;
message ErrorInfo { string reason = 1; string domain = 2; map<string, string> metadata = 3; }
`;

interface Req {
  text: string;
  count: number;
}
interface Rep {
  text: string;
  index: number;
}

function load(): { service: DescService; req: DescMessage; rep: DescMessage; errorInfo: DescMessage } {
  const dir = mkdtempSync(join(tmpdir(), 'grpc-web-connect-'));
  try {
    writeFileSync(join(dir, 'svc.proto'), PROTO);
    writeFileSync(join(dir, 'error_info.proto'), ERROR_INFO);
    const out = join(dir, 'set.binpb');
    execFileSync('protoc', [`--proto_path=${dir}`, '--include_imports', `--descriptor_set_out=${out}`, 'svc.proto', 'error_info.proto'], { timeout: 20_000 });
    const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(out)));
    return {
      service: registry.getService('webinterop.Svc')!,
      req: registry.getMessage('webinterop.Req')!,
      rep: registry.getMessage('webinterop.Rep')!,
      errorInfo: registry.getMessage('google.rpc.ErrorInfo')!,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('@connectrpc/connect-web gRPC-Web client against our server', () => {
  const { service, req, rep, errorInfo } = load();
  const decodeReq = (bytes: Uint8Array): Req => fromBinary(req, bytes) as unknown as Req;
  const encodeRep = (value: Rep): Uint8Array => toBinary(rep, create(rep, value as never));
  let waitReason = defer<unknown>();
  let remaining: number | null = null;
  let s: TestServer;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let client: any;

  before(async () => {
    s = await startServer(
      {
        Unary: unaryUnaryRpcMethodHandler((r: Req, context: ServicerContext) => {
          const echo = context.invocationMetadata().get('x-echo');
          if (typeof echo === 'string') {
            context.sendInitialMetadata([['x-echo-header', echo]]);
            context.setTrailingMetadata([['x-echo-trailer', echo]]);
          }
          return { text: `hello ${r.text}`, index: 0 };
        }, decodeReq, encodeRep),
        Stream: unaryStreamRpcMethodHandler(async function* (r: Req) {
          for (let i = 1; i <= r.count; i++) yield { text: r.text, index: i };
        }, decodeReq, encodeRep),
        Fail: unaryUnaryRpcMethodHandler(() => {
          throw new RpcError(StatusCode.FAILED_PRECONDITION, 'not ready: 100%', {
            errorDetails: [packDetail(ErrorInfo, { reason: 'WARMING', domain: 'example.test', metadata: { step: '1' } })],
          });
        }, decodeReq, encodeRep),
        Wait: unaryStreamRpcMethodHandler(async function* (_r: Req, context: ServicerContext) {
          const seen = waitReason;
          remaining = context.timeRemaining();
          context.signal.addEventListener('abort', () => seen.resolve(context.signal.reason), { once: true });
          yield { text: 'waiting', index: 0 };
          await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
        }, decodeReq, encodeRep),
      },
      {},
      'webinterop.Svc',
    );
    client = createClient(service, createGrpcWebTransport({ baseUrl: `http://${s.address}`, useBinaryFormat: true }));
  });
  after(() => s.close());

  it('makes a unary call', async () => {
    const reply = await client.unary({ text: 'web' });
    assert.equal(reply.text, 'hello web');
  });

  it('receives every message of a server stream, in order', async () => {
    const got: Array<[string, number]> = [];
    for await (const r of client.stream({ text: 's', count: 4 })) got.push([r.text, r.index]);
    assert.deepEqual(got, [
      ['s', 1],
      ['s', 2],
      ['s', 3],
      ['s', 4],
    ]);
  });

  it('sends request metadata and reads response headers and trailers', async () => {
    let headers: Headers | undefined;
    let trailers: Headers | undefined;
    await client.unary({ text: 'md' }, { headers: { 'x-echo': 'round-trip' }, onHeader: (h: Headers) => (headers = h), onTrailer: (t: Headers) => (trailers = t) });
    assert.equal(headers?.get('x-echo-header'), 'round-trip');
    assert.equal(trailers?.get('x-echo-trailer'), 'round-trip');
  });

  it('reads an error status with its percent-decoded message and its details', async () => {
    await assert.rejects(client.fail({}), (err: unknown) => {
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.FailedPrecondition);
      assert.equal(err.rawMessage, 'not ready: 100%');
      const details = err.findDetails(errorInfo) as unknown as Array<{ reason: string; domain: string; metadata: Record<string, string> }>;
      assert.equal(details.length, 1);
      assert.equal(details[0]!.reason, 'WARMING');
      assert.deepEqual(details[0]!.metadata, { step: '1' });
      return true;
    });
  });

  it('sends its timeout as grpc-timeout: the handler has the deadline, and its signal aborts when it passes', async () => {
    waitReason = defer<unknown>();
    const reason = waitReason;
    await assert.rejects(
      (async () => {
        for await (const _ of client.wait({}, { timeoutMs: 300 })) void _;
      })(),
      (err: unknown) => err instanceof ConnectError && err.code === Code.DeadlineExceeded,
    );
    assert.ok(remaining !== null && remaining > 0 && remaining <= 0.3, `time remaining ${String(remaining)}`);
    // connect-web also aborts the fetch at its deadline, so the server sees whichever comes first.
    assert.ok(([StatusCode.DEADLINE_EXCEEDED, StatusCode.CANCELLED] as StatusCode[]).includes(((await reason) as RpcError).code));
  });

  it('cancels the handler when the caller aborts the fetch', async () => {
    waitReason = defer<unknown>();
    const reason = waitReason;
    const abort = new AbortController();
    await assert.rejects(
      (async () => {
        for await (const _ of client.wait({}, { signal: abort.signal })) abort.abort();
      })(),
      (err: unknown) => err instanceof ConnectError && err.code === Code.Canceled,
    );
    assert.equal(((await reason) as RpcError).code, StatusCode.CANCELLED);
  });
});
