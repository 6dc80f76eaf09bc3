// Our gRPC-Web client against a gRPC-Web server we did not write: @connectrpc/connect-node's
// node:http adapter with only the gRPC-Web protocol on, binary format (connect-node does not
// serve grpc-web-text).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { ErrorInfo, Metadata, RpcError, StatusCode, createClient, findDetails } from '../../lib/index.js';
import { grpcWebChannel } from '../../lib/web/index.js';
import { defer, type Deferred } from '../../lib/util/index.js';
import { echoDefinition, loadEchoService, type EchoRequest } from './echo-service.js';

const { service, request, reply, errorInfo } = loadEchoService();
const Echo = echoDefinition(request, reply);

// What the handlers saw, and the points a test releases them at.
let streamGate: Deferred<void> | undefined;
let handlerSignal: Deferred<unknown> | undefined;
let seenHeaders: Headers | undefined;

// The descriptor is read at run time, so connect cannot type the implementation against it.
const implementation = {
  unary(req: EchoRequest, ctx: HandlerContext) {
    seenHeaders = ctx.requestHeader;
    if (req.message === 'fail') {
      throw new ConnectError('no such thing', Code.FailedPrecondition, { 'x-error-detail': 'yes' }, [
        { desc: errorInfo, value: { reason: 'NOT_READY', domain: 'example.test', metadata: { step: '2' } } },
      ]);
    }
    if (req.message === 'hang') {
      handlerSignal = defer<unknown>();
      const seen = handlerSignal;
      return new Promise((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => {
          seen.resolve(ctx.signal.reason);
          reject(ctx.signal.reason as Error);
        }, { once: true });
      });
    }
    const echoed = ctx.requestHeader.get('x-echo');
    if (echoed !== null) {
      ctx.responseHeader.set('x-echo-header', echoed);
      ctx.responseTrailer.set('x-echo-trailer', echoed);
      const bin = ctx.requestHeader.get('x-echo-bin');
      if (bin !== null) ctx.responseTrailer.set('x-echo-bin', bin);
    }
    return { message: `hello ${req.message}`, index: 0 };
  },
  async *serverStream(req: EchoRequest, ctx: HandlerContext) {
    handlerSignal = defer<unknown>();
    const seen = handlerSignal;
    ctx.signal.addEventListener('abort', () => seen.resolve(ctx.signal.reason), { once: true });
    for (let i = 0; i < req.count; i++) {
      yield { message: req.message, index: i };
      // The first message waits until the client has it: it must arrive before the stream ends.
      if (i === 0 && streamGate !== undefined) await streamGate;
    }
    if (req.message === 'then-fail') throw new ConnectError('stream broke', Code.DataLoss);
  },
};

function routes(router: ConnectRouter): void {
  router.service(service, implementation as never);
}

