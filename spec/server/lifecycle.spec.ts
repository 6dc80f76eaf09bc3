import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { delay } from 'abort-controller-x';
import { RpcError, StatusCode, methodHandlersGenericHandler, server, unaryUnaryRpcMethodHandler } from '../../lib/index.js';
import { decode, defer, encode, eventually, jsClient, startServer } from '../helpers/grpc.js';

const echo = unaryUnaryRpcMethodHandler((r: string) => r, decode, encode);
const handlers = () => [methodHandlersGenericHandler('test.Svc', { Echo: echo })];

describe('ports', () => {
  for (const address of ['127.0.0.1:0', 'localhost:0', '[::]:0']) {
    it(`addInsecurePort("${address}") resolves to a bound port that serves calls`, async () => {
      const srv = server({ handlers: handlers() });
      const port = await srv.addInsecurePort(address);
      assert.ok(port > 0 && port < 65536);
      await srv.start();
      const client = jsClient(`127.0.0.1:${port}`, { Echo: 'unary' });
      assert.equal((await client.unary('Echo', 'hi')).value, 'hi');
      client.close();
      await srv.stop(null);
    });
  }

  it('serves on a unix socket path, and reuses a stale socket file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'grpc-iter-'));
    const path = join(dir, 'server.sock');
    try {
      // A socket file left behind by a process that died: bound, never unlinked.
      execFileSync('/usr/bin/python3', ['-c', `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(path)}); s.close()`]);
      assert.ok(lstatSync(path).isSocket());
      for (let round = 0; round < 2; round++) {
        const srv = server({ handlers: handlers() });
        assert.equal(await srv.addInsecurePort(`unix:${path}`), 1);
        await srv.start();
        const client = jsClient(`unix:${path}`, { Echo: 'unary' });
        assert.equal((await client.unary('Echo', `round ${round}`)).value, `round ${round}`);
        client.close();
        await srv.stop(null);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an address it cannot parse, and one already in use', async () => {
    const srv = server();
    await assert.rejects(srv.addInsecurePort('not an address'), TypeError);
    const port = await srv.addInsecurePort('127.0.0.1:0');
    const other = server();
    await assert.rejects(other.addInsecurePort(`127.0.0.1:${port}`), /EADDRINUSE/);
    await srv.stop(null);
    await other.stop(null);
  });
});

describe('start', () => {
  it('may be called once; a second call, or adding ports or handlers afterwards, throws', async () => {
    const srv = server({ handlers: handlers() });
    await srv.addInsecurePort('127.0.0.1:0');
    await srv.start();
    await assert.rejects(srv.start(), /already started/);
    await assert.rejects(srv.addInsecurePort('127.0.0.1:0'), /Cannot add port "127.0.0.1:0": server already started/);
    assert.throws(() => srv.addGenericRpcHandlers(handlers()), /already started/);
    await srv.stop(null);
  });

  it('answers UNAVAILABLE before start()', async () => {
    const srv = server({ handlers: handlers() });
    const port = await srv.addInsecurePort('127.0.0.1:0');
    const client = jsClient(`127.0.0.1:${port}`, { Echo: 'unary' });
    assert.equal((await client.unary('Echo', 'x')).error?.code, grpc.status.UNAVAILABLE);
    client.close();
    await srv.stop(null);
  });
});

describe('stop(grace)', () => {
  function slowServer(ms: number) {
    const reasons: unknown[] = [];
    const started = { count: 0 };
    const entered = defer();
    return {
      reasons,
      started,
      entered,
      handlers: {
        Slow: unaryUnaryRpcMethodHandler(async (r: string, ctx) => {
          started.count++;
          entered.resolve();
          ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason), { once: true });
          await delay(ctx.signal, Number(r) || ms);
          return `done ${r}`;
        }, decode, encode),
        Echo: echo,
      },
    };
  }

  it('lets in-flight calls finish within the grace, refuses new ones, and resolves when closed', async () => {
    const t = slowServer(200);
    const s = await startServer(t.handlers);
    const client = jsClient(s.address, { Slow: 'unary', Echo: 'unary' });
    const inFlight = client.unary('Slow', '200');
    await t.entered;
    const stopped = s.srv.stop(5);
    const late = jsClient(s.address, { Echo: 'unary' });
    const refused = await late.unary('Echo', 'late');
    assert.ok(refused.error !== undefined, 'a call after stop() is refused');
    assert.equal((await inFlight).value, 'done 200');
    await stopped;
    assert.equal(await s.srv.waitForTermination(0), true);
    assert.deepEqual(t.reasons, [], 'the finished call was not cancelled');
    client.close();
    late.close();
  });

  it('cancels calls still running when the grace runs out; their signals abort', async () => {
    const t = slowServer(10_000);
    const s = await startServer(t.handlers);
    const client = jsClient(s.address, { Slow: 'unary' });
    const inFlight = client.unary('Slow', '10000');
    await t.entered;
    const t0 = Date.now();
    await s.srv.stop(0.2);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 150 && elapsed < 3000, `stop took ${elapsed} ms`);
    const r = await inFlight;
    assert.equal(r.error?.code, grpc.status.UNAVAILABLE);
    await eventually(() => t.reasons.length === 1, 2000, 'the handler signal to abort');
    assert.ok(t.reasons[0] instanceof RpcError);
    assert.equal((t.reasons[0] as RpcError).code, StatusCode.UNAVAILABLE);
    client.close();
  });

  it('stop(null) cancels every in-flight call at once', async () => {
    const t = slowServer(10_000);
    const s = await startServer(t.handlers);
    const client = jsClient(s.address, { Slow: 'unary' });
    const calls = [client.unary('Slow', '10000'), client.unary('Slow', '10000')];
    await eventually(() => t.started.count === 2, 2000, 'both calls to start');
    const t0 = Date.now();
    await s.srv.stop(null);
    assert.ok(Date.now() - t0 < 1500);
    for (const r of await Promise.all(calls)) assert.equal(r.error?.code, grpc.status.UNAVAILABLE);
    await eventually(() => t.reasons.length === 2, 2000, 'both signals to abort');
    client.close();
  });

  it('is harmless to call twice, and a shorter second grace wins', async () => {
    const t = slowServer(10_000);
    const s = await startServer(t.handlers);
    const client = jsClient(s.address, { Slow: 'unary' });
    const inFlight = client.unary('Slow', '10000');
    await t.entered;
    const t0 = Date.now();
    const first = s.srv.stop(30);
    const second = s.srv.stop(0.1);
    await Promise.all([first, second]);
    assert.ok(Date.now() - t0 < 3000, 'the 0.1 s grace took effect');
    assert.equal((await inFlight).error?.code, grpc.status.UNAVAILABLE);
    await s.srv.stop(null);
    client.close();
  });

  it('waitForTermination(timeout) is false on timeout and true once stopped', async () => {
    const s = await startServer({ Echo: echo });
    assert.equal(await s.srv.waitForTermination(0.05), false);
    const waiting = s.srv.waitForTermination();
    await s.srv.stop(null);
    assert.equal(await waiting, true);
  });
});

describe('options', () => {
  it('ignores unknown keys and takes pairs or an object', () => {
    server({ options: [['grpc.some_future_option', 1], ['grpc.keepalive_time_ms', 30_000]] });
    server({ options: { 'grpc.max_concurrent_streams': 100, 'x.unknown': 'anything' } as never });
  });

  it('throws at server() for a bad value of a known key, naming it', () => {
    assert.throws(() => server({ options: [['grpc.keepalive_time_ms', 'soon']] }), /grpc\.keepalive_time_ms/);
    assert.throws(() => server({ options: { 'grpc.max_receive_message_length': -5 } }), RangeError);
    assert.throws(() => server({ options: { 'grpc.keepalive_permit_without_calls': 7 } }), /grpc\.keepalive_permit_without_calls/);
    assert.throws(() => server({ maximumConcurrentRpcs: 0 }), RangeError);
    assert.throws(() => server({ executor: { maxWorkers: 0 } }), RangeError);
    assert.throws(() => server({ compression: 9 as never }), TypeError);
  });
});
