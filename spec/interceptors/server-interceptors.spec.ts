import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import {
  StatusCode,
  methodHandlersGenericHandler,
  server,
  streamStreamRpcMethodHandler,
  unaryStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
  type Server,
} from '../../lib/index.js';
import { bearerTokenInterceptor, loggingInterceptor, type RpcLogEntry } from '../../lib/interceptors/index.js';

const enc = (s: string): Buffer => Buffer.from(s);
const dec = (b: Uint8Array): string => Buffer.from(b).toString();
const method = (path: string, requestStream: boolean, responseStream: boolean) => ({
  path,
  requestStream,
  responseStream,
  requestSerialize: enc,
  requestDeserialize: dec,
  responseSerialize: enc,
  responseDeserialize: dec,
});
const Client = grpc.makeGenericClientConstructor(
  {
    Echo: method('/t.Svc/Echo', false, false),
    Fail: method('/t.Svc/Fail', false, false),
    Count: method('/t.Svc/Count', false, true),
    Chat: method('/t.Svc/Chat', true, true),
    Open: method('/t.Svc/Open', false, false),
  },
  'Svc',
);

type GenericClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

function unary(client: GenericClient, name: string, request: string, metadata = new grpc.Metadata()): Promise<string> {
  return new Promise((resolve, reject) => {
    client[name]!(request, metadata, (err: grpc.ServiceError | null, value: string) => (err ? reject(err) : resolve(value)));
  });
}

describe('ready-made server interceptors', () => {
  const entries: RpcLogEntry[] = [];
  let ran = 0;
  const handlerErrors: unknown[] = [];
  let srv: Server;
  let client: GenericClient;
  let port: number;

  before(async () => {
    srv = server({
      onHandlerError: (error) => handlerErrors.push(error),
      interceptors: [
        loggingInterceptor({ log: (entry) => entries.push(entry) }),
        bearerTokenInterceptor({ verify: async (token) => token === 'good', allow: ['/t.Svc/Open'] }),
      ],
    });
    srv.addGenericRpcHandlers([
      methodHandlersGenericHandler('t.Svc', {
        Echo: unaryUnaryRpcMethodHandler((r: string) => {
          ran++;
          return r;
        }, dec, enc),
        Open: unaryUnaryRpcMethodHandler((r: string) => `open ${r}`, dec, enc),
        Fail: unaryUnaryRpcMethodHandler((_r: string, ctx) => ctx.abort(StatusCode.NOT_FOUND, 'no such thing'), dec, enc),
        Count: unaryStreamRpcMethodHandler(function* (r: string) {
          for (let i = 0; i < Number(r); i++) yield String(i);
        }, dec, enc),
        Chat: streamStreamRpcMethodHandler(async function* (reqs: AsyncIterable<string>) {
          for await (const r of reqs) {
            if (r === 'boom') throw new Error('secret internal detail');
            yield r;
          }
        }, dec, enc),
      }),
    ]);
    port = await srv.addInsecurePort('127.0.0.1:0');
    await srv.start();
    client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as GenericClient;
  });
  after(async () => {
    client.close();
    await srv.stop(null);
  });

  const authed = (): grpc.Metadata => {
    const md = new grpc.Metadata();
    md.set('authorization', 'Bearer good');
    return md;
  };

  it('rejects a call without a token with UNAUTHENTICATED before the handler runs', async () => {
    const before = ran;
    await assert.rejects(unary(client, 'Echo', 'x'), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAUTHENTICATED);
      assert.match(err.details, /missing bearer token/);
      return true;
    });
    const bad = new grpc.Metadata();
    bad.set('authorization', 'Bearer wrong');
    await assert.rejects(unary(client, 'Echo', 'x', bad), (err: grpc.ServiceError) => err.code === grpc.status.UNAUTHENTICATED && /invalid/.test(err.details));
    assert.equal(ran, before, 'the handler must not run for rejected calls');
  });

  it('logs calls refused before any handler ran: by the auth interceptor, or for an unknown method', async () => {
    entries.length = 0;
    await assert.rejects(unary(client, 'Echo', 'x'), { code: grpc.status.UNAUTHENTICATED });
    const generic = new (grpc.makeGenericClientConstructor({ Nope: method('/t.Svc/Nope', false, false) }, 'Svc'))(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as GenericClient;
    try {
      await assert.rejects(unary(generic, 'Nope', 'x', authed()), { code: grpc.status.UNIMPLEMENTED });
    } finally {
      generic.close();
    }
    assert.deepEqual(
      entries.map((e) => [e.method, e.code, e.details, e.peer]),
      [
        ['/t.Svc/Echo', StatusCode.UNAUTHENTICATED, 'Cannot call: missing bearer token', ''],
        ['/t.Svc/Nope', StatusCode.UNIMPLEMENTED, 'Method not found', ''],
      ],
    );
  });

  it('lets a call with a good token through, and open methods without one', async () => {
    assert.equal(await unary(client, 'Echo', 'hi', authed()), 'hi');
    assert.equal(await unary(client, 'Open', 'door'), 'open door');
  });

  it('logs the method, final status and duration of each RPC kind', async () => {
    entries.length = 0;
    await unary(client, 'Echo', 'a', authed());
    await assert.rejects(unary(client, 'Fail', 'a', authed()));
    const counted: string[] = [];
    for await (const m of (client as unknown as { Count(r: string, md: grpc.Metadata): AsyncIterable<string> }).Count('3', authed())) counted.push(m);
    assert.deepEqual(counted, ['0', '1', '2']);
    const chat = (client as unknown as { Chat(md: grpc.Metadata): grpc.ClientDuplexStream<string, string> }).Chat(authed());
    chat.write('boom');
    chat.end();
    const chatError = await new Promise<grpc.ServiceError>((resolve) => chat.on('error', resolve).on('data', () => undefined));
    assert.equal(chatError.code, grpc.status.UNKNOWN);
    assert.doesNotMatch(chatError.details, /secret/);
    await new Promise((r) => setImmediate(r));
    const byMethod = new Map(entries.map((e) => [e.method, e]));
    assert.equal(byMethod.get('/t.Svc/Echo')?.code, StatusCode.OK);
    assert.equal(byMethod.get('/t.Svc/Fail')?.code, StatusCode.NOT_FOUND);
    assert.equal(byMethod.get('/t.Svc/Fail')?.details, 'no such thing');
    assert.equal(byMethod.get('/t.Svc/Count')?.code, StatusCode.OK);
    const chatEntry = byMethod.get('/t.Svc/Chat');
    assert.equal(chatEntry?.code, StatusCode.UNKNOWN);
    assert.equal((chatEntry?.error as Error).message, 'secret internal detail');
    assert.equal(handlerErrors.length, 1, 'the server reports the handler error once');
    for (const e of entries) {
      assert.ok(e.durationMs >= 0);
      assert.match(e.peer, /^ipv4:127\.0\.0\.1:\d+$/);
    }
  });
});
