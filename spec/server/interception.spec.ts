import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import {
  RpcError,
  StatusCode,
  streamStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
  type RpcMethodHandler,
  type ServerInterceptor,
  type ServicerContext,
} from '../../lib/index.js';
import { decode, encode, jsClient, startServer, type TestServer } from '../helpers/grpc.js';

const servers: TestServer[] = [];
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

describe('server interceptors', () => {
  it('run in order, first outermost, and pass calls through', async () => {
    const log: string[] = [];
    const s = await startServer({ Echo: echo }, { interceptors: [recorder('a', log), recorder('b', log)] });
    servers.push(s);
    const client = jsClient(s.address, { Echo: 'unary' });
    assert.equal((await client.unary('Echo', 'x')).value, 'echo:x');
    client.close();
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
    const s = await startServer({ Echo: guarded }, { interceptors: [auth] });
    servers.push(s);
    const client = jsClient(s.address, { Echo: 'unary' });
    const denied = await client.unary('Echo', 'x');
    assert.equal(denied.error?.code, grpc.status.UNAUTHENTICATED);
    assert.equal(denied.error?.details, 'Cannot call: no token');
    assert.equal(ran, 0);
    const md = new grpc.Metadata();
    md.set('authorization', 'Bearer ok');
    assert.equal((await client.unary('Echo', 'y', md)).value, 'y');
    assert.equal(ran, 1);
    client.close();
  });

  it('may be async, and may replace the handler', async () => {
    const replace: ServerInterceptor = {
      async interceptService(continuation, details) {
        await new Promise((r) => setImmediate(r));
        if (details.method.endsWith('/Echo')) return unaryUnaryRpcMethodHandler((r: string) => `replaced:${r}`, decode, encode); // a typed handler, no cast
        return continuation(details);
      },
    };
    const s = await startServer({ Echo: echo }, { interceptors: [replace] });
    servers.push(s);
    const client = jsClient(s.address, { Echo: 'unary' });
    assert.equal((await client.unary('Echo', 'x')).value, 'replaced:x');
    client.close();
  });

  it('may answer UNIMPLEMENTED by returning null, or fail with UNKNOWN when they throw a plain error', async () => {
    const hide: ServerInterceptor = {
      interceptService(continuation, details) {
        if (details.invocationMetadata.get('x-mode') === 'hide') return null;
        if (details.invocationMetadata.get('x-mode') === 'throw') throw new Error('interceptor secret');
        return continuation(details);
      },
    };
    const s = await startServer({ Echo: echo }, { interceptors: [hide] });
    servers.push(s);
    const client = jsClient(s.address, { Echo: 'unary' });
    const md = new grpc.Metadata();
    md.set('x-mode', 'hide');
    assert.equal((await client.unary('Echo', 'x', md)).error?.code, grpc.status.UNIMPLEMENTED);
    md.set('x-mode', 'throw');
    const failed = await client.unary('Echo', 'x', md);
    assert.equal(failed.error?.code, grpc.status.UNKNOWN);
    assert.doesNotMatch(failed.error!.details, /secret/);
    client.close();
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
    const s = await startServer({ Chat: chat }, { interceptors: [upper] });
    servers.push(s);
    const client = jsClient(s.address, { Chat: 'bidi' });
    const r = await client.bidi('Chat', ['a', 'b']);
    assert.deepEqual(r.value, ['1:chat:A', '2:chat:B']);
    assert.equal(r.status?.code, grpc.status.OK);
    client.close();
  });
});
