import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BroadcastChannel, threadId } from 'node:worker_threads';
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { inProcessChannel, RpcError, server, StatusCode, unaryUnaryRpcMethodHandler, type AnyRpcMethodHandler, type Server, type ServerInterceptor } from '../../lib/index.js';
import { decode, defer, encode, jsClient, sleep, type JsClient, type Kind } from '../helpers/grpc.js';
import { frame, grpcHeaders, rawRequest, statusOf } from '../helpers/raw.js';
import { REPORTS, schedulingPolicy } from './fixtures/thread-pool-handlers.js';

const HANDLERS = new URL('./fixtures/thread-pool-handlers.mjs', import.meta.url);
const METHODS: Record<string, Kind> = {
  Echo: 'unary', EchoAsync: 'unary', Thread: 'unary', Count: 'serverStream', Join: 'clientStream', Bidi: 'bidi', Context: 'unary',
  SetCode: 'unary', Abort: 'unary', AbortWithStatus: 'unary', Throw: 'unary', Spin: 'unary', Burn: 'unary', Sleep: 'unary', Crash: 'unary',
  Produce: 'serverStream', TakeOne: 'clientStream', Mark: 'unary', Callback: 'unary', Meet: 'unary', Nice: 'unary', Policy: 'unary', CrashLater: 'unary',
};

/** Messages the fixture's handlers post from inside their worker. */
class Reports {
  readonly #channel = new BroadcastChannel(REPORTS);
  readonly #seen: Array<Record<string, unknown>> = [];
  readonly #waiters: Array<{ match: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void }> = [];

  constructor() {
    this.#channel.onmessage = (event) => {
      const m = (event as MessageEvent).data as Record<string, unknown>;
      this.#seen.push(m);
      for (const w of this.#waiters.splice(0)) {
        if (w.match(m)) w.resolve(m);
        else this.#waiters.push(w);
      }
    };
  }

  /** The first report (already seen or still to come) that `match`es. */
  next(match: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const seen = this.#seen.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  all(match: (m: Record<string, unknown>) => boolean): Array<Record<string, unknown>> {
    return this.#seen.filter(match);
  }

  close(): void {
    this.#channel.close();
  }
}

interface Started {
  srv: Server;
  port: number;
  client: JsClient;
  errors: Array<{ error: unknown; method: string }>;
  close(): Promise<void>;
}

async function start(options: Parameters<Server['addWorkerHandlers']>[1] = { maxWorkers: 2 }, config: Parameters<typeof server>[0] = {}, channel: grpc.ChannelOptions = {}): Promise<Started> {
  const errors: Array<{ error: unknown; method: string }> = [];
  const srv = server({ onHandlerError: (error, method) => errors.push({ error, method }), ...config });
  await srv.addWorkerHandlers(HANDLERS, options);
  const port = await srv.addInsecurePort('127.0.0.1:0');
  await srv.start();
  const client = jsClient(`127.0.0.1:${port}`, METHODS, channel, 'test.Worker');
  return {
    srv,
    port,
    client,
    errors,
    close: async () => {
      client.close();
      await srv.stop(null);
    },
  };
}

