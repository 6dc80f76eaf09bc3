// Our gRPC-Web client against our own server's gRPC-Web (HTTP/1.1 through Node's fetch), in both
// formats: the two halves of issue 12 agree on every rule a call can show.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ErrorInfo,
  Metadata,
  RpcError,
  StatusCode,
  findDetails,
  interceptChannel,
  packDetail,
  unaryStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
  streamUnaryRpcMethodHandler,
  type ServicerContext,
} from '../../lib/index.js';
import { grpcWebChannel } from '../../lib/web/index.js';
import { decode, defer, encode, startServer, type Deferred, type TestServer } from '../helpers/grpc.js';

let gate: Deferred<void> | undefined;
let handlerReason: Deferred<unknown> | undefined;

function watchSignal(context: ServicerContext): Deferred<unknown> {
  const seen = defer<unknown>();
  context.signal.addEventListener('abort', () => seen.resolve(context.signal.reason), { once: true });
  handlerReason = seen;
  return seen;
}

const handlers = {
  Echo: unaryUnaryRpcMethodHandler((request: string, context: ServicerContext) => {
    const md = context.invocationMetadata();
    const echo = md.get('x-echo');
    if (typeof echo === 'string') context.sendInitialMetadata([['x-echo-header', echo]]);
    const trailers = new Metadata();
    if (typeof echo === 'string') trailers.set('x-echo-trailer', echo);
    const bin = md.get('x-echo-bin');
    if (bin instanceof Uint8Array) trailers.set('x-echo-bin', bin);
    const added = md.get('x-added');
    if (typeof added === 'string') trailers.set('x-added', added);
    context.setTrailingMetadata(trailers);
    return `hello ${request}`;
  }, decode, encode),
  Fail: unaryUnaryRpcMethodHandler((_request: string) => {
    throw new RpcError(StatusCode.FAILED_PRECONDITION, 'not ready: 100%', {
      trailingMetadata: { 'x-why': 'warming' },
      errorDetails: [packDetail(ErrorInfo, { reason: 'WARMING', domain: 'example.test', metadata: { step: '1' } })],
    });
  }, decode, encode),
  Hang: unaryUnaryRpcMethodHandler(async (_request: string, context: ServicerContext) => {
    await watchSignal(context);
    return 'never';
  }, decode, encode),
  Count: unaryStreamRpcMethodHandler(async function* (request: string, context: ServicerContext) {
    watchSignal(context);
    for (let i = 0; i < Number(request); i++) {
      yield String(i);
      // The rest waits until the client has the first message: it must arrive before the end.
      if (i === 0 && gate !== undefined) await gate;
    }
  }, decode, encode),
  Sum: streamUnaryRpcMethodHandler(async (requests: AsyncIterable<string>) => {
    let n = 0;
    for await (const r of requests) n += Number(r);
    return String(n);
  }, decode, encode),
};

