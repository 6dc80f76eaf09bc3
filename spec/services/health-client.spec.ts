// Our health client (checkHealth, listHealth, watchHealth) against servers: a @grpc/grpc-js server
// implementing grpc.health.v1.Health from health.proto through proto-loader, one without Watch,
// scripted grpc-js servers for the retry rules, and our own server restarted under a watch.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { RpcError, StatusCode, insecureChannel, server, type Channel, type Server } from '../../lib/index.js';
import { HealthServicer, ServingStatus, addHealthServicer, checkHealth, listHealth, watchHealth } from '../../lib/services/health/index.js';
import { defer } from '../helpers/grpc.js';

type Status = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
type WatchCall = grpc.ServerWritableStream<{ service: string }, { status: Status }>;

let healthDefinition: grpc.ServiceDefinition;

// grpc/grpc-proto grpc/health/v1/health.proto, with List (gRFC A90): the copy the health service serves to reflection.
before(() => {
  const loaded = protoLoader.loadSync('grpc/health/v1/health.proto', { includeDirs: [resolve('lib/services/health/proto')], enums: String, defaults: true });
  healthDefinition = loaded['grpc.health.v1.Health'] as grpc.ServiceDefinition;
});

async function startJsHealth(impl: grpc.UntypedServiceImplementation, definition: grpc.ServiceDefinition = healthDefinition, port = 0): Promise<{ server: grpc.Server; port: number; close(): Promise<void> }> {
  const js = new grpc.Server();
  js.addService(definition, impl);
  const bound = await new Promise<number>((resolve, reject) =>
    js.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server: js, port: bound, close: () => new Promise<void>((resolve) => js.tryShutdown(() => resolve())) };
}

const activeTimers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