describe('worker thread pool (addWorkerHandlers)', () => {
  let s: Started;
  let reports: Reports;
  before(async () => {
    reports = new Reports();
    s = await start();
  });
  after(async () => {
    await s.close();
    reports.close();
  });

  it('serves all four kinds from the module, each in a worker thread', async () => {
    const unary = await s.client.unary('Echo', 'hi');
    assert.equal(unary.value, 'echo:hi:worker');
    assert.equal((await s.client.unary('EchoAsync', 'a')).value, 'async:a:worker');
    const stream = await s.client.serverStream('Count', '3');
    assert.deepEqual(stream.value, ['n0', 'n1', 'n2']);
    assert.equal(stream.status?.code, StatusCode.OK);
    assert.equal((await s.client.clientStream('Join', ['a', 'b', 'c'])).value, 'a+b+c:worker');
    const bidi = await s.client.bidi('Bidi', ['x', 'y']);
    assert.deepEqual(bidi.value, ['re:x', 're:y']);
    const thread = Number((await s.client.unary('Thread', '')).value);
    assert.notEqual(thread, threadId);
  });

  it('serves a service given as a definition and implementation, and lists its services', async () => {
    const client = jsClient(`127.0.0.1:${s.port}`, { Kinds: 'unary' }, {}, 'test.Defined');
    try {
      assert.equal((await client.unary('Kinds', 'k')).value, 'defined:k:worker');
    } finally {
      client.close();
    }
    assert.deepEqual([...s.srv.registeredServices().keys()].sort(), ['test.Defined', 'test.Worker']);
  });

  it('runs calls in parallel on different workers', async () => {
    const [a, b] = await Promise.all([s.client.unary('Burn', '150'), s.client.unary('Burn', '150')]);
    assert.equal(a.value, 'burnt:150');
    assert.equal(b.value, 'burnt:150');
    // Each call waits to hear from the other one: they meet only if two workers run them at once.
    const met = await Promise.all([s.client.unary('Meet', 'parallel'), s.client.unary('Meet', 'parallel')]);
    const [x, y] = met.map((r) => /^(\d+) met (\d+)$/.exec(String(r.value)) ?? undefined);
    assert.ok(x !== undefined && y !== undefined, `both calls met another: ${met.map((r) => String(r.value)).join(', ')}`);
    assert.equal(x[1], y[2]);
    assert.equal(y[1], x[2]);
    assert.notEqual(x[1], x[2]);
    assert.notEqual(x[1], String(threadId));
  });

  it('gives the worker the context: metadata, peer, deadline, timeRemaining, isActive, signal, auth facts; headers once', async () => {
    const md = new grpc.Metadata();
    md.set('x-test', 'hello');
    const deadline = Date.now() + 30_000;
    const r = await s.client.unary('Context', 'c', md, { deadline });
    assert.equal(r.status?.code, StatusCode.OK, r.status?.details);
    const seen = JSON.parse(r.value!) as Record<string, unknown>;
    assert.equal(seen.metadata, 'hello');
    assert.match(String(seen.peer), /^ipv4:127\.0\.0\.1:\d+$/);
    assert.equal(seen.method, '/test.Worker/Context');
    assert.ok(Math.abs(Number(seen.deadline) - deadline) < 1000);
    assert.ok(Number(seen.timeRemaining) > 20 && Number(seen.timeRemaining) <= 30);
    assert.equal(seen.active, true);
    assert.equal(seen.aborted, false);
    assert.equal(seen.identityKey, null);
    assert.equal(seen.identities, null);
    assert.ok((seen.auth as string[]).includes('transport_security_type'));
    assert.equal(seen.secondHeaders, 'Cannot send initial metadata: it was already sent');
    assert.deepEqual(r.metadata?.get('x-initial'), ['from-worker']);
    assert.deepEqual(r.status?.metadata.get('x-trailer'), ['from-worker']);
    assert.deepEqual(r.status?.metadata.get('x-bin-bin'), [Buffer.from([1, 2, 3])]);
  });

  it('setCompression in the worker compresses the response on the wire', async () => {
    const r = await rawRequest(`127.0.0.1:${s.port}`, grpcHeaders('/test.Worker/Compressed', { 'grpc-accept-encoding': 'gzip' }), frame('z'));
    assert.equal(statusOf(r).code, StatusCode.OK);
    assert.equal(r.headers['grpc-encoding'], 'gzip');
    assert.equal(r.messages.length, 1);
    assert.equal(r.messages[0]!.compressed, true);
    assert.equal(gunzipSync(r.messages[0]!.payload).toString(), 'compressed:z');
  });

  it('sends setCode, setDetails and trailers from the worker, dropping the response', async () => {
    const r = await s.client.unary('SetCode', '');
    assert.equal(r.status?.code, StatusCode.NOT_FOUND);
    assert.equal(r.status?.details, 'Cannot find it: not here');
    assert.deepEqual(r.status?.metadata.get('x-why'), ['set-code']);
    assert.equal(r.value, undefined);
  });

  it('ends the call with the code of abort and abortWithStatus in the worker', async () => {
    const r = await s.client.unary('Abort', '');
    assert.equal(r.status?.code, StatusCode.PERMISSION_DENIED);
    assert.equal(r.status?.details, 'Cannot do it: not allowed');
    assert.deepEqual(r.status?.metadata.get('x-why'), ['abort']);
    const w = await s.client.unary('AbortWithStatus', '');
    assert.equal(w.status?.code, StatusCode.FAILED_PRECONDITION);
    assert.equal(w.status?.details, 'Cannot go on: not ready');
  });

  it('runs addCallback in the worker once the call has ended', async () => {
    const ran = reports.next((m) => m.id === 'cb' && m.callback === true);
    const r = await s.client.unary('Callback', 'cb');
    assert.equal(r.value, 'true');
    assert.equal((await ran).activeThen, false);
  });

  it('answers UNKNOWN for a handler that throws, and reports the error on the main thread', async () => {
    const before = s.errors.length;
    const r = await s.client.unary('Throw', '');
    assert.equal(r.status?.code, StatusCode.UNKNOWN);
    assert.doesNotMatch(r.status?.details ?? '', /boom/);
    const reported = s.errors.slice(before);
    assert.equal(reported.length, 1);
    assert.equal(reported[0]!.method, '/test.Worker/Throw');
    assert.match((reported[0]!.error as Error).message, /boom in a worker/);
  });

  it('a client cancel reaches a CPU-bound handler mid computation: its signal aborts and it stops', async () => {
    const started = reports.next((m) => m.id === 'cancel-me' && m.started === true);
    const stopped = reports.next((m) => m.id === 'cancel-me' && m.stopped === true);
    const status = defer<grpc.StatusObject>();
    const call = s.client.raw.Spin!('cancel-me', new grpc.Metadata(), {}, () => undefined) as grpc.ClientUnaryCall;
    call.on('status', (st: grpc.StatusObject) => status.resolve(st));
    await started;
    call.cancel();
    assert.equal((await status).code, StatusCode.CANCELLED);
    assert.equal((await stopped).code, StatusCode.CANCELLED);
  });

  it('a deadline reaches a CPU-bound handler mid computation: its signal aborts with DEADLINE_EXCEEDED', async () => {
    const stopped = reports.next((m) => m.id === 'deadline' && m.stopped === true);
    // A raw HTTP/2 client: it has no deadline timer of its own to cancel first, so the server's fires.
    const r = await rawRequest(`127.0.0.1:${s.port}`, grpcHeaders('/test.Worker/Spin', { 'grpc-timeout': '300m' }), frame('deadline'));
    assert.equal(statusOf(r).code, StatusCode.DEADLINE_EXCEEDED);
    assert.equal((await stopped).code, StatusCode.DEADLINE_EXCEEDED);
  });

  it('carries a 4 MiB message intact both ways', async () => {
    const big = randomBytes(3 * 1024 * 1024).toString('base64').slice(0, 4 * 1024 * 1024);
    const local = await start({ maxWorkers: 1 }, { options: { 'grpc.max_receive_message_length': 8 << 20, 'grpc.max_send_message_length': 8 << 20 } }, { 'grpc.max_receive_message_length': 8 << 20, 'grpc.max_send_message_length': 8 << 20 });
    try {
      const r = await local.client.bidi('Bidi', [big]);
      assert.equal(r.status?.code, StatusCode.OK, r.status?.details);
      assert.equal(r.value?.length, 1);
      const sha = (t: string): string => createHash('sha256').update(t).digest('hex');
      assert.equal(sha(r.value![0]!), sha(`re:${big}`));
      assert.equal(Buffer.byteLength(big), 4 * 1024 * 1024);
    } finally {
      await local.close();
    }
  });

  it('outbound backpressure: a client that does not read pauses the worker generator', async () => {
    const session = http2.connect(`http://127.0.0.1:${s.port}`);
    session.on('error', () => undefined);
    const stream = session.request(grpcHeaders('/test.Worker/Produce'));
    stream.on('error', () => undefined);
    stream.pause(); // the client reads nothing
    stream.end(frame('slow-reader'));
    await reports.next((m) => m.id === 'slow-reader' && m.produced === 1);
    const produced = (): number => Math.max(...reports.all((m) => m.id === 'slow-reader').map((m) => Number(m.produced)));
    // Bounded checks that nothing more happens: the HTTP/2 window, the stream buffer and the
    // port's window fill, then the worker's `yield` waits.
    await sleep(300);
    const plateau = produced();
    await sleep(300);
    assert.equal(produced(), plateau, 'no yield returns in the worker while the client is not reading');
    assert.ok(plateau < 64, `the worker produced ${plateau} messages of 64 KiB for a client that reads none`);
    stream.resume();
    await reports.next((m) => m.id === 'slow-reader' && Number(m.produced) > plateau + 100);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    session.destroy();
  });

  it('inbound backpressure: a worker that does not read pauses the client', async () => {
    const chunk = 'y'.repeat(64 * 1024);
    let written = 0;
    const call = s.client.openClientStream('TakeOne', () => undefined);
    call.on('error', () => undefined);
    const firstRead = reports.next((m) => m.id === 'take-one');
    const pump = (): void => {
      while (written < 400) {
        written++;
        if (!call.write(chunk)) {
          call.once('drain', pump);
          return;
        }
      }
    };
    pump();
    await firstRead;
    await sleep(500);
    assert.ok(written < 400, `the client wrote all ${written} messages to a handler that reads one`);
    const ended = defer<grpc.ServiceError | null>();
    call.on('status', () => ended.resolve(null));
    call.cancel();
    await ended;
  });
});

