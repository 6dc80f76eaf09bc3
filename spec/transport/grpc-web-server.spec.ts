import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync, gunzipSync } from 'node:zlib';
import {
  Compression,
  Metadata,
  RpcError,
  StatusCode,
  streamStreamRpcMethodHandler,
  streamUnaryRpcMethodHandler,
  unaryStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
  type ServerInterceptor,
  type ServicerContext,
} from '../../lib/index.js';
import { decode, defer, encode, jsClient, startServer, type TestServer } from '../helpers/grpc.js';
import { WIRES, post, webFrame } from './grpc-web-wire.js';

// gRPC-Web on the server (grpc/grpc doc/PROTOCOL-WEB.md), over HTTP/1.1 and HTTP/2 on the
// port that serves gRPC.

const seen: { metadata?: Metadata; signal?: AbortSignal } = {};

function handlers(extra: Record<string, Parameters<typeof startServer>[0][string]> = {}): Parameters<typeof startServer>[0] {
  return {
    Echo: unaryUnaryRpcMethodHandler((request: string, context: ServicerContext) => {
      seen.metadata = context.invocationMetadata();
      return `echo:${request}`;
    }, decode, encode),
    Count: unaryStreamRpcMethodHandler(async function* (request: string) {
      const n = Number(request);
      for (let i = 1; i <= n; i++) yield `n${i}`;
    }, decode, encode),
    Fail: unaryUnaryRpcMethodHandler((_request: string, context: ServicerContext) => {
      context.abort(StatusCode.INVALID_ARGUMENT, 'bad 100% wrong \u00e9');
    }, decode, encode),
    FailLate: unaryStreamRpcMethodHandler(async function* (_request: string, context: ServicerContext) {
      yield 'first';
      context.setTrailingMetadata([
        ['x-trailer', 'tv'],
        ['x-trailer-bin', Buffer.from([1, 2, 3])],
      ]);
      throw new RpcError(StatusCode.NOT_FOUND, 'gone: 50%');
    }, decode, encode),
    WithMetadata: unaryUnaryRpcMethodHandler((request: string, context: ServicerContext) => {
      context.sendInitialMetadata([
        ['x-initial', 'iv'],
        ['x-initial-bin', Buffer.from([0xff, 0x00])],
      ]);
      context.setTrailingMetadata([['x-trailing', 'tv']]);
      return request;
    }, decode, encode),
    Sum: streamUnaryRpcMethodHandler(async (requests: AsyncIterable<string>) => {
      let all = '';
      for await (const r of requests) all += r;
      return all;
    }, decode, encode),
    Chat: streamStreamRpcMethodHandler(async function* (requests: AsyncIterable<string>) {
      for await (const r of requests) yield r;
    }, decode, encode),
    ...extra,
  };
}

const statusOf = (r: { headers: Record<string, unknown>; trailers: Record<string, string> | undefined }): string | undefined =>
  (r.trailers?.['grpc-status'] ?? r.headers['grpc-status']) as string | undefined;