describe('health client against a grpc-js Health server', () => {
  const statuses = new Map<string, Status>([
    ['', 'SERVING'],
    ['a.Svc', 'NOT_SERVING'],
  ]);
  const watchers = new Set<WatchCall>();
  let js: Awaited<ReturnType<typeof startJsHealth>>;
  let channel: Channel;

  before(async () => {
    js = await startJsHealth({
      Check(call: grpc.ServerUnaryCall<{ service: string }, unknown>, callback: grpc.sendUnaryData<{ status: Status }>) {
        const status = statuses.get(call.request.service);
        if (status === undefined) callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
        else callback(null, { status });
      },
      List(_call: unknown, callback: grpc.sendUnaryData<{ statuses: Record<string, { status: Status }> }>) {
        callback(null, { statuses: Object.fromEntries([...statuses].map(([name, status]) => [name, { status }])) });
      },
      Watch(call: WatchCall) {
        call.write({ status: statuses.get(call.request.service) ?? 'SERVICE_UNKNOWN' });
        watchers.add(call);
        call.on('cancelled', () => watchers.delete(call));
      },
    });
    channel = insecureChannel(`127.0.0.1:${js.port}`);
  });
  after(async () => {
    channel.close();
    for (const call of watchers) call.end();
    await js.close();
  });

  const set = (service: string, status: Status): void => {
    statuses.set(service, status);
    for (const call of watchers) if (call.request.service === service) call.write({ status });
  };

  it('checkHealth answers the status the server reports', async () => {
    assert.equal(await checkHealth(channel, '', { timeout: 5 }), ServingStatus.SERVING);
    assert.equal(await checkHealth(channel, 'a.Svc', { timeout: 5 }), ServingStatus.NOT_SERVING);
  });

  it('checkHealth of a service the server does not know rejects with NOT_FOUND', async () => {
    await assert.rejects(checkHealth(channel, 'no.Such', { timeout: 5 }), (err: unknown) => err instanceof RpcError && err.code === StatusCode.NOT_FOUND);
  });

  it('listHealth answers every service with its status', async () => {
    assert.deepEqual(
      await listHealth(channel, { timeout: 5 }),
      new Map([
        ['', ServingStatus.SERVING],
        ['a.Svc', ServingStatus.NOT_SERVING],
      ]),
    );
  });

  it('carries service names over 127 bytes, non-ASCII included, through Check, List and Watch', async () => {
    const long = `long.${'ü'.repeat(100)}`; // 205 bytes of UTF-8: a two-byte length prefix
    set(long, 'SERVING');
    try {
      assert.equal(await checkHealth(channel, long, { timeout: 5 }), ServingStatus.SERVING);
      assert.equal((await listHealth(channel, { timeout: 5 })).get(long), ServingStatus.SERVING);
      for await (const status of watchHealth(channel, long, { signal: AbortSignal.timeout(5000) })) {
        assert.equal(status, ServingStatus.SERVING);
        break;
      }
    } finally {
      statuses.delete(long);
    }
  });

  it('watchHealth yields SERVICE_UNKNOWN for an unknown service as a status, then the status it gets', async () => {
    const seen: ServingStatus[] = [];
    for await (const status of watchHealth(channel, 'late.Svc', { signal: AbortSignal.timeout(5000) })) {
      seen.push(status);
      if (seen.length === 1) set('late.Svc', 'SERVING');
      else if (seen.length === 2) set('late.Svc', 'NOT_SERVING');
      else break;
    }
    assert.deepEqual(seen, [ServingStatus.SERVICE_UNKNOWN, ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
  });

  it('leaving the watch loop cancels the Watch call on the server', async () => {
    const cancelled = defer();
    for await (const status of watchHealth(channel, 'a.Svc', { signal: AbortSignal.timeout(5000) })) {
      assert.equal(status, ServingStatus.NOT_SERVING);
      const [call] = [...watchers].filter((c) => c.request.service === 'a.Svc');
      call!.on('cancelled', () => cancelled.resolve());
      break;
    }
    await cancelled;
    assert.equal([...watchers].filter((c) => c.request.service === 'a.Svc').length, 0);
  });
});

describe('health client against a grpc-js server without Watch', () => {
  let js: Awaited<ReturnType<typeof startJsHealth>>;
  let channel: Channel;
  before(async () => {
    // Only Check is registered, so grpc-js answers Watch (and List) UNIMPLEMENTED.
    js = await startJsHealth(
      { Check: (_call: unknown, callback: grpc.sendUnaryData<{ status: Status }>) => callback(null, { status: 'SERVING' }) },
      { Check: healthDefinition['Check']! },
    );
    channel = insecureChannel(`127.0.0.1:${js.port}`);
  });
  after(async () => {
    channel.close();
    await js.close();
  });

  it('watchHealth throws UNIMPLEMENTED without retrying, so the caller can treat the server as healthy (gRFC A17)', async () => {
    const watch = watchHealth(channel, '', { backoff: { initialMs: 1 } })[Symbol.asyncIterator]();
    await assert.rejects(watch.next(), (err: unknown) => err instanceof RpcError && err.code === StatusCode.UNIMPLEMENTED);
    assert.deepEqual(await watch.next(), { done: true, value: undefined });
    assert.equal(await checkHealth(channel, '', { timeout: 5 }), ServingStatus.SERVING);
  });

  it('listHealth rejects with UNIMPLEMENTED', async () => {
    await assert.rejects(listHealth(channel, { timeout: 5 }), (err: unknown) => err instanceof RpcError && err.code === StatusCode.UNIMPLEMENTED);
  });
});

describe('watchHealth retries per health.proto and gRFC A17', () => {
  it('retries a Watch that fails with exponential backoff, yielding UNKNOWN once while it is down', async () => {
    const arrivals: number[] = [];
    const js = await startJsHealth({
      Watch(call: WatchCall) {
        arrivals.push(performance.now());
        if (arrivals.length < 5) call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'not yet' });
        else call.write({ status: 'SERVING' });
      },
    });
    const channel = insecureChannel(`127.0.0.1:${js.port}`);
    try {
      const seen: ServingStatus[] = [];
      const backoff = { initialMs: 100, multiplier: 2, jitter: 0, maxMs: 300 };
      for await (const status of watchHealth(channel, '', { backoff, signal: AbortSignal.timeout(10_000) })) {
        seen.push(status);
        if (status === ServingStatus.SERVING) break;
      }
      assert.deepEqual(seen, [ServingStatus.UNKNOWN, ServingStatus.SERVING]);
      const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]!);
      // 100, 200, then capped at 300: each wait at least its backoff, and the capped ones short of 600.
      assert.equal(gaps.length, 4);
      for (const [i, least] of [100, 200, 300, 300].entries()) assert.ok(gaps[i]! >= least - 5, `gap ${i} was ${gaps[i]} ms, want >= ${least}`);
      assert.ok(gaps[3]! < 600, `the capped gap was ${gaps[3]} ms`);
    } finally {
      channel.close();
      await js.close();
    }
  });

  it('retries at once after a call that delivered a message, and with the initial backoff after that', async () => {
    const arrivals: number[] = [];
    const js = await startJsHealth({
      Watch(call: WatchCall) {
        arrivals.push(performance.now());
        // 1: a message, then the call ends OK (to be retried too); 2: fails with no message; 3: stays.
        if (arrivals.length === 1) {
          call.write({ status: 'SERVING' });
          call.end();
        } else if (arrivals.length === 2) call.emit('error', { code: grpc.status.INTERNAL, details: 'broken' });
        else call.write({ status: 'NOT_SERVING' });
      },
    });
    const channel = insecureChannel(`127.0.0.1:${js.port}`);
    try {
      const seen: ServingStatus[] = [];
      const backoff = { initialMs: 400, multiplier: 10, jitter: 0, maxMs: 4000 };
      for await (const status of watchHealth(channel, '', { backoff, signal: AbortSignal.timeout(10_000) })) {
        seen.push(status);
        if (status === ServingStatus.NOT_SERVING) break;
      }
      assert.deepEqual(seen, [ServingStatus.SERVING, ServingStatus.UNKNOWN, ServingStatus.NOT_SERVING]);
      assert.ok(arrivals[1]! - arrivals[0]! < 400, `the retry after a message waited ${arrivals[1]! - arrivals[0]!} ms`);
      assert.ok(arrivals[2]! - arrivals[1]! >= 395, `the retry after a failure waited ${arrivals[2]! - arrivals[1]!} ms`);
      assert.ok(arrivals[2]! - arrivals[1]! < 4000, 'the backoff was not reset by the message');
    } finally {
      channel.close();
      await js.close();
    }
  });

  it('rejects a backoff it cannot use with a RangeError at once', () => {
    const channel = insecureChannel('127.0.0.1:1');
    try {
      assert.throws(() => watchHealth(channel, '', { backoff: { initialMs: 0 } }), RangeError);
      assert.throws(() => watchHealth(channel, '', { backoff: { jitter: 1 } }), RangeError);
      assert.throws(() => watchHealth(channel, '', { backoff: { initialMs: 10, maxMs: 5 } }), RangeError);
    } finally {
      channel.close();
    }
  });
});

