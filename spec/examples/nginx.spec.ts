// grpc-iter behind a real nginx (examples/nginx/nginx.conf, only its ports changed): two
// replicas upstream, our client and grpc-js's in front. Needs Debian's nginx (nginx-full);
// without it every test here fails, saying so.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { setTimeout as pause } from 'node:timers/promises';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import {
  BadRequest,
  RpcError,
  StatusCode,
  findDetails,
  insecureChannel,
  methodHandlersGenericHandler,
  packDetail,
  server,
  statusCodeName,
  streamStreamRpcMethodHandler,
  streamUnaryRpcMethodHandler,
  unaryStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
  type Channel,
  type Server,
} from '../../lib/index.js';
import { decode, defer, encode, jsClient, type Deferred, type JsClient } from '../helpers/grpc.js';
import { exampleConfig, freePort, startNginx, type Nginx } from '../helpers/nginx.js';

/** What the `Wait` handler of the last such call saw. */
let waited: Deferred<{ timeRemaining: number | null; reason: unknown }> = defer();

/** A grpc-iter replica: every answer names it in the `x-replica` response header. */
async function startReplica(name: string, port = 0): Promise<{ srv: Server; port: number }> {
  const tag = (context: { sendInitialMetadata(md: Record<string, string>): void }): void => context.sendInitialMetadata({ 'x-replica': name });
  const srv = server({ onHandlerError: () => undefined });
  srv.addGenericRpcHandlers([
    methodHandlersGenericHandler('test.Svc', {
      // What arrived: the request metadata (text, "_" and "." in keys, -bin), sent back both ways.
      Echo: unaryUnaryRpcMethodHandler((request: string, context) => {
        const md = context.invocationMetadata();
        const bin = md.get('x-data-bin');
        context.sendInitialMetadata({ 'x-replica': name, 'x-echo-bin': bin ?? new Uint8Array() });
        context.setTrailingMetadata({ 'x-trailer': 'done', 'x-trailer-bin': Uint8Array.of(0, 255, 7) });
        return JSON.stringify({
          request,
          text: md.get('x-text'),
          underscore: md.get('x_under_score'),
          dotted: md.get('x.dotted'),
          bin: bin instanceof Uint8Array ? [...bin] : null,
          forwardedFor: md.get('x-forwarded-for'),
          realIp: md.get('x-real-ip'),
        });
      }, decode, encode),
      Count: unaryStreamRpcMethodHandler(function* (n: string, context) {
        tag(context);
        for (let i = 1; i <= Number(n); i++) yield String(i);
      }, decode, encode),
      Join: streamUnaryRpcMethodHandler(async (requests: AsyncIterable<string>, context) => {
        tag(context);
        let count = 0;
        let bytes = 0;
        for await (const r of requests) {
          count++;
          bytes += r.length;
        }
        return `${count} messages, ${bytes} bytes`;
      }, decode, encode),
      Chat: streamStreamRpcMethodHandler(async function* (requests: AsyncIterable<string>, context) {
        tag(context);
        for await (const r of requests) yield `${name} heard ${r}`;
      }, decode, encode),
      // Waits until the call ends abnormally (deadline, cancel), telling the test what it saw.
      Wait: unaryUnaryRpcMethodHandler(async (_request: string, context) => {
        const timeRemaining = context.timeRemaining();
        await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
        waited.resolve({ timeRemaining, reason: context.signal.reason });
        return 'never sent';
      }, decode, encode),
      // An error status after a response message: headers, data, then trailers.
      FailLate: unaryStreamRpcMethodHandler(function* (_request: string, context) {
        tag(context);
        yield 'partial';
        throw new RpcError(StatusCode.FAILED_PRECONDITION, 'Cannot continue: "the-thing" is gone', {
          trailingMetadata: { 'x-why': 'gone', 'x-why-bin': Uint8Array.of(1, 2, 3) },
          errorDetails: [packDetail(BadRequest, { fieldViolations: [{ field: 'thing', description: 'is gone' }] })],
        });
      }, decode, encode),
      // An error before any message: the replica answers Trailers-Only (one HEADERS frame).
      FailEarly: unaryUnaryRpcMethodHandler(() => {
        throw new RpcError(StatusCode.INVALID_ARGUMENT, 'Cannot greet: name is empty', {
          trailingMetadata: { 'x-why': 'empty' },
          errorDetails: [packDetail(BadRequest, { fieldViolations: [{ field: 'name', description: 'is empty' }] })],
        });
      }, decode, encode),
    }),
  ]);
  const bound = await srv.addInsecurePort(`127.0.0.1:${port}`);
  await srv.start();
  return { srv, port: bound };
}