for (const wire of WIRES) {
  describe(`gRPC-Web over ${wire}`, () => {
    let s: TestServer;
    before(async () => {
      s = await startServer(handlers(), { compression: Compression.Gzip });
    });
    after(() => s.close());

    it('answers a unary call with 200, the gRPC-Web content type, the message and a trailers frame', async () => {
      const r = await post(wire, s.address, '/test.Svc/Echo', webFrame('hi'));
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/grpc-web+proto');
      assert.deepEqual(r.messages.map(String), ['echo:hi']);
      assert.equal(r.trailerBlock, 'grpc-status: 0\r\n');
      assert.equal(r.headers['grpc-status'], undefined);
    });

    it('streams server messages in order, then the trailers frame', async () => {
      const r = await post(wire, s.address, '/test.Svc/Count', webFrame('3'));
      assert.deepEqual(r.messages.map(String), ['n1', 'n2', 'n3']);
      assert.equal(r.trailers?.['grpc-status'], '0');
    });

    it('serves text mode: a base64 request, and each response write base64-encoded whole', async () => {
      const r = await post(wire, s.address, '/test.Svc/Count', webFrame('2').toString('base64'), { headers: { 'content-type': 'application/grpc-web-text' } });
      assert.equal(r.headers['content-type'], 'application/grpc-web-text+proto');
      assert.match(r.raw.toString('latin1'), /^[A-Za-z0-9+/=]+$/);
      // Three writes (two messages and the trailers), each padded on its own.
      assert.equal(r.raw.toString('latin1'), [webFrame('n1'), webFrame('n2'), webFrame('grpc-status: 0\r\n', 0x80)].map((b) => b.toString('base64')).join(''));
      assert.deepEqual(r.messages.map(String), ['n1', 'n2']);
    });

    it('answers in text when the client asks for it with Accept', async () => {
      const r = await post(wire, s.address, '/test.Svc/Echo', webFrame('x'), { headers: { accept: 'application/grpc-web-text' } });
      assert.equal(r.headers['content-type'], 'application/grpc-web-text+proto');
      assert.deepEqual(r.messages.map(String), ['echo:x']);
    });

    it('keeps a +suffix codec in the response content type', async () => {
      const r = await post(wire, s.address, '/test.Svc/Echo', webFrame('x'), { headers: { 'content-type': 'application/grpc-web+json' } });
      assert.equal(r.headers['content-type'], 'application/grpc-web+json');
    });

    it('sends an error before any message as Trailers-Only: the status in the headers and no body', async () => {
      const r = await post(wire, s.address, '/test.Svc/Fail', webFrame('x'));
      assert.equal(r.status, 200);
      assert.equal(r.headers['grpc-status'], String(StatusCode.INVALID_ARGUMENT));
      assert.equal(r.headers['grpc-message'], 'bad 100%25 wrong %C3%A9');
      assert.equal(r.raw.length, 0);
    });

    it('answers an unknown method UNIMPLEMENTED as Trailers-Only', async () => {
      const r = await post(wire, s.address, '/test.Svc/Nope', webFrame('x'));
      assert.equal(r.headers['grpc-status'], String(StatusCode.UNIMPLEMENTED));
      assert.equal(r.raw.length, 0);
    });

    it('puts a status after messages in the trailers frame, message percent-encoded, trailers with -bin in base64', async () => {
      const r = await post(wire, s.address, '/test.Svc/FailLate', webFrame('x'));
      assert.deepEqual(r.messages.map(String), ['first']);
      assert.equal(r.trailers?.['grpc-status'], String(StatusCode.NOT_FOUND));
      assert.equal(r.trailers?.['grpc-message'], 'gone: 50%25');
      assert.equal(r.trailers?.['x-trailer'], 'tv');
      assert.deepEqual(Buffer.from(r.trailers?.['x-trailer-bin'] ?? '', 'base64'), Buffer.from([1, 2, 3]));
    });

    it('carries metadata both ways: request headers (with -bin) to the handler, initial metadata in headers, trailing in the trailers frame', async () => {
      const r1 = await post(wire, s.address, '/test.Svc/Echo', webFrame('m'), {
        headers: { 'x-plain': 'pv', 'x-data-bin': Buffer.from([9, 8, 7]).toString('base64'), 'x-grpc-web': '1' },
      });
      assert.equal(statusOf(r1), '0');
      assert.equal(seen.metadata?.get('x-plain'), 'pv');
      assert.deepEqual([...(seen.metadata?.get('x-data-bin') as Uint8Array)], [9, 8, 7]);
      assert.equal(seen.metadata?.get('x-grpc-web'), '1');
      assert.equal(seen.metadata?.get('host'), undefined);
      const r2 = await post(wire, s.address, '/test.Svc/WithMetadata', webFrame('v'));
      assert.equal(r2.headers['x-initial'], 'iv');
      assert.deepEqual(Buffer.from(String(r2.headers['x-initial-bin']), 'base64'), Buffer.from([0xff, 0x00]));
      assert.deepEqual(r2.messages.map(String), ['v']);
      assert.equal(r2.trailers?.['x-trailing'], 'tv');
      assert.equal(r2.trailers?.['grpc-status'], '0');
    });

    it('refuses client-streaming and bidi methods with UNIMPLEMENTED saying gRPC-Web cannot carry them', async () => {
      for (const method of ['Sum', 'Chat']) {
        const r = await post(wire, s.address, `/test.Svc/${method}`, webFrame('a'));
        assert.equal(r.headers['grpc-status'], String(StatusCode.UNIMPLEMENTED), method);
        assert.match(decodeURIComponent(String(r.headers['grpc-message'])), /over gRPC-Web/);
      }
    });

    it('decompresses a gzip request message, and compresses responses only for a client that accepts gzip', async () => {
      const compressedRequest = webFrame(gzipSync(Buffer.from('zipped')), 1);
      const plain = await post(wire, s.address, '/test.Svc/Echo', compressedRequest, { headers: { 'grpc-encoding': 'gzip' } });
      assert.deepEqual(plain.messages.map(String), ['echo:zipped']);
      assert.deepEqual(plain.compressed, [false]);
      assert.equal(plain.headers['grpc-encoding'], undefined);
      const zipped = await post(wire, s.address, '/test.Svc/Echo', webFrame('y'), { headers: { 'grpc-accept-encoding': 'gzip' } });
      assert.equal(zipped.headers['grpc-encoding'], 'gzip');
      assert.deepEqual(zipped.compressed, [true]);
      assert.equal(gunzipSync(zipped.messages[0]!).toString(), 'echo:y');
    });

    it('answers an unknown grpc-encoding UNIMPLEMENTED, and a malformed grpc-timeout INTERNAL', async () => {
      const r1 = await post(wire, s.address, '/test.Svc/Echo', webFrame('x', 1), { headers: { 'grpc-encoding': 'br' } });
      assert.equal(r1.headers['grpc-status'], String(StatusCode.UNIMPLEMENTED));
      const r2 = await post(wire, s.address, '/test.Svc/Echo', webFrame('x'), { headers: { 'grpc-timeout': 'soon' } });
      assert.equal(r2.headers['grpc-status'], String(StatusCode.INTERNAL));
    });
  });
}

