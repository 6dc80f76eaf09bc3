import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { StatusCode, unaryStreamRpcMethodHandler, unaryUnaryRpcMethodHandler } from '../../lib/index.js';
import { decode, defer, encode, eventually, jsClient, sleep, startServer, type Deferred, type TestServer } from '../helpers/grpc.js';

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

describe('maximumConcurrentRpcs', () => {
  it('answers RESOURCE_EXHAUSTED at once past the limit while the running calls complete', async () => {
    const release = defer();
    let started = 0;
    const s = await startServer(
      {
        Hold: unaryUnaryRpcMethodHandler(async (r: string) => {
          started++;
          await release;
          return r;
        }, decode, encode),
      },
      { maximumConcurrentRpcs: 2 },
    );
    servers.push(s);
    const client = jsClient(s.address, { Hold: 'unary' });
    const first = client.unary('Hold', '1');
    const second = client.unary('Hold', '2');
    await eventually(() => started === 2, 2000, 'two calls to start');
    const t0 = Date.now();
    const third = await client.unary('Hold', '3');
    assert.equal(third.error?.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.ok(Date.now() - t0 < 1000, 'the refusal is immediate');
    assert.equal(started, 2, 'the refused call never reached its handler');
    release.resolve();
    assert.equal((await first).value, '1');
    assert.equal((await second).value, '2');
    assert.equal((await client.unary('Hold', '4')).value, '4', 'capacity returns once calls end');
    client.close();
  });
});

describe('executor { maxWorkers }', () => {
  it('runs at most maxWorkers handlers at once; the rest wait in arrival order and all succeed', async () => {
    let running = 0;
    let peak = 0;
    let arrived = 0;
    const order: string[] = [];
    const gates: Deferred<void>[] = [];
    const s = await startServer(
      {
        Work: unaryUnaryRpcMethodHandler(async (r: string) => {
          running++;
          peak = Math.max(peak, running);
          order.push(r);
          const gate = defer();
          gates.push(gate);
          await gate;
          running--;
          return r;
        }, decode, encode),
      },
      {
        executor: { maxWorkers: 2 },
        // Interceptors run before the executor queue: this one shows when a call has arrived.
        interceptors: [{ interceptService: (next, details) => (arrived++, next(details)) }],
      },
    );
    servers.push(s);
    const client = jsClient(s.address, { Work: 'unary' });
    const calls: Array<Promise<{ value?: string }>> = [];
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      calls.push(client.unary('Work', name));
      await eventually(() => arrived === calls.length, 2000, `call ${name} to arrive`);
    }
    assert.deepEqual(order, ['a', 'b'], 'only two run');
    for (let released = 0; released < 5; released++) {
      await eventually(() => gates.length > released, 2000, 'a queued handler to start');
      gates[released]!.resolve();
    }
    const results = await Promise.all(calls);
    assert.deepEqual(results.map((r) => r.value), ['a', 'b', 'c', 'd', 'e'], 'queued calls are not rejected');
    assert.deepEqual(order, ['a', 'b', 'c', 'd', 'e'], 'queued calls start in arrival order');
    assert.equal(peak, 2);
    client.close();
  });

  it('drops a queued call whose client cancels or whose deadline passes, without running it', async () => {
    const gate = defer();
    const ran: string[] = [];
    const s = await startServer(
      {
        Work: unaryUnaryRpcMethodHandler(async (r: string) => {
          ran.push(r);
          if (r === 'blocker') await gate;
          return r;
        }, decode, encode),
      },
      { executor: { maxWorkers: 1 } },
    );
    servers.push(s);
    const client = jsClient(s.address, { Work: 'unary' });
    const blocker = client.unary('Work', 'blocker');
    await eventually(() => ran.length === 1, 2000, 'the blocker to run');
    const expiring = client.unary('Work', 'expires', new grpc.Metadata(), { deadline: Date.now() + 100 });
    const cancelled = new Promise<number>((resolve) => {
      const call = (client.raw.Work as (...a: unknown[]) => grpc.ClientUnaryCall)('cancelled', new grpc.Metadata(), (err: grpc.ServiceError | null) => resolve(err?.code ?? 0));
      setTimeout(() => call.cancel(), 50);
    });
    assert.equal((await expiring).error?.code, grpc.status.DEADLINE_EXCEEDED);
    assert.equal(await cancelled, grpc.status.CANCELLED);
    await sleep(50);
    gate.resolve();
    assert.equal((await blocker).value, 'blocker');
    assert.equal((await client.unary('Work', 'after')).value, 'after');
    assert.deepEqual(ran, ['blocker', 'after'], 'the withdrawn calls never ran');
    client.close();
  });
});

describe('message size limits', () => {
  it('refuses a request over grpc.max_receive_message_length with RESOURCE_EXHAUSTED', async () => {
    let ran = 0;
    const s = await startServer(
      {
        Echo: unaryUnaryRpcMethodHandler((r: string) => {
          ran++;
          return r;
        }, decode, encode),
      },
      { options: { 'grpc.max_receive_message_length': 1024 } },
    );
    servers.push(s);
    const client = jsClient(s.address, { Echo: 'unary' }, { 'grpc.max_send_message_length': -1 });
    assert.equal((await client.unary('Echo', 'x'.repeat(1024))).value?.length, 1024, 'exactly the limit passes');
    const r = await client.unary('Echo', 'x'.repeat(1025));
    assert.equal(r.error?.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(ran, 1);
    client.close();
  });

  it('refuses to send a response over grpc.max_send_message_length with RESOURCE_EXHAUSTED', async () => {
    const s = await startServer(
      {
        Big: unaryUnaryRpcMethodHandler((r: string) => 'y'.repeat(Number(r)), decode, encode),
        Stream: unaryStreamRpcMethodHandler(function* () {
          yield 'small';
          yield 'y'.repeat(5000);
        }, decode, encode),
      },
      { options: [['grpc.max_send_message_length', 4096]] },
    );
    servers.push(s);
    const client = jsClient(s.address, { Big: 'unary', Stream: 'serverStream' });
    assert.equal((await client.unary('Big', '4096')).value?.length, 4096);
    assert.equal((await client.unary('Big', '4097')).error?.code, grpc.status.RESOURCE_EXHAUSTED);
    const st = await client.serverStream('Stream', '');
    assert.deepEqual(st.value, ['small']);
    assert.equal(st.status?.code, StatusCode.RESOURCE_EXHAUSTED);
    client.close();
  });
});