// gRFC A6: UNAVAILABLE (what nginx's 502 maps to) is retried, up to 3 attempts in all.
const RETRY_UNAVAILABLE = JSON.stringify({
  methodConfig: [{ name: [{ service: 'test.Svc' }], retryPolicy: { maxAttempts: 3, initialBackoff: '0.01s', maxBackoff: '0.1s', backoffMultiplier: 2, retryableStatusCodes: ['UNAVAILABLE'] } }],
});

/**
 * Keeps up to 50 unary calls in flight over `ch`, topped up every 2 ms, and runs `restart` 0.7 s
 * in; goes on for at least 2.5 s and until the replica named `restarted` has answered 50 calls
 * (at most 10 s). Every call has a 5 s deadline.
 */
async function underLoad(ch: Channel, restarted: string, restart: () => Promise<void>): Promise<{ answered: Map<string, number>; failures: string[]; summary: string }> {
  const echo = ch.unaryUnary('/test.Svc/Echo', encode, decode);
  const failures: string[] = [];
  const answered = new Map<string, number>();
  const pending = new Set<Promise<void>>();
  const call = async (): Promise<void> => {
    try {
      const replica = String((await echo.withCall('load', { timeout: 5 })).initialMetadata.get('x-replica'));
      answered.set(replica, (answered.get(replica) ?? 0) + 1);
    } catch (err) {
      failures.push(err instanceof RpcError ? `${statusCodeName(err.code)}: ${err.details}` : String(err));
    }
  };
  const started = Date.now();
  let restarting: Promise<void> | undefined;
  let done = false;
  while (!done || Date.now() - started < 2500 || (answered.get(restarted) ?? 0) < 50) {
    if (Date.now() - started > 10_000) break;
    while (pending.size < 50) {
      const p = call().finally(() => pending.delete(p));
      pending.add(p);
    }
    if (restarting === undefined && Date.now() - started > 700) restarting = restart().then(() => void (done = true));
    await pause(2);
  }
  await Promise.all(pending);
  await restarting;
  const summary = `${JSON.stringify(Object.fromEntries(answered))} in ${Date.now() - started} ms, ${failures.length} failed${failures.length > 0 ? `: ${failures.slice(0, 5).join('; ')}` : ''}`;
  assert.ok(done, `the restart did not finish: ${summary}`);
  assert.ok((answered.get(restarted) ?? 0) >= 50, `the restarted replica did not serve again: ${summary}`);
  return { answered, failures, summary };
}

const replicas: Array<{ srv: Server; port: number }> = [];
let nginx: Nginx;
let channel: Channel;
let js: JsClient;
const log = (): string => `\nnginx error log:\n${nginx.errorLog()}`;

before(async () => {
  replicas.push(await startReplica('A'), await startReplica('B'));
  const port = await freePort();
  nginx = await startNginx(exampleConfig(port, replicas.map((r) => `127.0.0.1:${r.port}`)), port);
  channel = insecureChannel(`127.0.0.1:${nginx.port}`);
  js = jsClient(`127.0.0.1:${nginx.port}`, { Echo: 'unary', Count: 'serverStream', Join: 'clientStream', Chat: 'bidi', FailLate: 'serverStream', FailEarly: 'unary', Nope: 'unary' });
});

after(async () => {
  channel?.close();
  js?.close();
  await nginx?.stop();
  await Promise.all(replicas.map((r) => r.srv.stop(null)));
});