describe('gRPC-Web deadlines and cancellation', () => {
  for (const wire of WIRES) {
    it(`honours grpc-timeout over ${wire}: the handler's signal aborts DEADLINE_EXCEEDED and so does the call`, async () => {
      const reason = defer<unknown>();
      const s = await startServer({
        Wait: unaryUnaryRpcMethodHandler(async (_r: string, context: ServicerContext) => {
          context.signal.addEventListener('abort', () => reason.resolve(context.signal.reason), { once: true });
          await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
          return 'late';
        }, decode, encode),
      });
      after(() => s.close());
      const started = Date.now();
      const r = await post(wire, s.address, '/test.Svc/Wait', webFrame('x'), { headers: { 'grpc-timeout': '100m' } });
      assert.equal(r.headers['grpc-status'], String(StatusCode.DEADLINE_EXCEEDED));
      assert.equal(((await reason) as RpcError).code, StatusCode.DEADLINE_EXCEEDED);
      assert.ok(Date.now() - started < 5000);
    });

    it(`aborts context.signal with CANCELLED when the client aborts the request over ${wire}`, async () => {
      const reason = defer<unknown>();
      const s = await startServer({
        Forever: unaryStreamRpcMethodHandler(async function* (_r: string, context: ServicerContext) {
          context.signal.addEventListener('abort', () => reason.resolve(context.signal.reason), { once: true });
          yield 'one';
          await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
        }, decode, encode),
      });
      after(() => s.close());
      await post(wire, s.address, '/test.Svc/Forever', webFrame('x'), { onChunk: (_c, abort) => abort() }).catch(() => undefined);
      const why = (await reason) as RpcError;
      assert.equal(why.code, StatusCode.CANCELLED);
    });
  }
});

