import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { server, unaryUnaryRpcMethodHandler, type AnyRpcMethodHandler, type GenericRpcHandler, type Server } from '../../lib/index.js';
import { decode, encode, jsClient, type JsClient } from '../helpers/grpc.js';

// Handlers that only a call reveals (a custom generic handler's answer, an interceptor's
// replacement) are checked the first time they are seen, as registration checks the others.

const cleanup: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function serve(generic: GenericRpcHandler, interceptors: NonNullable<Parameters<typeof server>[0]>['interceptors'] = []): Promise<{ client: JsClient; reported: Array<{ error: unknown; method: string }>; srv: Server }> {
  const reported: Array<{ error: unknown; method: string }> = [];
  const srv = server({ onHandlerError: (error, method) => reported.push({ error, method }), interceptors });
  srv.addGenericRpcHandlers([generic]);
  const port = await srv.addInsecurePort('127.0.0.1:0');
  await srv.start();
  const client = jsClient(`127.0.0.1:${port}`, { Say: 'unary' });
  cleanup.push(() => client.close(), () => srv.stop(null));
  return { client, reported, srv };
}

// A generator function as the behavior of a unary response: before this check it answered
// OK with an empty message (the generator object serialized to nothing).
const generatorForUnary = {
  requestStreaming: false,
  responseStreaming: false,
  requestDeserializer: decode,
  responseSerializer: encode,
  unaryUnary: async function* () {
    yield 'never sent';
  },
  unaryStream: undefined,
  streamUnary: undefined,
  streamStream: undefined,
} as unknown as AnyRpcMethodHandler;

describe('handlers first seen at call time', () => {
  it("a custom generic handler's malformed answer ends the call INTERNAL and is reported as a TypeError naming the method", async () => {
    const { client, reported } = await serve({ service: () => generatorForUnary });
    const result = await client.unary('Say', 'hi');
    assert.equal(result.error?.code, grpc.status.INTERNAL);
    assert.equal(result.value, undefined);
    assert.equal(reported.length, 1);
    assert.ok(reported[0]!.error instanceof TypeError);
    assert.match(String((reported[0]!.error as Error).message), /\/test\.Svc\/Say/);
    assert.equal(reported[0]!.method, '/test.Svc/Say');
  });

  it("an interceptor's malformed replacement is refused the same way", async () => {
    const good = unaryUnaryRpcMethodHandler((req: string) => `hello ${req}`, decode, encode);
    const { client, reported } = await serve({ service: () => good }, [{ interceptService: () => generatorForUnary }]);
    const result = await client.unary('Say', 'hi');
    assert.equal(result.error?.code, grpc.status.INTERNAL);
    assert.ok(reported[0]!.error instanceof TypeError);
  });

  it('a generic handler that answers with something that is not a handler at all ends the call INTERNAL, and the server keeps serving', async () => {
    let broken = true;
    const good = unaryUnaryRpcMethodHandler((req: string) => `hello ${req}`, decode, encode);
    const { client, reported } = await serve({ service: () => (broken ? (42 as unknown as AnyRpcMethodHandler) : good) });
    assert.equal((await client.unary('Say', 'a')).error?.code, grpc.status.INTERNAL);
    assert.equal(reported.length, 1);
    broken = false;
    assert.equal((await client.unary('Say', 'b')).value, 'hello b');
  });

  it('a well-formed handler from a generic handler serves every call with the same answer', async () => {
    const good = unaryUnaryRpcMethodHandler((req: string) => `hello ${req}`, decode, encode);
    const { client, reported } = await serve({ service: () => good });
    for (const name of ['a', 'b', 'c']) assert.equal((await client.unary('Say', name)).value, `hello ${name}`);
    assert.equal(reported.length, 0);
  });
});