describe('grpc-iter behind nginx (examples/nginx/nginx.conf)', () => {
  it('serves all four kinds to our client, a client stream of 2 MiB included', async () => {
    const echo = await channel.unaryUnary('/test.Svc/Echo', encode, decode)('hi');
    assert.equal(JSON.parse(echo).request, 'hi', log());
    const counted: string[] = [];
    for await (const m of channel.unaryStream('/test.Svc/Count', encode, decode)('5')) counted.push(m);
    assert.deepEqual(counted, ['1', '2', '3', '4', '5'], log());
    // Past nginx's default client_max_body_size (1 MiB), which the example lifts.
    const big = 'x'.repeat(64 * 1024);
    assert.equal(await channel.streamUnary('/test.Svc/Join', encode, decode)(Array.from({ length: 32 }, () => big)), `32 messages, ${32 * big.length} bytes`, log());
    const chat = channel.streamStream('/test.Svc/Chat', encode, decode)(['one', 'two']);
    const heard: string[] = [];
    for await (const m of chat) heard.push(m.replace(/^[AB] /, ''));
    assert.deepEqual(heard, ['heard one', 'heard two'], log());
  });

  it('serves all four kinds to a grpc-js client', async () => {
    const unary = await js.unary('Echo', 'hi');
    assert.equal(unary.error, undefined, log());
    assert.equal(JSON.parse(unary.value!).request, 'hi');
    assert.deepEqual((await js.serverStream('Count', '3')).value, ['1', '2', '3']);
    assert.equal((await js.clientStream('Join', ['ab', 'cde'])).value, '2 messages, 5 bytes');
    const bidi = await js.bidi('Chat', ['one', 'two']);
    assert.deepEqual(bidi.value?.map((m) => m.replace(/^[AB] /, '')), ['heard one', 'heard two']);
  });

  it('passes metadata both ways: text, "_" and "." in keys, -bin values, trailers; tells the replica who the client is', async () => {
    const bytes = Uint8Array.of(0, 1, 2, 250, 255);
    const result = await channel.unaryUnary('/test.Svc/Echo', encode, decode).withCall('md', {
      metadata: { 'x-text': 'hello world', x_under_score: 'u', 'x.dotted': 'd', 'x-data-bin': bytes },
    });
    const seen = JSON.parse(result.response) as Record<string, unknown>;
    assert.equal(seen.text, 'hello world', log());
    assert.equal(seen.underscore, 'u');
    assert.equal(seen.dotted, 'd');
    assert.deepEqual(seen.bin, [...bytes]);
    assert.equal(seen.forwardedFor, '127.0.0.1');
    assert.equal(seen.realIp, '127.0.0.1');
    assert.deepEqual(result.initialMetadata.get('x-echo-bin'), bytes);
    assert.match(String(result.initialMetadata.get('x-replica')), /^[AB]$/);
    assert.equal(result.trailingMetadata.get('x-trailer'), 'done');
    assert.deepEqual(result.trailingMetadata.get('x-trailer-bin'), Uint8Array.of(0, 255, 7));

    const md = new grpc.Metadata();
    md.set('x-text', 'from grpc-js');
    md.set('x-data-bin', Buffer.from(bytes));
    const fromJs = await js.unary('Echo', 'md', md);
    assert.equal(JSON.parse(fromJs.value!).text, 'from grpc-js');
    assert.deepEqual(JSON.parse(fromJs.value!).bin, [...bytes]);
    assert.deepEqual(fromJs.metadata?.get('x-echo-bin'), [Buffer.from(bytes)]);
    assert.deepEqual(fromJs.status?.metadata.get('x-trailer-bin'), [Buffer.from([0, 255, 7])]);
  });

  it('forwards the deadline: the replica sees it and stops, the client gets DEADLINE_EXCEEDED', async () => {
    waited = defer();
    const started = Date.now();
    await assert.rejects(channel.unaryUnary('/test.Svc/Wait', encode, decode)('', { timeout: 0.5 }), (err: RpcError) => {
      assert.equal(err.code, StatusCode.DEADLINE_EXCEEDED, `${err.details}${log()}`);
      return true;
    });
    assert.ok(Date.now() - started < 2000);
    const { timeRemaining, reason } = await waited;
    assert.ok(timeRemaining !== null && timeRemaining > 0 && timeRemaining <= 0.5, `the replica saw ${timeRemaining} s left`);
    // Whichever comes first ends the handler: its own deadline, or the client's cancel at its
    // deadline, which nginx passes on by closing the upstream stream.
    assert.ok(reason instanceof RpcError && (reason.code === StatusCode.DEADLINE_EXCEEDED || reason.code === StatusCode.CANCELLED), String(reason));
  });

  it('passes an error status after messages with its details, trailing metadata and rich error details', async () => {
    const call = channel.unaryStream('/test.Svc/FailLate', encode, decode)('');
    const got: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const m of call) got.push(m);
      })(),
      (err: RpcError) => {
        assert.equal(err.code, StatusCode.FAILED_PRECONDITION, `${err.details}${log()}`);
        assert.equal(err.details, 'Cannot continue: "the-thing" is gone');
        assert.equal(err.metadata.get('x-why'), 'gone');
        assert.deepEqual(err.metadata.get('x-why-bin'), Uint8Array.of(1, 2, 3));
        assert.deepEqual(findDetails(err, BadRequest)[0]?.fieldViolations, [{ field: 'thing', description: 'is gone', reason: '' }]);
        return true;
      },
    );
    assert.deepEqual(got, ['partial']);
    const fromJs = await js.serverStream('FailLate', '');
    assert.deepEqual(fromJs.value, ['partial']);
    assert.equal(fromJs.error?.code, grpc.status.FAILED_PRECONDITION);
    assert.equal(fromJs.error?.details, 'Cannot continue: "the-thing" is gone');
    assert.deepEqual(fromJs.error?.metadata.get('x-why'), ['gone']);
  });

  it('passes Trailers-Only answers through: an error before any message, and UNIMPLEMENTED', async () => {
    await assert.rejects(channel.unaryUnary('/test.Svc/FailEarly', encode, decode)(''), (err: RpcError) => {
      assert.equal(err.code, StatusCode.INVALID_ARGUMENT, `${err.details}${log()}`);
      assert.equal(err.details, 'Cannot greet: name is empty');
      assert.equal(err.metadata.get('x-why'), 'empty');
      assert.deepEqual(findDetails(err, BadRequest)[0]?.fieldViolations, [{ field: 'name', description: 'is empty', reason: '' }]);
      return true;
    });
    await assert.rejects(channel.unaryUnary('/test.Svc/Nope', encode, decode)(''), (err: RpcError) => err.code === StatusCode.UNIMPLEMENTED);
    const fromJs = await js.unary('FailEarly', '');
    assert.equal(fromJs.error?.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(fromJs.error?.details, 'Cannot greet: name is empty');
    assert.deepEqual(fromJs.error?.metadata.get('x-why'), ['empty']);
    assert.equal((await js.unary('Nope', '')).error?.code, grpc.status.UNIMPLEMENTED);

    // What nginx puts on the wire for it: one HEADERS frame carrying the status and ending the stream.
    const session = http2.connect(`http://127.0.0.1:${nginx.port}`);
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/test.Svc/FailEarly', 'content-type': 'application/grpc', te: 'trailers' });
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
      const [headers, flags] = await new Promise<[http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, number]>((resolve) => stream.once('response', (h, f) => resolve([h, f])));
      let trailers = false;
      stream.once('trailers', () => (trailers = true));
      stream.resume();
      await new Promise((resolve) => stream.once('close', resolve));
      assert.equal(headers[':status'], 200);
      assert.equal(headers['grpc-status'], String(StatusCode.INVALID_ARGUMENT));
      assert.equal(headers['x-why'], 'empty');
      assert.equal(flags & http2.constants.NGHTTP2_FLAG_END_STREAM, http2.constants.NGHTTP2_FLAG_END_STREAM);
      assert.equal(trailers, false);
    } finally {
      session.close();
    }
  });

  it('a call nginx cannot place (no replica up) is UNAVAILABLE: its HTTP 502 is mapped, its HTML body ignored', async () => {
    const port = await freePort();
    const down = await startNginx(exampleConfig(port, [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`]), port);
    const ch = insecureChannel(`127.0.0.1:${port}`);
    const client = jsClient(`127.0.0.1:${port}`, { Echo: 'unary' });
    try {
      // doc/http-grpc-status-mapping.md: 502 Bad Gateway is UNAVAILABLE.
      await assert.rejects(ch.unaryUnary('/test.Svc/Echo', encode, decode)(''), (err: RpcError) => {
        assert.equal(statusCodeName(err.code), 'UNAVAILABLE', err.details);
        assert.match(err.details, /502/);
        return true;
      });
      assert.equal((await client.unary('Echo', '')).error?.code, grpc.status.UNAVAILABLE);
    } finally {
      ch.close();
      client.close();
      await down.stop();
    }
  });

  it('spreads calls over both replicas', async () => {
    const echo = channel.unaryUnary('/test.Svc/Echo', encode, decode);
    const answered = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const replica = String((await echo.withCall('')).initialMetadata.get('x-replica'));
      answered.set(replica, (answered.get(replica) ?? 0) + 1);
    }
    assert.deepEqual([...answered.keys()].sort(), ['A', 'B'], log());
    assert.ok(Math.min(...answered.values()) >= 5, `${JSON.stringify([...answered])}`);
  });

  it('loses no call while a replica restarts (stop(grace), a new server on its port) under steady load, the client retrying UNAVAILABLE', async () => {
    const retrying = insecureChannel(`127.0.0.1:${nginx.port}`, { 'grpc.service_config': RETRY_UNAVAILABLE });
    const logFrom = nginx.errorLog().length;
    const { answered, failures, summary } = await underLoad(retrying, 'B2', async () => {
      const old = replicas[1]!;
      await old.srv.stop(2);
      replicas[1] = await startReplica('B2', old.port);
    });
    retrying.close();
    // Each is a call nginx had sent to the stopping replica on a kept-alive connection just as
    // its GOAWAY arrived: nginx answers 502 and never retries a gRPC call it has sent; the client did.
    const retried = nginx.errorLog().slice(logFrom).match(/upstream sent goaway|upstream prematurely closed|recv\(\) failed/g)?.length ?? 0;
    console.log(`restart, client retrying: ${summary}, ${retried} answered 502 by nginx and retried`);
    assert.deepEqual(failures, [], `${summary}${log()}`);
    assert.ok((answered.get('A') ?? 0) > 0 && (answered.get('B') ?? 0) > 0, summary);
  });

  it('loses no call while a replica restarts under steady load when nginx is told first (down, reload), no client retries', async () => {
    const upstreams = replicas.map((r) => `127.0.0.1:${r.port}`);
    const conf = exampleConfig(nginx.port, upstreams);
    const drained = conf.replace(`server ${upstreams[1]!} `, `server ${upstreams[1]!} down `);
    assert.notEqual(drained, conf);
    const { answered, failures, summary } = await underLoad(channel, 'B3', async () => {
      await nginx.reload(drained); // every worker that could still send calls to B2 has exited
      const old = replicas[1]!;
      await old.srv.stop(2);
      replicas[1] = await startReplica('B3', old.port);
      await nginx.reload(conf);
    });
    console.log(`restart, drained first: ${summary}`);
    assert.deepEqual(failures, [], `${summary}${log()}`);
    assert.ok((answered.get('A') ?? 0) > 0 && (answered.get('B2') ?? 0) > 0, summary);
  });

  it('the example (examples/nginx/main.ts) serves through nginx: both replicas answer, a stream, a deadline; SIGTERM stops the replicas', async () => {
    const [a, b, port] = [await freePort(), await freePort(), await freePort()];
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const replicaProcess = spawn(process.execPath, ['--import', 'tsx', 'examples/nginx/main.ts', '--ports', `${a},${b}`], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    replicaProcess.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = once(replicaProcess, 'exit');
    const front = await startNginx(exampleConfig(port, [`127.0.0.1:${a}`, `127.0.0.1:${b}`]), port);
    try {
      const ready = Date.now() + 15_000;
      while (!out.includes('now run nginx')) {
        assert.ok(Date.now() < ready && replicaProcess.exitCode === null, `the replicas did not start: ${out}`);
        await pause(20); // waiting on another process's output
      }
      const called = await new Promise<{ code: number; stdout: string }>((resolve) => {
        execFile(process.execPath, ['--import', 'tsx', 'examples/nginx/main.ts', '--call', `127.0.0.1:${port}`], { env, timeout: 20_000 }, (err, stdout) =>
          resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stdout }),
        );
      });
      assert.equal(called.code, 0, `${called.stdout}\nnginx error log:\n${front.errorLog()}`);
      const replies = [...called.stdout.matchAll(/^SayHello via nginx -> ([AB]): Hello call \d, from replica \1 \(client 127\.0\.0\.1\)$/gm)].map((m) => m[1]);
      assert.equal(replies.length, 4, called.stdout);
      assert.deepEqual([...new Set(replies)].sort(), ['A', 'B'], called.stdout);
      assert.match(called.stdout, /^SayHellos via nginx -> [AB]: 3 messages$/m);
      assert.match(called.stdout, /^a 0\.3 s deadline through nginx: DEADLINE_EXCEEDED$/m);
    } finally {
      replicaProcess.kill('SIGTERM');
      const timer = setTimeout(() => replicaProcess.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      await front.stop();
    }
    assert.equal(replicaProcess.exitCode, 0, out);
    assert.match(out, /replicas stopped/);
  });
});
