import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Metadata,
  RpcError,
  StatusCode,
  createClient,
  insecureChannel,
  interceptChannel,
  streamStreamRpcMethodHandler,
  streamUnaryRpcMethodHandler,
  unaryStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
  type Channel,
  type ClientInterceptor,
  type MethodDefinition,
} from '../../lib/index.js';
import { decode, encode, startServer, type TestServer } from '../helpers/grpc.js';

const withHeader =
  (key: string, value: string): ClientInterceptor =>
  (details, requests, next) =>
    next({ ...details, options: { ...details.options, metadata: Metadata.from(details.options.metadata).clone().set(key, value) } }, requests);

describe('client interceptors', () => {
  let server: TestServer;
  let channel: Channel;
  let flakyCalls = 0;

  before(async () => {
    server = await startServer({
      Echo: unaryUnaryRpcMethodHandler((r: string, ctx) => `${r}|${String(ctx.invocationMetadata().get('x-a') ?? '')}|${String(ctx.invocationMetadata().get('x-b') ?? '')}`, decode, encode),
      Flaky: unaryUnaryRpcMethodHandler((r: string, ctx) => (++flakyCalls < 3 ? ctx.abort(StatusCode.UNAVAILABLE, 'not yet') : `${r} after ${flakyCalls}`), decode, encode),
      Count: unaryStreamRpcMethodHandler(function* (r: string) {
        for (let i = 0; i < Number(r); i++) yield String(i);
      }, decode, encode),
      Join: streamUnaryRpcMethodHandler(async (reqs: AsyncIterable<string>) => {
        const all: string[] = [];
        for await (const r of reqs) all.push(r);
        return all.join(',');
      }, decode, encode),
      Chat: streamStreamRpcMethodHandler(async function* (reqs: AsyncIterable<string>) {
        for await (const r of reqs) yield `re:${r}`;
      }, decode, encode),
    });
    channel = insecureChannel(server.address);
  });
  after(async () => {
    channel.close();
    await server.close();
  });

  it('compose in order and may change metadata', async () => {
    const order: string[] = [];
    const trace = (name: string): ClientInterceptor =>
      async function* (details, requests, next) {
        order.push(`${name}>`);
        yield* next(details, requests);
        order.push(`<${name}`);
      };
    const intercepted = interceptChannel(channel, trace('outer'), withHeader('x-a', 'A'), trace('inner'), withHeader('x-b', 'B'));
    const r = await intercepted.unaryUnary('/test.Svc/Echo', encode, decode).withCall('hi');
    assert.equal(r.response, 'hi|A|B');
    assert.equal(r.code, StatusCode.OK);
    assert.deepEqual(order, ['outer>', 'inner>', '<inner', '<outer']);
  });

  it('may transform requests and responses of every kind', async () => {
    const upper: ClientInterceptor = async function* (details, requests, next) {
      async function* shout(): AsyncGenerator<unknown> {
        for await (const r of requests) yield String(r).toUpperCase();
      }
      for await (const response of next(details, shout())) yield `[${String(response)}]`;
    };
    const c = interceptChannel(channel, upper);
    assert.equal(await c.unaryUnary('/test.Svc/Echo', encode, decode)('abc'), '[ABC||]');
    const counted: string[] = [];
    for await (const m of c.unaryStream('/test.Svc/Count', encode, decode)('3')) counted.push(m);
    assert.deepEqual(counted, ['[0]', '[1]', '[2]']);
    assert.equal(await c.streamUnary('/test.Svc/Join', encode, decode)(['a', 'b']), '[A,B]');
    const chat: string[] = [];
    const call = c.streamStream('/test.Svc/Chat', encode, decode)(['x', 'y']);
    for await (const m of call) chat.push(m);
    assert.deepEqual(chat, ['[re:X]', '[re:Y]']);
    assert.equal(await call.code(), StatusCode.OK);
  });

  it('may retry by calling next again, and may fail a call', async () => {
    const retry: ClientInterceptor = async function* (details, requests, next) {
      const request = await (async () => {
        for await (const r of requests) return r;
        return undefined;
      })();
      for (let attempt = 1; ; attempt++) {
        try {
          yield* next(details, (async function* () { yield request; })());
          return;
        } catch (err) {
          if (!(err instanceof RpcError) || err.code !== StatusCode.UNAVAILABLE || attempt === 5) throw err;
        }
      }
    };
    flakyCalls = 0;
    assert.equal(await interceptChannel(channel, retry).unaryUnary('/test.Svc/Flaky', encode, decode)('done'), 'done after 3');
    const deny: ClientInterceptor = () => {
      throw new RpcError(StatusCode.PERMISSION_DENIED, 'Cannot call: blocked by policy');
    };
    await assert.rejects(interceptChannel(channel, deny).unaryUnary('/test.Svc/Echo', encode, decode)('x'), (err: RpcError) => err.code === StatusCode.PERMISSION_DENIED);
  });

  it('work under typed clients', async () => {
    const def = {
      Echo: { path: '/test.Svc/Echo', requestStream: false, responseStream: false, requestSerialize: encode, requestDeserialize: decode, responseSerialize: encode, responseDeserialize: decode },
    } as const satisfies Record<string, MethodDefinition<string, string>>;
    const client = createClient(def, interceptChannel(channel, withHeader('x-a', 'typed')));
    assert.equal(await client.echo('t'), 't|typed|');
  });
});
