import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  RpcError,
  StatusCode,
  streamStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
  type RpcMethodHandler,
  type ServerInterceptor,
  type ServicerContext,
} from '../../lib/index.js';
import { decode, encode } from '../helpers/grpc.js';
import { TRANSPORTS, type Served } from '../helpers/transports.js';

const servers: Served[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

const echo = unaryUnaryRpcMethodHandler((r: string) => `echo:${r}`, decode, encode);
const chat = streamStreamRpcMethodHandler(async function* (reqs: AsyncIterable<string>) {
  for await (const r of reqs) yield `chat:${r}`;
}, decode, encode);

function recorder(name: string, log: string[]): ServerInterceptor {
  return {
    interceptService(continuation, details) {
      log.push(`${name}>${details.method}`);
      const handler = continuation(details);
      log.push(`${name}<`);
      return handler;
    },
  };
}

// Every test runs over both transports: the network (a grpc-js client) and in-process (our client).
for (const transport of TRANSPORTS) describe(`server interceptors (${transport.name})`, () => {
  it('run in order, first outermost, and pass calls through', async () => {
    const log: string[] = [];
    const s = await transport.serve({ Echo: echo }, { Echo: 'unary' }, { interceptors: [recorder('a', log), recorder('b', log)] });
    servers.push(s);
    const { client } = s;
    assert.equal((await client.unary('Echo', 'x')).value, 'echo:x');
    assert.deepEqual(log, ['a>/test.Svc/Echo', 'b>/test.Svc/Echo', 'b<', 'a<']);
  });

  it('see the invocation metadata and may reject with UNAUTHENTICATED before the handler runs', async () => {
    let ran = 0;
    const guarded = unaryUnaryRpcMethodHandler((r: string) => {
      ran++;
      return r;
    }, decode, encode);
    const auth: ServerInterceptor = {
      interceptService(continuation, details) {
        if (details.invocationMetadata.get('authorization') !== 'Bearer ok') throw new RpcError(StatusCode.UNAUTHENTICATED, 'Cannot call: no token');
        return continuation(details);
      },
    };
    const s = await transport.serve({ Echo: guarded }, { Echo: 'unary' }, { interceptors: [auth] });
    servers.push(s);
    const { client } = s;
    const denied = await client.unary('Echo', 'x');
    assert.equal(denied.code, StatusCode.UNAUTHENTICATED);
    assert.equal(denied.details, 'Cannot call: no token');
    assert.equal(ran, 0);
    assert.equal((await client.unary('Echo', 'y', { metadata: [['authorization', 'Bearer ok']] })).value, 'y');
    assert.equal(ran, 1);
  });

  it('may be async, and may replace the handler', async () => {
    const replace: ServerInterceptor = {
      async interceptService(continuation, details) {
        await new Promise((r) => setImmediate(r));
        if (details.method.endsWith('/Echo')) return unaryUnaryRpcMethodHandler((r: string) => `replaced:${r}`, decode, encode); // a typed handler, no cast
        return continuation(details);
      },
    };
    const s = await transport.serve({ Echo: echo }, { Echo: 'unary' }, { interceptors: [replace] });
    servers.push(s);
    const { client } = s;
    assert.equal((await client.unary('Echo', 'x')).value, 'replaced:x');
  });

  it('may answer UNIMPLEMENTED by returning null, or fail with UNKNOWN when they throw a plain error', async () => {
    const hide: ServerInterceptor = {
      interceptService(continuation, details) {
        if (details.invocationMetadata.get('x-mode') === 'hide') return null;
        if (details.invocationMetadata.get('x-mode') === 'throw') throw new Error('interceptor secret');
        return continuation(details);
      },
    };
    const s = await transport.serve({ Echo: echo }, { Echo: 'unary' }, { interceptors: [hide] });
    servers.push(s);
    const { client } = s;
    assert.equal((await client.unary('Echo', 'x', { metadata: [['x-mode', 'hide']] })).code, StatusCode.UNIMPLEMENTED);
    const failed = await client.unary('Echo', 'x', { metadata: [['x-mode', 'throw']] });
    assert.equal(failed.code, StatusCode.UNKNOWN);
    assert.doesNotMatch(failed.details, /secret/);
  });

  it('may wrap a streaming handler, transforming its request and response iterables', async () => {
    const upper: ServerInterceptor = {
      async interceptService(continuation, details) {
        const handler = (await continuation(details)) as RpcMethodHandler<string, string> | null;
        if (handler?.streamStream === undefined) return handler as RpcMethodHandler | null;
        const inner = handler.streamStream;
        return {
          ...handler,
          streamStream: async function* (requests: AsyncIterable<string>, context: ServicerContext) {
            async function* shout(): AsyncGenerator<string> {
              for await (const r of requests) yield r.toUpperCase();
            }
            let n = 0;
            for await (const response of await inner(shout(), context)) yield `${++n}:${response}`;
          },
        } as RpcMethodHandler;
      },
    };
    const s = await transport.serve({ Chat: chat }, { Chat: 'bidi' }, { interceptors: [upper] });
    servers.push(s);
    const { client } = s;
    const r = await client.bidi('Chat', ['a', 'b']);
    assert.deepEqual(r.value, ['1:chat:A', '2:chat:B']);
    assert.equal(r.code, StatusCode.OK);
  });
});