describe('worker thread pool over an in-process channel', () => {
  it('serves a unary and a bidi call from a worker to our client, with no socket', async () => {
    const srv = server({ onHandlerError: () => undefined });
    await srv.addWorkerHandlers(HANDLERS, { maxWorkers: 1 });
    await srv.start();
    const channel = inProcessChannel(srv);
    try {
      assert.equal(await channel.unaryUnary('/test.Worker/Echo', encode, decode)('in'), 'echo:in:worker');
      const responses: string[] = [];
      for await (const r of channel.streamStream('/test.Worker/Bidi', encode, decode)(['a', 'b'])) responses.push(r);
      assert.deepEqual(responses, ['re:a', 're:b']);
    } finally {
      channel.close();
      await srv.stop(null);
    }
  });

  it('answers INTERNAL to a channel that passes values (serialize: false): values cannot cross threads', async () => {
    const srv = server({ onHandlerError: () => undefined });
    await srv.addWorkerHandlers(HANDLERS, { maxWorkers: 1 });
    await srv.start();
    const channel = inProcessChannel(srv, { serialize: false });
    try {
      await assert.rejects(channel.unaryUnary('/test.Worker/Echo')(encode('v')), (err: unknown) => {
        assert.ok(err instanceof RpcError);
        assert.equal(err.code, StatusCode.INTERNAL);
        assert.match(err.details, /passes values, not bytes/);
        return true;
      });
    } finally {
      channel.close();
      await srv.stop(null);
    }
  });
});