describe('watchHealth across a server restart, and cancellation', () => {
  async function startOurs(port: number, status: ServingStatus): Promise<{ srv: Server; port: number }> {
    const srv = server();
    const health = new HealthServicer();
    health.set('demo.Svc', status);
    addHealthServicer(srv, health);
    const bound = await srv.addInsecurePort(`127.0.0.1:${port}`);
    await srv.start();
    return { srv, port: bound };
  }

  it('reconnects after the server restarts on the same port and goes on yielding', async () => {
    const first = await startOurs(0, ServingStatus.SERVING);
    let second: Server | undefined;
    const channel = insecureChannel(`127.0.0.1:${first.port}`);
    try {
      const seen: ServingStatus[] = [];
      const backoff = { initialMs: 50, multiplier: 1.6, jitter: 0.2, maxMs: 200 };
      for await (const status of watchHealth(channel, 'demo.Svc', { backoff, signal: AbortSignal.timeout(10_000) })) {
        seen.push(status);
        if (seen.length === 1) await first.srv.stop(null);
        else if (seen.length === 2) second = (await startOurs(first.port, ServingStatus.NOT_SERVING)).srv;
        else break;
      }
      assert.deepEqual(seen, [ServingStatus.SERVING, ServingStatus.UNKNOWN, ServingStatus.NOT_SERVING]);
    } finally {
      channel.close();
      await second?.stop(null);
    }
  });

  it('an abort during a watch ends the iterable at once, cancelling the call', async () => {
    const ours = await startOurs(0, ServingStatus.SERVING);
    const channel = insecureChannel(`127.0.0.1:${ours.port}`);
    try {
      const stop = new AbortController();
      const watch = watchHealth(channel, 'demo.Svc', { signal: stop.signal })[Symbol.asyncIterator]();
      assert.deepEqual(await watch.next(), { done: false, value: ServingStatus.SERVING });
      const pending = watch.next();
      stop.abort();
      const started = performance.now();
      assert.deepEqual(await pending, { done: true, value: undefined });
      assert.ok(performance.now() - started < 1000);
    } finally {
      channel.close();
      await ours.srv.stop(null);
    }
  });

  it('an abort during the backoff wait ends the iterable at once and clears the timer', async () => {
    // Nothing listens on this port once the server is gone, so every attempt fails UNAVAILABLE.
    const ours = await startOurs(0, ServingStatus.SERVING);
    await ours.srv.stop(null);
    const channel = insecureChannel(`127.0.0.1:${ours.port}`);
    try {
      const stop = new AbortController();
      const watch = watchHealth(channel, '', { signal: stop.signal, backoff: { initialMs: 60_000, maxMs: 60_000 } })[Symbol.asyncIterator]();
      assert.deepEqual(await watch.next(), { done: false, value: ServingStatus.UNKNOWN });
      const before = activeTimers();
      const pending = watch.next(); // resumes the loop into its 60 s backoff wait
      assert.equal(activeTimers(), before + 1, 'the backoff timer is running');
      stop.abort();
      const started = performance.now();
      assert.deepEqual(await pending, { done: true, value: undefined });
      assert.ok(performance.now() - started < 1000);
      assert.equal(activeTimers(), before, 'no timer is left behind');
    } finally {
      channel.close();
    }
  });
});