describe('gRPC-Web and gRPC on one port', () => {
  it('serves a grpc-js client (HTTP/2 gRPC) and gRPC-Web over HTTP/1.1 and HTTP/2 on the same port', async () => {
    const s = await startServer(handlers());
    after(() => s.close());
    const client = jsClient(s.address, { Echo: 'unary' });
    after(() => client.close());
    const native = await client.unary('Echo', 'g');
    assert.equal(native.value, 'echo:g');
    for (const wire of WIRES) {
      const r = await post(wire, s.address, '/test.Svc/Echo', webFrame(wire));
      assert.deepEqual(r.messages.map(String), [`echo:${wire}`]);
    }
  });

  it('answers native gRPC over HTTP/1.1 with 505 and a text body', async () => {
    const s = await startServer(handlers());
    after(() => s.close());
    const r = await post('HTTP/1.1', s.address, '/test.Svc/Echo', webFrame('x'), { headers: { 'content-type': 'application/grpc' } });
    assert.equal(r.status, 505);
    assert.match(r.raw.toString(), /gRPC needs HTTP\/2/);
  });

  for (const wire of WIRES) {
    it(`answers other content types with 415 and other methods with 405, each with a text body, over ${wire}`, async () => {
      const s = await startServer(handlers());
      after(() => s.close());
      const r1 = await post(wire, s.address, '/test.Svc/Echo', 'hello', { headers: { 'content-type': 'text/plain' } });
      assert.equal(r1.status, 415);
      assert.match(r1.raw.toString(), /^Cannot serve request: content-type "text\/plain"/);
      const r2 = await post(wire, s.address, '/test.Svc/Echo', '', { method: 'PUT' });
      assert.equal(r2.status, 405);
      assert.match(r2.raw.toString(), /is not POST/);
    });

    it(`refuses request metadata over grpc.max_metadata_size with RESOURCE_EXHAUSTED and runs no handler, over ${wire}`, async () => {
      let ran = false;
      const s = await startServer({ Echo: unaryUnaryRpcMethodHandler(() => ((ran = true), 'x'), decode, encode) }, { options: { 'grpc.max_metadata_size': 2048 } });
      after(() => s.close());
      const r = await post(wire, s.address, '/test.Svc/Echo', webFrame('x'), { headers: { 'x-big': 'a'.repeat(3000) } });
      assert.equal(r.headers['grpc-status'], String(StatusCode.RESOURCE_EXHAUSTED));
      assert.equal(ran, false);
    });
  }
});

describe('gRPC-Web request metadata', () => {
  it('gives a handler the authority the client addressed and the peer it came from', async () => {
    let authority: string | undefined;
    let peer = '';
    const s = await startServer({
      Who: unaryUnaryRpcMethodHandler((_r: string, context: ServicerContext) => {
        peer = context.peer();
        authority = context.invocationMetadata().get('host') as string | undefined;
        return 'ok';
      }, decode, encode),
    });
    after(() => s.close());
    await post('HTTP/1.1', s.address, '/test.Svc/Who', webFrame('x'));
    assert.match(peer, /^ipv4:127\.0\.0\.1:\d+$/);
    assert.equal(authority, undefined); // Host is the connection's, not metadata
  });
});


describe('gRPC-Web through the server pipeline', () => {
  it('runs interceptors and the executor as for gRPC: a refusal, a wrapped response stream', async () => {
    const requireToken: ServerInterceptor = {
      interceptService(continuation, details) {
        if (details.invocationMetadata.get('authorization') !== 'Bearer ok') throw new RpcError(StatusCode.UNAUTHENTICATED, 'Cannot call: bad token');
        return continuation(details);
      },
    };
    const upper: ServerInterceptor = {
      async *interceptCall(_kind, requests, _context, next) {
        for await (const response of next(requests)) yield String(response).toUpperCase();
      },
    };
    const s = await startServer(handlers(), { interceptors: [requireToken, upper], executor: { maxWorkers: 2 } });
    after(() => s.close());
    for (const wire of WIRES) {
      const refused = await post(wire, s.address, '/test.Svc/Count', webFrame('2'));
      assert.equal(refused.headers['grpc-status'], String(StatusCode.UNAUTHENTICATED), wire);
      const r = await post(wire, s.address, '/test.Svc/Count', webFrame('2'), { headers: { authorization: 'Bearer ok' } });
      assert.deepEqual(r.messages.map(String), ['N1', 'N2'], wire);
      assert.equal(r.trailers?.['grpc-status'], '0');
    }
  });
});