describe('worker thread pool with server interceptors', () => {
  const tokenCheck: ServerInterceptor = {
    interceptService(continuation, details) {
      if (details.invocationMetadata.get('x-token') !== 'open sesame') throw new RpcError(StatusCode.UNAUTHENTICATED, 'Cannot call: no token');
      return continuation(details);
    },
  };
  const wrapper: ServerInterceptor = {
    interceptService(continuation, details) {
      const handler = continuation(details) as AnyRpcMethodHandler | null;
      if (details.method !== '/test.Worker/Echo' || handler === null) return handler;
      return unaryUnaryRpcMethodHandler((request: never, context) => (handler.unaryUnary as (r: never, c: typeof context) => unknown)(request, context));
    },
  };

  it('interceptService runs on the main thread before a worker method: a refusing one refuses, a passing one lets the worker answer', async () => {
    const s = await start({ maxWorkers: 1 }, { interceptors: [tokenCheck] });
    try {
      const refused = await s.client.unary('Echo', 'x');
      assert.equal(refused.status?.code, StatusCode.UNAUTHENTICATED);
      const md = new grpc.Metadata();
      md.set('x-token', 'open sesame');
      assert.equal((await s.client.unary('Echo', 'x', md)).value, 'echo:x:worker');
      assert.deepEqual((await s.client.bidi('Bidi', ['a'], md)).value, ['re:a']);
    } finally {
      await s.close();
    }
  });

  it('an interceptor that wraps a worker method in a handler of its own ends the call INTERNAL, saying why', async () => {
    const s = await start({ maxWorkers: 1 }, { interceptors: [wrapper] });
    try {
      const r = await s.client.unary('Echo', 'x');
      assert.equal(r.status?.code, StatusCode.INTERNAL);
      assert.match(String((s.errors[0]?.error as Error | undefined)?.message), /served by a worker thread/);
      assert.equal((await s.client.unary('EchoAsync', 'y')).value, 'async:y:worker');
    } finally {
      await s.close();
    }
  });
});