for (const format of ['binary', 'text'] as const) {
  describe(`grpc-iter/web client against our server's gRPC-Web (${format}, HTTP/1.1)`, () => {
    let s: TestServer;
    let baseUrl: string;
    before(async () => {
      s = await startServer(handlers);
      baseUrl = `http://${s.address}`;
    });
    after(() => s.close());

    const channel = () => {
      const c = grpcWebChannel(baseUrl, { format });
      after(() => c.close());
      return c;
    };

    it('makes a unary call with metadata both ways: text and -bin values, response headers and trailers', async () => {
      const echo = channel().unaryUnary('/test.Svc/Echo', encode, decode);
      const metadata = new Metadata({ 'x-echo': 'polo' });
      metadata.add('x-echo-bin', new Uint8Array([0, 255, 7]));
      const result = await echo.withCall('web', { metadata, timeout: 10 });
      assert.equal(result.response, 'hello web');
      assert.equal(result.code, StatusCode.OK);
      assert.equal(result.initialMetadata.get('x-echo-header'), 'polo');
      assert.equal(result.trailingMetadata.get('x-echo-trailer'), 'polo');
      assert.deepEqual([...(result.trailingMetadata.get('x-echo-bin') as Uint8Array)], [0, 255, 7]);
    });

    it('reads a server stream incrementally: the first message arrives before the stream ends', async () => {
      const count = channel().unaryStream('/test.Svc/Count', encode, decode);
      gate = defer<void>();
      try {
        const seen: string[] = [];
        for await (const m of count('3', { timeout: 10 })) {
          seen.push(m);
          if (m === '0') gate.resolve();
        }
        assert.deepEqual(seen, ['0', '1', '2']);
      } finally {
        gate.resolve();
        gate = undefined;
      }
    });

    it('gives an error status as an RpcError with percent-decoded details, trailers and error details', async () => {
      const fail = channel().unaryUnary('/test.Svc/Fail', encode, decode);
      const err = await fail('x').then(
        () => assert.fail('the call succeeded'),
        (e: unknown) => e as RpcError,
      );
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, StatusCode.FAILED_PRECONDITION);
      assert.equal(err.details, 'not ready: 100%');
      assert.equal(err.trailingMetadata.get('x-why'), 'warming');
      assert.deepEqual(findDetails(err, ErrorInfo), [{ reason: 'WARMING', domain: 'example.test', metadata: { step: '1' } }]);
    });

    it('answers an unknown method UNIMPLEMENTED', async () => {
      const missing = channel().unaryUnary('/test.Svc/Nope', encode, decode);
      await assert.rejects(missing('x'), (err: unknown) => err instanceof RpcError && err.code === StatusCode.UNIMPLEMENTED);
    });

    it('ends DEADLINE_EXCEEDED when the timeout passes, and the handler\'s signal aborts', async () => {
      const hang = channel().unaryUnary('/test.Svc/Hang', encode, decode);
      await assert.rejects(hang('x', { timeout: 0.2 }), (err: unknown) => err instanceof RpcError && err.code === StatusCode.DEADLINE_EXCEEDED);
      const reason = await handlerReason!;
      // The server's own deadline, or the aborted fetch if the client's timer fired first.
      assert.ok(reason instanceof RpcError && (reason.code === StatusCode.DEADLINE_EXCEEDED || reason.code === StatusCode.CANCELLED), String(reason));
    });

    it('cancels a server stream when the caller aborts: CANCELLED on both sides', async () => {
      const count = channel().unaryStream('/test.Svc/Count', encode, decode);
      gate = defer<void>();
      const controller = new AbortController();
      try {
        const call = count('5', { signal: controller.signal });
        await assert.rejects(
          (async () => {
            for await (const m of call) if (m === '0') controller.abort();
          })(),
          (err: unknown) => err instanceof RpcError && err.code === StatusCode.CANCELLED,
        );
        const reason = await handlerReason!;
        assert.ok(reason instanceof RpcError && reason.code === StatusCode.CANCELLED, String(reason));
      } finally {
        gate.resolve();
        gate = undefined;
      }
    });

    it('runs client interceptors over the web channel', async () => {
      const intercepted = interceptChannel(channel(), async function* (details, requests, next) {
        yield* next({ ...details, options: { ...details.options, metadata: { 'x-added': details.method } } }, requests);
      });
      const result = await intercepted.unaryUnary('/test.Svc/Echo', encode, decode).withCall('i');
      assert.equal(result.response, 'hello i');
      assert.equal(result.trailingMetadata.get('x-added'), '/test.Svc/Echo');
    });

    it('refuses a client-streaming call UNIMPLEMENTED before the server sees it', async () => {
      const sum = channel().streamUnary('/test.Svc/Sum', encode, decode);
      await assert.rejects(sum(['1', '2']), (err: unknown) => err instanceof RpcError && err.code === StatusCode.UNIMPLEMENTED && /not supported by gRPC-Web/.test(err.details));
    });
  });
}