describe('grpc-iter/web client against @connectrpc/connect-node (gRPC-Web, binary)', () => {
  let server: Server;
  let baseUrl: string;
  before(async () => {
    server = createServer(connectNodeAdapter({ routes, grpcWeb: true, grpc: false, connect: false }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('makes a unary call through createClient', async () => {
    const channel = grpcWebChannel(baseUrl);
    after(() => channel.close());
    const client = createClient(Echo, channel);
    assert.deepEqual(await client.unary({ message: 'web', count: 0 }, { timeout: 10 }), { message: 'hello web', index: 0 });
    assert.equal(seenHeaders?.get('content-type'), 'application/grpc-web+proto');
    assert.equal(seenHeaders?.get('x-grpc-web'), '1');
    assert.match(seenHeaders?.get('x-user-agent') ?? '', /^grpc-iter\//);
    assert.match(seenHeaders?.get('grpc-timeout') ?? '', /^\d{1,8}[HMSmun]$/);
  });

  it('sends metadata (text and -bin) and reads the response headers and trailers', async () => {
    const channel = grpcWebChannel(baseUrl);
    after(() => channel.close());
    const client = createClient(Echo, channel);
    const metadata = new Metadata({ 'x-echo': 'marco' });
    metadata.add('x-echo-bin', new Uint8Array([0, 1, 254, 255]));
    const result = await client.unary.withCall({ message: 'md', count: 0 }, { metadata });
    assert.equal(seenHeaders?.get('x-echo-bin'), 'AAH+/w', 'a -bin value goes out as unpadded base64');
    assert.equal(result.code, StatusCode.OK);
    assert.equal(result.initialMetadata.get('x-echo-header'), 'marco');
    assert.equal(result.trailingMetadata.get('x-echo-trailer'), 'marco');
    assert.deepEqual([...(result.trailingMetadata.get('x-echo-bin') as Uint8Array)], [0, 1, 254, 255]);
  });

  it('reads a server stream incrementally: the first message arrives before the stream ends', async () => {
    const channel = grpcWebChannel(baseUrl);
    after(() => channel.close());
    const client = createClient(Echo, channel);
    streamGate = defer<void>();
    try {
      const seen: number[] = [];
      for await (const m of client.serverStream({ message: 'tick', count: 3 }, { timeout: 10 })) {
        seen.push(m.index);
        // The server holds the rest back until this message is here.
        if (m.index === 0) streamGate.resolve();
      }
      assert.deepEqual(seen, [0, 1, 2]);
    } finally {
      streamGate.resolve();
      streamGate = undefined;
    }
  });

  it('ends a server stream with the error status after the messages sent before it', async () => {
    const channel = grpcWebChannel(baseUrl);
    after(() => channel.close());
    const client = createClient(Echo, channel);
    const call = client.serverStream({ message: 'then-fail', count: 2 });
    const seen: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const m of call) seen.push(m.index);
      })(),
      (err: unknown) => err instanceof RpcError && err.code === StatusCode.DATA_LOSS && err.details === 'stream broke',
    );
    assert.deepEqual(seen, [0, 1]);
    assert.equal(await call.code(), StatusCode.DATA_LOSS);
  });

  it('gives an error status as an RpcError with its details, trailers and error details', async () => {
    const channel = grpcWebChannel(baseUrl);
    after(() => channel.close());
    const client = createClient(Echo, channel);
    const err = await client.unary({ message: 'fail', count: 0 }).then(
      () => assert.fail('the call succeeded'),
      (e: unknown) => e as RpcError,
    );
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, StatusCode.FAILED_PRECONDITION);
    assert.equal(err.details, 'no such thing');
    assert.equal(err.trailingMetadata.get('x-error-detail'), 'yes');
    assert.deepEqual(findDetails(err, ErrorInfo), [{ reason: 'NOT_READY', domain: 'example.test', metadata: { step: '2' } }]);
  });

  it('ends a call DEADLINE_EXCEEDED when its timeout passes, and the server sees the deadline', async () => {
    const channel = grpcWebChannel(baseUrl);
    after(() => channel.close());
    const client = createClient(Echo, channel);
    const started = Date.now();
    await assert.rejects(client.unary({ message: 'hang', count: 0 }, { timeout: 0.2 }), (err: unknown) => err instanceof RpcError && err.code === StatusCode.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < 5_000, 'ended in bounded time');
    await handlerSignal!; // the handler's signal aborted: connect-node saw the deadline or the aborted fetch
  });

  it('cancels a server stream when the caller aborts: CANCELLED for the caller, the fetch is aborted so the handler\'s signal fires', async () => {
    const channel = grpcWebChannel(baseUrl);
    after(() => channel.close());
    const client = createClient(Echo, channel);
    streamGate = defer<void>();
    const controller = new AbortController();
    try {
      const call = client.serverStream({ message: 'cancel-me', count: 5 }, { signal: controller.signal });
      await assert.rejects(
        (async () => {
          for await (const m of call) if (m.index === 0) controller.abort();
        })(),
        (err: unknown) => err instanceof RpcError && err.code === StatusCode.CANCELLED,
      );
      assert.equal(await call.code(), StatusCode.CANCELLED);
      await handlerSignal!; // the server saw the request go away
    } finally {
      streamGate.resolve();
      streamGate = undefined;
    }
  });

  it('refuses client-streaming and bidi calls UNIMPLEMENTED at once, without pulling a request', async () => {
    const channel = grpcWebChannel(baseUrl);
    after(() => channel.close());
    const client = createClient(Echo, channel);
    let pulled = 0;
    // A request stream that never ends: the error must not wait for it.
    async function* requests(): AsyncGenerator<EchoRequest> {
      for (;;) {
        pulled++;
        yield await new Promise<EchoRequest>(() => undefined);
      }
    }
    const unimplemented = (err: unknown): boolean => err instanceof RpcError && err.code === StatusCode.UNIMPLEMENTED && /not supported by gRPC-Web/.test(err.details);
    await assert.rejects(client.clientStream(requests()), unimplemented);
    await assert.rejects(
      (async () => {
        for await (const _ of client.bidi(requests())) assert.fail('a message arrived');
      })(),
      unimplemented,
    );
    assert.equal(pulled, 0);
  });
});