describe('worker thread pool: failures and limits', () => {
  it('a worker that exits ends its call INTERNAL, is replaced, and other calls go on', async () => {
    const s = await start({ maxWorkers: 2 });
    try {
      const slow = s.client.unary('Burn', '300');
      const crashed = await s.client.unary('Crash', '');
      assert.equal(crashed.status?.code, StatusCode.INTERNAL);
      assert.equal(crashed.status?.details, 'Cannot finish call: the worker thread running its handler exited');
      assert.equal((await slow).value, 'burnt:300');
      assert.equal((await s.client.unary('Echo', 'after')).value, 'echo:after:worker');
      assert.ok(s.errors.some((e) => e.method === '/test.Worker/Crash'));
    } finally {
      await s.close();
    }
  });

  it('answers RESOURCE_EXHAUSTED past maxQueued waiting calls', async () => {
    const s = await start({ maxWorkers: 1, maxQueued: 1 });
    try {
      const calls = [0, 1, 2, 3].map(() => s.client.unary('Sleep', '300'));
      const codes = (await Promise.all(calls)).map((r) => r.status?.code);
      assert.equal(codes.filter((c) => c === StatusCode.OK).length, 2);
      assert.equal(codes.filter((c) => c === StatusCode.RESOURCE_EXHAUSTED).length, 2);
    } finally {
      await s.close();
    }
  });

  it('a call whose deadline passes while it waits for a worker never runs its handler', async () => {
    const reports = new Reports();
    const s = await start({ maxWorkers: 1 });
    try {
      // Behind a handler that awaits (the worker holds the call sent ahead) and behind one that
      // never yields (its START waits in the worker's channel): either way it is taken back.
      for (const [method, answer] of [['Sleep', 'slept'], ['Burn', 'burnt:400']] as const) {
        const busy = s.client.unary(method, '400');
        await sleep(50);
        const expired = await s.client.unary('Spin', `behind-${method}`, new grpc.Metadata(), { deadline: Date.now() + 100 });
        assert.equal(expired.status?.code, StatusCode.DEADLINE_EXCEEDED, method);
        assert.equal((await busy).value, answer);
        // The one worker takes calls in order: once the next call has run, the expired one was passed over.
        await s.client.unary('Mark', `after-${method}`);
        await reports.next((m) => m.id === `after-${method}`);
        assert.deepEqual(reports.all((m) => m.id === `behind-${method}`), [], method);
      }
    } finally {
      await s.close();
      reports.close();
    }
  });

  it('runs each call exactly once while calls are sent ahead, taken back and cancelled at once', async () => {
    const reports = new Reports();
    const s = await start({ maxWorkers: 2 });
    try {
      const calls: Array<Promise<{ id: string; expires: boolean; code: StatusCode | undefined }>> = [];
      for (let i = 0; i < 120; i++) {
        const id = `race-${i}`;
        // Every third call has a deadline that passes about when its turn comes.
        const expires = i % 3 === 2;
        const options = expires ? { deadline: Date.now() + 5 + (i % 20) } : {};
        if (i % 4 === 0) calls.push(s.client.unary('Burn', '3').then((r) => ({ id: 'burn', expires: false, code: r.status?.code })));
        calls.push(s.client.unary('Mark', id, new grpc.Metadata(), options).then((r) => ({ id, expires, code: r.status?.code })));
      }
      const ended = await Promise.all(calls);
      await s.client.unary('Mark', 'race-end');
      await reports.next((m) => m.id === 'race-end');
      for (const { id, expires, code } of ended) {
        if (!expires) assert.equal(code, StatusCode.OK, id);
        else assert.ok(code === StatusCode.OK || code === StatusCode.DEADLINE_EXCEEDED, `${id}: ${String(code)}`);
        if (id === 'burn') continue;
        const runs = reports.all((m) => m.id === id).length;
        // A call that ran sent its answer, unless its deadline passed while it ran.
        if (code === StatusCode.OK) assert.equal(runs, 1, `${id} ran ${runs} times`);
        else assert.ok(runs <= 1, `${id} ran ${runs} times`);
      }
    } finally {
      await s.close();
      reports.close();
    }
  });

  it('takes queued calls in order of arrival', async () => {
    const reports = new Reports();
    const s = await start({ maxWorkers: 1 });
    try {
      const busy = s.client.unary('Sleep', '200');
      const ids = ['order-1', 'order-2', 'order-3', 'order-4'];
      const calls: Array<ReturnType<JsClient['unary']>> = [];
      for (const id of ids) {
        calls.push(s.client.unary('Mark', id));
        await sleep(20);
      }
      await Promise.all([busy, ...calls]);
      await reports.next((m) => m.id === 'order-4');
      assert.deepEqual(reports.all((m) => typeof m.id === 'string' && m.id.startsWith('order-')).map((m) => m.id), ids);
    } finally {
      await s.close();
      reports.close();
    }
  });

  it('a call cancelled while it waits gives its place in the queue back at once', async () => {
    const s = await start({ maxWorkers: 1, maxQueued: 1 });
    try {
      const busy = s.client.unary('Sleep', '600');
      const expired = await s.client.unary('Mark', 'expired', new grpc.Metadata(), { deadline: Date.now() + 100 });
      assert.equal(expired.status?.code, StatusCode.DEADLINE_EXCEEDED);
      // The worker is still busy: the new call takes the freed place in the queue instead of being refused.
      const next = s.client.unary('Echo', 'next');
      const [b, n] = await Promise.all([busy, next]);
      assert.equal(b.value, 'slept');
      assert.equal(n.value, 'echo:next:worker');
    } finally {
      await s.close();
    }
  });

  it('starts workers as calls need them, up to maxWorkers, and lets idle ones beyond minWorkers exit', async () => {
    const s = await start({ maxWorkers: 2, minWorkers: 1, idleTimeoutMs: 150 });
    try {
      const thread = async (): Promise<string> => String((await s.client.unary('Thread', '')).value);
      const first = await thread();
      // Two at once: the second starts a worker of its own.
      const met = await Promise.all([s.client.unary('Meet', 'grow'), s.client.unary('Meet', 'grow')]);
      const pair = met.map((r) => /^(\d+) met (\d+)$/.exec(String(r.value))?.[1]);
      assert.ok(pair.every((t) => t !== undefined), `both calls met: ${met.map((r) => String(r.value)).join(', ')}`);
      assert.ok(pair.includes(first), 'the first worker took one of them');
      assert.notEqual(pair[0], pair[1]);
      await sleep(500);
      // One of the two has exited (idle beyond minWorkers: 1); the other is kept and answers.
      const later = new Set(await Promise.all([thread(), thread(), thread()]));
      assert.equal(pair.filter((t) => later.has(t!)).length, 1, `one of ${pair.join(', ')} is left: ${[...later].join(', ')}`);
    } finally {
      await s.close();
    }
  });

  it('a waiting call goes to the first worker that is free, even beside a CPU-bound call that never yields', async () => {
    const s = await start({ maxWorkers: 2, minWorkers: 1 });
    try {
      const t0 = performance.now();
      const long = s.client.unary('Burn', '1500').then((r) => ({ r, at: performance.now() - t0 }));
      await sleep(50);
      // Starts the second worker and keeps it busy a little while.
      const short = s.client.unary('Burn', '300');
      await sleep(50);
      const queued = s.client.unary('Echo', 'behind').then((r) => ({ r, at: performance.now() - t0 }));
      const [l, q] = await Promise.all([long, queued]);
      assert.equal((await short).value, 'burnt:300');
      assert.equal(q.r.value, 'echo:behind:worker');
      assert.equal(l.r.value, 'burnt:1500');
      assert.ok(q.at < l.at - 500, `the waiting call ended at ${q.at.toFixed(0)} ms, the long one at ${l.at.toFixed(0)} ms`);
    } finally {
      await s.close();
    }
  });

  it('a call sent ahead to a worker in a long call is taken back by the worker that is free first', async () => {
    const s = await start({ maxWorkers: 2, minWorkers: 2 });
    try {
      // Both workers are up: two calls that only end once they have run at the same time.
      assert.deepEqual((await Promise.all([s.client.unary('Meet', 'up'), s.client.unary('Meet', 'up')])).map((r) => /met/.test(String(r.value))), [true, true]);
      const t0 = performance.now();
      const long = s.client.unary('Burn', '1500').then((r) => ({ r, at: performance.now() - t0 }));
      const short = s.client.unary('Burn', '300');
      await sleep(50);
      // Both workers are busy: each of these is sent ahead to one of them, and the one sent to
      // the worker in the long call is taken back by the other worker once it is free.
      const behind = ['behind-1', 'behind-2'].map((id) => s.client.unary('Echo', id).then((r) => ({ r, at: performance.now() - t0 })));
      const [l, ...q] = await Promise.all([long, ...behind]);
      assert.equal((await short).value, 'burnt:300');
      assert.deepEqual(q.map((c) => c.r.value), ['echo:behind-1:worker', 'echo:behind-2:worker']);
      assert.equal(l!.r.value, 'burnt:1500');
      for (const c of q) assert.ok(c.at < l!.at - 500, `a waiting call ended at ${c.at.toFixed(0)} ms, the long one at ${l!.at.toFixed(0)} ms`);
    } finally {
      await s.close();
    }
  });

  it('a worker that crashes while idle is reported and replaced after a growing pause, not in a tight loop', async () => {
    const loads = new BroadcastChannel('thread-pool-crashing-module');
    const at: number[] = [];
    loads.onmessage = () => at.push(performance.now());
    const errors: unknown[] = [];
    const srv = server({ onHandlerError: (error) => errors.push(error) });
    try {
      await srv.addWorkerHandlers(new URL('./fixtures/thread-pool-crashing-module.mjs', import.meta.url), { maxWorkers: 1, minWorkers: 1 });
      await srv.start();
      while (at.length < 4) await sleep(50);
      assert.ok(errors.some((e) => e instanceof Error && e.message === 'the module crashed its worker'), 'the crash was reported');
      // Each worker loads and crashes alike; the pauses before its replacement double (100, 200,
      // 400 ms), so the time between loads grows by ~300 ms from the first gap to the third.
      const gaps = [at[1]! - at[0]!, at[2]! - at[1]!, at[3]! - at[2]!];
      assert.ok(gaps[2]! > gaps[0]! + 150, `gaps between worker loads: ${gaps.map((g) => g.toFixed(0)).join(', ')} ms`);
    } finally {
      await srv.stop(null);
      loads.close();
    }
  });

  it('a call waiting for the only worker, which then exits, is run by its replacement', async () => {
    const s = await start({ maxWorkers: 1 });
    try {
      const crashing = s.client.unary('CrashLater', '200');
      await sleep(50);
      const next = s.client.unary('Echo', 'survivor');
      assert.equal((await crashing).status?.code, StatusCode.INTERNAL);
      assert.equal((await next).value, 'echo:survivor:worker');
    } finally {
      await s.close();
    }
  });

  it('a worker started later whose module no longer loads is reported once; the calls go to the workers that have it, and new workers start only after a growing pause', async () => {
    const errors: Array<{ error: unknown; method: string }> = [];
    const srv = server({ onHandlerError: (error, method) => errors.push({ error, method }) });
    const module = new URL('./fixtures/thread-pool-failing-later-module.mjs', import.meta.url);
    await srv.addWorkerHandlers(module, { maxWorkers: 4, minWorkers: 1 });
    const port = await srv.addInsecurePort('127.0.0.1:0');
    await srv.start();
    const client = jsClient(`127.0.0.1:${port}`, METHODS, {}, 'test.Worker');
    const reports = new Reports();
    const loadErrors = (): Array<{ error: unknown; method: string }> => errors.filter(({ error }) => error instanceof Error && error.message === 'the handler module no longer loads');
    try {
      assert.equal((await client.unary('Echo', 'first')).value, 'echo:first:worker');
      process.env.THREAD_POOL_FAIL_LOAD = '1';
      // Two calls at a time for 2 s: each second call finds the one worker busy and asks for
      // another, which fails to load. The first worker runs every call.
      const until = performance.now() + 2000;
      const values: unknown[] = [];
      const lane = async (): Promise<void> => {
        while (performance.now() < until) values.push((await client.unary('Sleep', '20')).value);
      };
      await Promise.all([lane(), lane()]);
      assert.ok(values.length > 20, `${values.length} calls ran`);
      assert.deepEqual(new Set(values), new Set(['slept']));
      assert.equal(loadErrors().length, 1, `reported: ${errors.map(({ error }) => String(error)).join('; ')}`);
      assert.equal(loadErrors()[0]!.method, module.href);
      // Pauses of 0.1, 0.2, 0.4, 0.8 s fit in 2 s: about five workers tried, not one per call.
      const tried = reports.all((m) => m.id === 'load-failed').length;
      assert.ok(tried >= 2 && tried <= 6, `${tried} workers tried to load the module`);
      // Once the module loads again, the pool grows again: two calls run side by side. The pause
      // then left is at most 3.2 s, and a worker's start under tsx can take most of a second on a
      // busy machine, so this tries for a while rather than timing one pair of calls.
      delete process.env.THREAD_POOL_FAIL_LOAD;
      const together = (v: unknown): boolean => /^\d+ met \d+$/.test(String(v));
      let met: unknown[];
      const giveUpAt = performance.now() + 10_000;
      for (let round = 0; ; round++) {
        met = (await Promise.all([client.unary('Meet', `again-${round}`), client.unary('Meet', `again-${round}`)])).map((r) => r.value);
        if (met.every(together) || performance.now() > giveUpAt) break;
      }
      assert.ok(met.every(together), `the last two calls said ${met.join(', ')}`);
      assert.equal(loadErrors().length, 1, 'no more failures reported');
    } finally {
      delete process.env.THREAD_POOL_FAIL_LOAD;
      reports.close();
      client.close();
      await srv.stop(null);
    }
  });

  it('with no worker left that loads the module, a call ends INTERNAL at once until the pause after the failure is over', async () => {
    const srv = server({ onHandlerError: () => undefined });
    await srv.addWorkerHandlers(new URL('./fixtures/thread-pool-failing-later-module.mjs', import.meta.url), { maxWorkers: 1 });
    const port = await srv.addInsecurePort('127.0.0.1:0');
    await srv.start();
    const client = jsClient(`127.0.0.1:${port}`, METHODS, {}, 'test.Worker');
    const reports = new Reports();
    const tried = (): number => reports.all((m) => m.id === 'load-failed').length;
    try {
      process.env.THREAD_POOL_FAIL_LOAD = '1';
      // The only worker exits; its replacements cannot load the module. Calls until three have
      // tried: the pause after the third failure is 400 ms.
      assert.equal((await client.unary('Crash', '')).status?.code, StatusCode.INTERNAL);
      let refused: Awaited<ReturnType<JsClient['unary']>> | undefined;
      for (const until = performance.now() + 10_000; performance.now() < until && tried() < 3; await sleep(20)) {
        refused = await client.unary('Echo', 'refused');
      }
      assert.equal(tried(), 3);
      assert.equal(refused?.status?.code, StatusCode.INTERNAL);
      assert.equal(refused?.status?.details, 'Cannot run handler: the worker thread could not load the handler module');
      // Inside the pause: refused without a worker started for it.
      const began = performance.now();
      const again = await client.unary('Echo', 'again');
      const took = performance.now() - began;
      assert.deepEqual(again.status && [again.status.code, again.status.details], [refused.status.code, refused.status.details]);
      assert.ok(took < 150, `refused after ${took.toFixed(0)} ms, not at once`);
      await sleep(50);
      assert.equal(tried(), 3, 'no worker was started for the refused call');
      // After the pause, a call starts a worker again, and this one loads.
      delete process.env.THREAD_POOL_FAIL_LOAD;
      await sleep(1000);
      assert.equal((await client.unary('Echo', 'loads')).value, 'echo:loads:worker');
    } finally {
      delete process.env.THREAD_POOL_FAIL_LOAD;
      reports.close();
      client.close();
      await srv.stop(null);
    }
  });

  it('answers RESOURCE_EXHAUSTED past maximumConcurrentRpcs', async () => {
    const s = await start({ maxWorkers: 2 }, { maximumConcurrentRpcs: 1 });
    try {
      const [a, b] = await Promise.all([s.client.unary('Sleep', '300'), s.client.unary('Sleep', '300')]);
      assert.deepEqual([a.status?.code, b.status?.code].sort(), [StatusCode.OK, StatusCode.RESOURCE_EXHAUSTED].sort());
    } finally {
      await s.close();
    }
  });

  it('stop(grace) lets a call in a worker finish, cancels one past the grace, then ends the pool', async () => {
    const reports = new Reports();
    const s = await start({ maxWorkers: 2 });
    try {
      const started = reports.next((m) => m.id === 'stop-spin' && m.started === true);
      const finishing = s.client.unary('Burn', '200');
      const spinning = s.client.unary('Spin', 'stop-spin');
      await started;
      const stopped = s.srv.stop(0.5);
      assert.equal((await finishing).value, 'burnt:200');
      const spin = await spinning;
      assert.equal(spin.status?.code, StatusCode.UNAVAILABLE);
      const stop = await reports.next((m) => m.id === 'stop-spin' && m.stopped === true);
      assert.equal(stop.code, StatusCode.UNAVAILABLE);
      await stopped;
      assert.equal(await s.srv.waitForTermination(0), true);
    } finally {
      s.client.close();
      await s.srv.stop(null);
      reports.close();
    }
  });

  it('stop(grace) runs a call sent ahead that its turn reaches within the grace; past the grace it never runs', async () => {
    const reports = new Reports();
    try {
      for (const [grace, id, code] of [[2, 'ahead-in-grace', StatusCode.OK], [0.1, 'ahead-past-grace', StatusCode.UNAVAILABLE]] as const) {
        const s = await start({ maxWorkers: 1 });
        try {
          const busy = s.client.unary('Sleep', grace === 2 ? '200' : '1000');
          await sleep(50);
          const ahead = s.client.unary('Mark', id);
          await sleep(50);
          const stopped = s.srv.stop(grace);
          assert.equal((await ahead).status?.code, code, id);
          await busy;
          await stopped;
          if (code === StatusCode.OK) await reports.next((m) => m.id === id);
          else await sleep(100); // any report of the worker, terminated by now, has arrived
          assert.equal(reports.all((m) => m.id === id).length, code === StatusCode.OK ? 1 : 0, id);
        } finally {
          s.client.close();
          await s.srv.stop(null);
        }
      }
    } finally {
      reports.close();
    }
  });

  it('worker threads run below the event loop: niceIncrement 10 by default, as given otherwise (Linux)', { skip: process.platform !== 'linux' && 'a thread has its own nice value on Linux only' }, async () => {
    const base = getPriority(0);
    for (const [options, expected] of [[{}, 10], [{ niceIncrement: 7 }, 7], [{ niceIncrement: 0 }, 0]] as const) {
      const s = await start({ maxWorkers: 1, ...options });
      try {
        assert.equal((await s.client.unary('Nice', '')).value, String(Math.min(19, base + expected)), JSON.stringify(options));
        assert.equal(getPriority(0), base, "the main thread's priority is unchanged");
      } finally {
        await s.close();
      }
    }
  });

  it("schedulingPolicy 'idle' runs the worker threads under SCHED_IDLE; without chrt they keep their nice value, and a warning says why (Linux)", { skip: (process.platform !== 'linux' && 'a thread has its own scheduling policy on Linux only') || (spawnSync('chrt', ['--version']).error !== undefined && 'util-linux chrt is not installed') }, async () => {
    const [SCHED_OTHER, SCHED_IDLE] = ['0', '5'];
    const mainPolicy = schedulingPolicy();
    const s = await start({ maxWorkers: 1, schedulingPolicy: 'idle' });
    try {
      assert.equal((await s.client.unary('Policy', '')).value, SCHED_IDLE);
      assert.equal(schedulingPolicy(), mainPolicy, "the main thread's policy is unchanged");
    } finally {
      await s.close();
    }
    const warnings: Error[] = [];
    const onWarning = (w: Error): number => warnings.push(w);
    process.on('warning', onWarning);
    const path = process.env.PATH;
    // A chrt that refuses, as one denied the policy does; a worker takes a copy of the
    // environment when it starts.
    const bin = mkdtempSync(join(tmpdir(), 'chrt-'));
    writeFileSync(join(bin, 'chrt'), "#!/bin/sh\necho 'chrt: failed to set pid 0s policy: Operation not permitted' >&2\nexit 1\n", { mode: 0o755 });
    process.env.PATH = bin;
    const base = getPriority(0);
    const without = await start({ maxWorkers: 2, minWorkers: 2, schedulingPolicy: 'idle' });
    try {
      process.env.PATH = path;
      // Both workers are up (two calls meet only in two threads at once): both have said READY.
      const met = await Promise.all([without.client.unary('Meet', 'policy'), without.client.unary('Meet', 'policy')]);
      assert.deepEqual(met.map((r) => /met/.test(String(r.value))), [true, true]);
      assert.deepEqual([(await without.client.unary('Policy', '')).value, (await without.client.unary('Nice', '')).value], [SCHED_OTHER, String(Math.min(19, base + 10))]);
      const said = warnings.filter((w) => w.name === 'WorkerPoolWarning');
      assert.equal(said.length, 1, 'one warning for the pool, not one per worker');
      assert.match(said[0]!.message, /^Cannot run worker threads under SCHED_IDLE \(with util-linux chrt\): chrt exited with code 1: chrt: failed to set pid 0s policy: Operation not permitted; they run with niceIncrement 10 instead$/);
    } finally {
      process.env.PATH = path;
      rmSync(bin, { recursive: true, force: true });
      process.off('warning', onWarning);
      await without.close();
    }
  });

  it('refuses bad pool options and a module without a list of services', async () => {
    const srv = server();
    assert.throws(() => srv.addWorkerHandlers(HANDLERS, { maxWorkers: 0 }), RangeError);
    assert.throws(() => srv.addWorkerHandlers(HANDLERS, { maxQueued: -1 }), RangeError);
    assert.throws(() => srv.addWorkerHandlers(HANDLERS, { niceIncrement: 20 }), RangeError);
    assert.throws(() => srv.addWorkerHandlers(HANDLERS, { niceIncrement: -1 }), RangeError);
    assert.throws(() => srv.addWorkerHandlers(HANDLERS, { schedulingPolicy: 'fifo' as 'idle' }), /schedulingPolicy must be 'normal' or 'idle', got fifo/);
    await assert.rejects(srv.addWorkerHandlers(new URL('./fixtures/thread-pool-not-a-module.mjs', import.meta.url)), /default export must be an array of services/);
    await srv.stop(null);
  });
});
