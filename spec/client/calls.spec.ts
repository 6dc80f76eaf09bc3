import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { Metadata, RpcError, StatusCode, createClient, insecureChannel, type Channel, type MethodDefinition, type StreamingCall } from '../../lib/index.js';
import { decode, defer, encode, eventually } from '../helpers/grpc.js';
import { startJsServer, type JsServer } from '../helpers/js-server.js';

describe('client calls against a grpc-js server', () => {
  let server: JsServer;
  let channel: Channel;
  let cancelledOnServer = defer<boolean>();
  let serverSawDeadline: number | undefined;

  before(async () => {
    server = await startJsServer({
      Echo: ['unary', (call: grpc.ServerUnaryCall<string, string>, cb: grpc.sendUnaryData<string>) => {
        const md = call.metadata;
        const bin = md.get('trace-bin')[0] as Buffer | undefined;
        const deadline = call.getDeadline();
        serverSawDeadline = deadline instanceof Date ? deadline.getTime() : Number.isFinite(deadline) ? Number(deadline) : undefined;
        const initial = new grpc.Metadata();
        initial.set('x-initial', 'hello');
        initial.set('init-bin', Buffer.from([7, 7]));
        call.sendMetadata(initial);
        const trailers = new grpc.Metadata();
        trailers.set('x-trailer', 'bye');
        trailers.set('trail-bin', Buffer.from([0, 255]));
        cb(null, `${call.request}|${String(md.get('x-plain')[0] ?? '')}|${bin ? [...bin].join(',') : ''}|${md.get('x-many').join('+')}`, trailers);
      }],
      Fail: ['unary', (call: grpc.ServerUnaryCall<string, string>, cb: grpc.sendUnaryData<string>) => {
        const trailers = new grpc.Metadata();
        trailers.set('x-reason', 'testing');
        trailers.set('grpc-status-details-bin', Buffer.from([1, 2, 3]));
        cb({ code: grpc.status.NOT_FOUND, details: `no ${call.request} ✓ %`, metadata: trailers });
      }],
      Hang: ['unary', (call: grpc.ServerUnaryCall<string, string>) => {
        call.on('cancelled', () => cancelledOnServer.resolve(true));
      }],
      Count: ['serverStream', (call: grpc.ServerWritableStream<string, string>) => {
        for (let i = 0; i < Number(call.request); i++) call.write(`n${i}`);
        call.end();
      }],
      Endless: ['serverStream', (call: grpc.ServerWritableStream<string, string>) => {
        let i = 0;
        const timer = setInterval(() => call.write(`t${i++}`), 5);
        call.on('cancelled', () => {
          clearInterval(timer);
          cancelledOnServer.resolve(true);
        });
      }],
      Sum: ['clientStream', (call: grpc.ServerReadableStream<string, string>, cb: grpc.sendUnaryData<string>) => {
        const parts: string[] = [];
        call.on('data', (d: string) => parts.push(d));
        call.on('end', () => cb(null, parts.join('')));
      }],
      Chat: ['bidi', (call: grpc.ServerDuplexStream<string, string>) => {
        call.on('data', (d: string) => call.write(d.toUpperCase()));
        call.on('end', () => call.end());
      }],
    });
    channel = insecureChannel(server.address);
  });
  after(async () => {
    channel.close();
    await server.close();
  });

  it('makes a unary call with metadata both ways, -bin included (withCall)', async () => {
    const echo = channel.unaryUnary('/test.Svc/Echo', encode, decode);
    const md = new Metadata({ 'x-plain': 'p' });
    md.add('trace-bin', new Uint8Array([1, 2, 3]));
    md.add('x-many', 'a');
    md.add('x-many', 'b');
    const r = await echo.withCall('hi', { metadata: md });
    // Our client sends two x-many header fields; grpc-js's server reads node's joined header
    // object, so it sees the HTTP list form of the two values.
    assert.equal(r.response, 'hi|p|1,2,3|a, b');
    assert.equal(r.code, StatusCode.OK);
    assert.equal(r.initialMetadata.get('x-initial'), 'hello');
    assert.deepEqual([...(r.initialMetadata.get('init-bin') as Uint8Array)], [7, 7]);
    assert.equal(r.trailingMetadata.get('x-trailer'), 'bye');
    assert.deepEqual([...(r.trailingMetadata.get('trail-bin') as Uint8Array)], [0, 255]);
    assert.equal(await echo('plain'), 'plain|||');
  });

  it('rejects with an RpcError carrying code, decoded details, trailers and grpc-status-details-bin', async () => {
    const fail = channel.unaryUnary('/test.Svc/Fail', encode, decode);
    await assert.rejects(fail('thing'), (err: unknown) => {
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, StatusCode.NOT_FOUND);
      assert.equal(err.details, 'no thing ✓ %');
      assert.equal(err.metadata.get('x-reason'), 'testing');
      assert.deepEqual([...err.statusDetailsBin!], [1, 2, 3]);
      assert.match(err.message, /^NOT_FOUND: /);
      return true;
    });
  });

  it('answers UNIMPLEMENTED for a method the server does not have', async () => {
    await assert.rejects(channel.unaryUnary('/test.Svc/Nope')(new Uint8Array()), (err: RpcError) => err.code === StatusCode.UNIMPLEMENTED);
  });

  it('sends grpc-timeout and fails DEADLINE_EXCEEDED on its own when the server never answers', async () => {
    cancelledOnServer = defer();
    const hang = channel.unaryUnary('/test.Svc/Hang', encode, decode);
    const t0 = Date.now();
    await assert.rejects(hang('x', { timeout: 0.2 }), (err: RpcError) => err.code === StatusCode.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(await cancelledOnServer, true, 'the server saw the call end');
    await channel.unaryUnary('/test.Svc/Echo', encode, decode)('x', { deadline: new Date(Date.now() + 5000) });
    assert.ok(serverSawDeadline !== undefined && Math.abs(serverSawDeadline - (Date.now() + 5000)) < 1500, 'the server got the deadline');
  });

  it('cancels through an AbortSignal: CANCELLED here, the server sees the cancellation', async () => {
    cancelledOnServer = defer();
    const controller = new AbortController();
    const hang = channel.unaryUnary('/test.Svc/Hang', encode, decode);
    const pending = hang('x', { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(pending, (err: RpcError) => err.code === StatusCode.CANCELLED);
    assert.equal(await cancelledOnServer, true);
  });

  it('propagates a parent call’s deadline and cancellation', async () => {
    cancelledOnServer = defer();
    const parent = new AbortController();
    const hang = channel.unaryUnary('/test.Svc/Hang', encode, decode);
    const pending = hang('x', { parent: { signal: parent.signal, deadline: undefined } });
    setTimeout(() => parent.abort(), 50);
    await assert.rejects(pending, (err: RpcError) => err.code === StatusCode.CANCELLED);
    assert.equal(await cancelledOnServer, true);
    const t0 = Date.now();
    await assert.rejects(hang('x', { parent: { signal: new AbortController().signal, deadline: new Date(Date.now() + 150) } }), (err: RpcError) => err.code === StatusCode.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - t0 < 2000);
  });

  it('iterates a server stream, and exposes metadata, code and details after', async () => {
    const count = channel.unaryStream('/test.Svc/Count', encode, decode);
    const call = count('4');
    const got: string[] = [];
    for await (const m of call) got.push(m);
    assert.deepEqual(got, ['n0', 'n1', 'n2', 'n3']);
    assert.equal(await call.code(), StatusCode.OK);
    assert.equal(await call.details(), 'OK', 'grpc-js sends grpc-message "OK"; the client reports what arrived');
    assert.ok((await call.trailingMetadata()) instanceof Metadata);
  });

  it('cancels a server stream when the loop is left early, and the server sees it', async () => {
    cancelledOnServer = defer();
    const endless = channel.unaryStream('/test.Svc/Endless', encode, decode);
    const call: StreamingCall<string> = endless('go');
    let n = 0;
    for await (const _ of call) if (++n === 3) break;
    assert.equal(await cancelledOnServer, true);
    assert.equal(await call.code(), StatusCode.CANCELLED);
  });

  it('sends a client stream from an array, a generator and an async generator', async () => {
    const sum = channel.streamUnary('/test.Svc/Sum', encode, decode);
    assert.equal(await sum(['a', 'b', 'c']), 'abc');
    assert.equal(await sum((function* () { yield 'x'; yield 'y'; })()), 'xy');
    assert.equal(await sum((async function* () { yield 'p'; await new Promise((r) => setImmediate(r)); yield 'q'; })()), 'pq');
    assert.equal(await sum([]), '');
  });

  it('runs a bidi call from an async iterable, composing like a pipe stage', async () => {
    const chat = channel.streamStream('/test.Svc/Chat', encode, decode);
    const replies: string[] = [];
    for await (const r of chat((async function* () { yield 'a'; yield 'b'; yield 'c'; })())) replies.push(r);
    assert.deepEqual(replies, ['A', 'B', 'C']);
  });

  it('cancels the call when the request iterable throws', async () => {
    const sum = channel.streamUnary('/test.Svc/Sum', encode, decode);
    const failing = (async function* () {
      yield 'a';
      throw new Error('source broke');
    })();
    await assert.rejects(sum(failing), (err: RpcError) => err.code === StatusCode.CANCELLED && /source broke/.test(err.details));
  });

  it('makes a typed client from a service definition', async () => {
    const def = {
      Echo: { path: '/test.Svc/Echo', requestStream: false, responseStream: false, requestSerialize: encode, requestDeserialize: decode, responseSerialize: encode, responseDeserialize: decode },
      Count: { path: '/test.Svc/Count', requestStream: false, responseStream: true, requestSerialize: encode, requestDeserialize: decode, responseSerialize: encode, responseDeserialize: decode },
    } as const satisfies Record<string, MethodDefinition<string, string>>;
    const client = createClient(def, channel);
    const echoed: string = await client.echo('typed'); // compile-time: a Promise<string>
    assert.equal(echoed, 'typed|||');
    const streamed: string[] = [];
    for await (const m of client.count('2')) streamed.push(m);
    assert.deepEqual(streamed, ['n0', 'n1']);
  });

  it('fails fast with UNAVAILABLE when nothing listens, and waits with waitForReady until the deadline', async () => {
    const dead = insecureChannel('127.0.0.1:1', { 'grpc.initial_reconnect_backoff_ms': 50 });
    const call = dead.unaryUnary('/test.Svc/Echo', encode, decode);
    await assert.rejects(call('x', { timeout: 5 }), (err: RpcError) => err.code === StatusCode.UNAVAILABLE);
    await eventually(() => dead.getState() === 'TRANSIENT_FAILURE' || dead.getState() === 'CONNECTING', 2000, 'a failure state');
    const t0 = Date.now();
    await assert.rejects(call('x', { timeout: 0.3, waitForReady: true }), (err: RpcError) => err.code === StatusCode.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - t0 >= 250);
    dead.close();
    assert.equal(dead.getState(), 'SHUTDOWN');
  });
});
