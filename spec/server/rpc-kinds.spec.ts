import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  StatusCode,
  streamStreamRpcMethodHandler,
  streamUnaryRpcMethodHandler,
  unaryStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
} from '../../lib/index.js';
import { decode, encode } from '../helpers/grpc.js';
import { TRANSPORTS, type Served, type TestClient } from '../helpers/transports.js';

async function* asyncFrom<T>(items: T[]): AsyncGenerator<T> {
  for (const i of items) yield i;
}

// Every test runs over both transports: the network (a grpc-js client) and in-process (our client).
for (const transport of TRANSPORTS) describe(`the four RPC kinds, every handler form (${transport.name})`, () => {
  let served: Served;
  let client: TestClient;

  before(async () => {
    served = await transport.serve({
      // unary-unary
      UnarySync: unaryUnaryRpcMethodHandler((r: string) => `sync:${r}`, decode, encode),
      UnaryAsync: unaryUnaryRpcMethodHandler(async (r: string) => {
        await new Promise((res) => setImmediate(res));
        return `async:${r}`;
      }, decode, encode),
      UnaryBytes: unaryUnaryRpcMethodHandler((r: Uint8Array) => Uint8Array.from([...r].reverse())),
      // unary-stream
      StreamGen: unaryStreamRpcMethodHandler(function* (r: string) {
        for (let i = 0; i < Number(r); i++) yield `gen${i}`;
      }, decode, encode),
      StreamAsyncGen: unaryStreamRpcMethodHandler(async function* (r: string) {
        for (let i = 0; i < Number(r); i++) {
          await new Promise((res) => setImmediate(res));
          yield `agen${i}`;
        }
      }, decode, encode),
      StreamArray: unaryStreamRpcMethodHandler((r: string) => r.split(''), decode, encode),
      StreamAsyncIterable: unaryStreamRpcMethodHandler((r: string) => asyncFrom([r, r + r]), decode, encode),
      StreamPromiseOfIterable: unaryStreamRpcMethodHandler(async (r: string) => [r.toUpperCase()], decode, encode),
      StreamEmpty: unaryStreamRpcMethodHandler(function* () {}, decode, encode),
      // stream-unary
      CollectSync: streamUnaryRpcMethodHandler((reqs: AsyncIterable<string>) => {
        void reqs;
        return 'answered without reading';
      }, decode, encode),
      CollectAsync: streamUnaryRpcMethodHandler(async (reqs: AsyncIterable<string>) => {
        const all: string[] = [];
        for await (const r of reqs) all.push(r);
        return all.join('+');
      }, decode, encode),
      CollectFirst: streamUnaryRpcMethodHandler(async (reqs: AsyncIterable<string>) => {
        for await (const r of reqs) return `first:${r}`; // returns before reading the rest
        return 'none';
      }, decode, encode),
      // stream-stream
      EchoAsyncGen: streamStreamRpcMethodHandler(async function* (reqs: AsyncIterable<string>) {
        for await (const r of reqs) yield `echo:${r}`;
      }, decode, encode),
      EchoSyncGen: streamStreamRpcMethodHandler(function* () {
        yield 'a';
        yield 'b';
      }, decode, encode),
      EchoIterable: streamStreamRpcMethodHandler((reqs: AsyncIterable<string>) => {
        return (async function* () {
          let n = 0;
          for await (const _ of reqs) n++;
          yield `count:${n}`;
        })();
      }, decode, encode),
      EchoArray: streamStreamRpcMethodHandler(() => ['x', 'y', 'z'], decode, encode),
      NotIterable: unaryStreamRpcMethodHandler(() => 42 as unknown as string[], decode, encode),
    }, {
      UnarySync: 'unary',
      UnaryAsync: 'unary',
      StreamGen: 'serverStream',
      StreamAsyncGen: 'serverStream',
      StreamArray: 'serverStream',
      StreamAsyncIterable: 'serverStream',
      StreamPromiseOfIterable: 'serverStream',
      StreamEmpty: 'serverStream',
      CollectSync: 'clientStream',
      CollectAsync: 'clientStream',
      CollectFirst: 'clientStream',
      EchoAsyncGen: 'bidi',
      EchoSyncGen: 'bidi',
      EchoIterable: 'bidi',
      EchoArray: 'bidi',
      NotIterable: 'serverStream',
    });
    client = served.client;
  });
  after(() => served.close());

  describe('unary-unary', () => {
    it('answers from a sync function', async () => {
      const r = await client.unary('UnarySync', 'hi');
      assert.equal(r.value, 'sync:hi');
      assert.equal(r.code, StatusCode.OK);
    });
    it('answers from an async function', async () => {
      assert.equal((await client.unary('UnaryAsync', 'hi')).value, 'async:hi');
    });
    it('passes raw bytes when no codecs are given', async () => {
      const value = await client.unaryBytes('UnaryBytes', Uint8Array.from([1, 2, 3]));
      assert.deepEqual([...value], [3, 2, 1]);
    });
    it('answers an empty request message', async () => {
      assert.equal((await client.unary('UnarySync', '')).value, 'sync:');
    });
  });

  describe('unary-stream', () => {
    it('streams a function* in order', async () => {
      assert.deepEqual((await client.serverStream('StreamGen', '3')).value, ['gen0', 'gen1', 'gen2']);
    });
    it('streams an async function* in order', async () => {
      const r = await client.serverStream('StreamAsyncGen', '4');
      assert.deepEqual(r.value, ['agen0', 'agen1', 'agen2', 'agen3']);
      assert.equal(r.code, StatusCode.OK);
    });
    it('streams an array a function returns', async () => {
      assert.deepEqual((await client.serverStream('StreamArray', 'abc')).value, ['a', 'b', 'c']);
    });
    it('streams an async iterable a function returns', async () => {
      assert.deepEqual((await client.serverStream('StreamAsyncIterable', 'q')).value, ['q', 'qq']);
    });
    it('streams a promise of an iterable', async () => {
      assert.deepEqual((await client.serverStream('StreamPromiseOfIterable', 'q')).value, ['Q']);
    });
    it('ends OK with no messages for an empty stream', async () => {
      const r = await client.serverStream('StreamEmpty', '');
      assert.deepEqual(r.value, []);
      assert.equal(r.code, StatusCode.OK);
    });
    it('fails with INTERNAL when the handler returns something that is not iterable', async () => {
      const r = await client.serverStream('NotIterable', '');
      assert.equal(r.code, StatusCode.INTERNAL);
    });
  });

  describe('stream-unary', () => {
    it('collects every request with for await', async () => {
      assert.equal((await client.clientStream('CollectAsync', ['a', 'b', 'c'])).value, 'a+b+c');
    });
    it('collects an empty request stream', async () => {
      assert.equal((await client.clientStream('CollectAsync', [])).value, '');
    });
    it('answers from a sync function that never reads the requests', async () => {
      const r = await client.clientStream('CollectSync', ['a', 'b']);
      assert.equal(r.value, 'answered without reading');
      assert.equal(r.code, StatusCode.OK);
    });
    it('sends the response and OK when the handler returns before the client finishes sending', async () => {
      const call = client.open('CollectFirst');
      call.write('one');
      const r = await call.done; // the client is still open for writing
      assert.equal(r.code, StatusCode.OK);
      assert.deepEqual(r.value, ['first:one']);
      call.write('two'); // late writes are discarded, not an error
      call.end();
    });
  });

  describe('stream-stream', () => {
    it('echoes each request in order from an async function*', async () => {
      const r = await client.bidi('EchoAsyncGen', ['1', '2', '3']);
      assert.deepEqual(r.value, ['echo:1', 'echo:2', 'echo:3']);
      assert.equal(r.code, StatusCode.OK);
    });
    it('interleaves: each response arrives before the next request is sent', async () => {
      const call = client.open('EchoAsyncGen');
      const seen: string[] = [];
      for (const m of ['a', 'b', 'c']) {
        call.write(m);
        seen.push(await call.message());
      }
      call.end();
      assert.deepEqual(seen, ['echo:a', 'echo:b', 'echo:c']);
      assert.equal((await call.done).code, StatusCode.OK);
    });
    it('streams from a sync function*', async () => {
      assert.deepEqual((await client.bidi('EchoSyncGen', ['ignored'])).value, ['a', 'b']);
    });
    it('streams an async iterable a plain function returns', async () => {
      assert.deepEqual((await client.bidi('EchoIterable', ['1', '2', '3', '4'])).value, ['count:4']);
    });
    it('streams an array a plain function returns', async () => {
      assert.deepEqual((await client.bidi('EchoArray', [])).value, ['x', 'y', 'z']);
    });
  });
});
