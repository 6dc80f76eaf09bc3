import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus as JsServingStatus } from 'grpc-health-check';
import {
  StatusCode,
  insecureChannel,
  methodHandlersGenericHandler,
  registerLoadBalancer,
  registerResolver,
  server,
  unaryStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
  type Channel,
  type ConnectivityState,
  type ResolverListener,
  type RpcError,
  type Server,
  type Subchannel,
} from '../../lib/index.js';
import { HealthServicer, ServingStatus, addHealthServicer } from '../../lib/services/health/index.js';
import { decodeHealthCheckRequest, encodeHealthCheckResponse } from '../../lib/services/health/codec.js';
import { decode, defer, encode, eventually, sleep, stringMethods } from '../helpers/grpc.js';

// Client-side health checking, gRFC A17: with healthCheckConfig in the service config, round_robin
// sends calls only to backends whose grpc.health.v1.Health/Watch says SERVING.

const cleanup: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

const SERVICE = 'lb.Svc';
const HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];

interface Replica {
  readonly name: string;
  /** Sets the health of `service` (our HealthServicer or grpc-js's HealthImplementation). */
  setHealth(service: string, status: 'SERVING' | 'NOT_SERVING'): void;
}

/** Our server on `host:port` answering /lb.Svc/Who with `name`, with the health service unless `health` is false. */
async function ourReplica(name: string, host: string, port: number, health = true): Promise<Replica & { srv: Server; port: number }> {
  const srv = server({ handlers: [methodHandlersGenericHandler(SERVICE, { Who: unaryUnaryRpcMethodHandler(() => name, decode, encode) })] });
  const servicer = new HealthServicer();
  if (health) {
    addHealthServicer(srv, servicer);
    servicer.set(SERVICE, ServingStatus.SERVING);
  }
  const bound = await srv.addInsecurePort(`${host}:${port}`);
  await srv.start();
  cleanup.push(() => srv.stop(null));
  return { name, srv, port: bound, setHealth: (service, status) => servicer.set(service, ServingStatus[status]) };
}

/** A @grpc/grpc-js server on `host:port` with /lb.Svc/Who and, unless `health` is false, grpc-health-check's health service. */
async function jsReplica(name: string, host: string, port: number, health = true): Promise<Replica & { port: number }> {
  const srv = new grpc.Server();
  srv.addService(stringMethods({ Who: 'unary' }, SERVICE), {
    Who: ((_call, callback) => callback(null, name)) as grpc.handleUnaryCall<string, string>,
  });
  const impl = new HealthImplementation({ '': 'SERVING', [SERVICE]: 'SERVING' });
  if (health) impl.addToServer(srv);
  const bound = await new Promise<number>((resolve, reject) => srv.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  cleanup.push(() => new Promise<void>((resolve) => srv.tryShutdown(() => resolve())));
  return { name, port: bound, setHealth: (service, status) => impl.setStatus(service, status as JsServingStatus) };
}

type Make = (name: string, host: string, port: number, health?: boolean) => Promise<Replica & { port: number }>;

/** Three replicas a, b, c on 127.0.0.1, .2 and .3, one port; `withoutHealth` names those without a health service. */
async function three(make: Make, withoutHealth: readonly string[] = []): Promise<{ target: string; replicas: Record<string, Replica> }> {
  const a = await make('a', HOSTS[0]!, 0, !withoutHealth.includes('a'));
  const b = await make('b', HOSTS[1]!, a.port, !withoutHealth.includes('b'));
  const c = await make('c', HOSTS[2]!, a.port, !withoutHealth.includes('c'));
  return { target: `ipv4:${HOSTS.map((h) => `${h}:${a.port}`).join(',')}`, replicas: { a, b, c } };
}

function channel(target: string, config: object): Channel {
  const ch = insecureChannel(target, {
    'grpc.service_config': JSON.stringify(config),
    'grpc.initial_reconnect_backoff_ms': 50,
    'grpc.max_reconnect_backoff_ms': 200,
  });
  cleanup.push(() => ch.close());
  return ch;
}

const roundRobin = (serviceName: string): object => ({ loadBalancingConfig: [{ round_robin: {} }], healthCheckConfig: { serviceName } });

const who = (ch: Channel, options: { timeout?: number; waitForReady?: boolean } = {}): Promise<string> => ch.unaryUnary('/lb.Svc/Who', encode, decode)('who', { timeout: 5, ...options });

/** Which replicas answer `n` calls in a row. */
async function answering(ch: Channel, n: number): Promise<Set<string>> {
  const names = new Set<string>();
  for (let i = 0; i < n; i++) names.add(await who(ch));
  return names;
}

/** Makes calls until `n` in a row are answered by exactly `expected` (the health update is on its way), within `ms`. */
async function settlesOn(ch: Channel, expected: readonly string[], n = 12, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  let last = new Set<string>();
  while (Date.now() < end) {
    last = await answering(ch, n);
    if ([...last].sort().join() === [...expected].sort().join()) return;
  }
  assert.fail(`calls went to ${[...last].sort().join()} instead of ${[...expected].sort().join()}`);
}

for (const [label, make] of [
  ['our server', ourReplica],
  ['grpc-js with grpc-health-check', jsReplica],
] as const) {
  describe(`round_robin with healthCheckConfig (gRFC A17), replicas: ${label}`, () => {
    it('sends no calls to a replica whose service is NOT_SERVING, and uses it again once it is SERVING', async () => {
      const { target, replicas } = await three(make);
      const ch = channel(target, roundRobin(SERVICE));
      await settlesOn(ch, ['a', 'b', 'c']);
      replicas.b!.setHealth(SERVICE, 'NOT_SERVING');
      await settlesOn(ch, ['a', 'c']);
      assert.deepEqual([...(await answering(ch, 30))].sort(), ['a', 'c'], 'no call reaches b while it is NOT_SERVING');
      replicas.b!.setHealth(SERVICE, 'SERVING');
      await settlesOn(ch, ['a', 'b', 'c']);
    });

    it('fails calls fast with UNAVAILABLE naming the health check when every replica is NOT_SERVING; a waitForReady call waits and then succeeds', async () => {
      const { target, replicas } = await three(make);
      const ch = channel(target, roundRobin(SERVICE));
      await settlesOn(ch, ['a', 'b', 'c']);
      for (const r of Object.values(replicas)) r.setHealth(SERVICE, 'NOT_SERVING');
      const failure = async (): Promise<RpcError | undefined> => {
        try {
          await who(ch);
          return undefined;
        } catch (err) {
          return err as RpcError;
        }
      };
      let err: RpcError | undefined;
      const end = Date.now() + 3000;
      while ((err = await failure()) === undefined && Date.now() < end);
      assert.ok(err !== undefined, 'calls kept succeeding with every replica NOT_SERVING');
      assert.equal(err.code, StatusCode.UNAVAILABLE);
      assert.match(err.details, /health check of service "lb\.Svc" reported NOT_SERVING/);
      const started = Date.now();
      const again = await failure();
      assert.equal(again?.code, StatusCode.UNAVAILABLE);
      assert.ok(Date.now() - started < 1000, 'the call failed fast, not at its 5 s deadline');

      let settled = false;
      const waiting = who(ch, { waitForReady: true }).finally(() => (settled = true));
      // Still failing fast for others: the waitForReady call is waiting, not failed.
      assert.equal((await failure())?.code, StatusCode.UNAVAILABLE);
      assert.equal(settled, false, 'the waitForReady call did not wait');
      replicas.c!.setHealth(SERVICE, 'SERVING');
      assert.equal(await waiting, 'c');
    });

    it('uses a replica that has no health service (Watch fails UNIMPLEMENTED)', async () => {
      const { target, replicas } = await three(make, ['c']);
      const ch = channel(target, roundRobin(SERVICE));
      await settlesOn(ch, ['a', 'b', 'c']);
      replicas.a!.setHealth(SERVICE, 'NOT_SERVING');
      replicas.b!.setHealth(SERVICE, 'NOT_SERVING');
      await settlesOn(ch, ['c']);
    });

    it("checks the server's overall health with serviceName ''", async () => {
      const { target, replicas } = await three(make);
      const ch = channel(target, roundRobin(''));
      await settlesOn(ch, ['a', 'b', 'c']);
      // The named service stays SERVING: only the server's own status ('') counts here.
      replicas.a!.setHealth('', 'NOT_SERVING');
      await settlesOn(ch, ['b', 'c']);
      replicas.a!.setHealth('', 'SERVING');
      await settlesOn(ch, ['a', 'b', 'c']);
    });

    it('ignores healthCheckConfig under pick_first: calls reach a NOT_SERVING replica', async () => {
      const { target, replicas } = await three(make);
      for (const r of Object.values(replicas)) r.setHealth(SERVICE, 'NOT_SERVING');
      const ch = channel(target, { loadBalancingConfig: [{ pick_first: {} }], healthCheckConfig: { serviceName: SERVICE } });
      assert.deepEqual([...(await answering(ch, 5))], ['a']);
    });
  });
}

describe('round_robin health checking against our server only', () => {
  it('treats SERVICE_UNKNOWN as unhealthy: a service no replica registered fails calls naming it', async () => {
    const { target } = await three(ourReplica);
    const ch = channel(target, roundRobin('other.Svc'));
    await assert.rejects(who(ch), (err: RpcError) => {
      assert.equal(err.code, StatusCode.UNAVAILABLE);
      assert.match(err.details, /health check of service "other\.Svc" reported SERVICE_UNKNOWN/);
      return true;
    });
  });
});

/** A bare node:http2 server answering each Watch with `respond` (its attempt number given), and /lb.Svc/Who with "raw". */
async function rawHealthServer(respond: (stream: http2.ServerHttp2Stream, attempt: number) => void): Promise<{ port: number; attempts: () => number; pings: () => number }> {
  let attempts = 0;
  let pings = 0;
  const h2 = http2.createServer();
  h2.on('session', (session) => session.on('ping', () => pings++));
  h2.on('stream', (stream, headers) => {
    // A stream this server resets reports the reset as an error on its side too.
    stream.on('error', () => {});
    if (headers[':path'] === '/grpc.health.v1.Health/Watch') {
      respond(stream, ++attempts);
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(frame(encode('raw')));
  });
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  const sockets = new Set<import('node:net').Socket>();
  h2.on('connection', (s: import('node:net').Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  cleanup.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => h2.close(r));
  });
  return { port: (h2.address() as AddressInfo).port, attempts: () => attempts, pings: () => pings };
}

function frame(payload: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + payload.length);
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

describe('the health watch stream (gRFC A17)', () => {
  it('opens the watch again at once when the server resets it after a response, and the replica stays in use', { timeout: 20_000 }, async () => {
    const second = defer<void>();
    const { port, attempts } = await rawHealthServer((stream, attempt) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.write(frame(encodeHealthCheckResponse({ status: ServingStatus.SERVING })));
      if (attempt === 1) stream.on('data', () => setImmediate(() => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR)));
      else second.resolve();
    });
    const ch = channel(`ipv4:127.0.0.1:${port}`, roundRobin(SERVICE));
    const states: ConnectivityState[] = [];
    ch.subscribe((s) => states.push(s));
    ch.getState(true);
    await second;
    assert.equal(attempts(), 2);
    assert.equal(await who(ch), 'raw');
    assert.ok(!states.includes('TRANSIENT_FAILURE'), `the retry after a response is immediate, with no failure in between: ${states.join(', ')}`);
  });

  it('after a watch that failed without a response, reports TRANSIENT_FAILURE naming the status, retries after a backoff, and is READY on SERVING', { timeout: 20_000 }, async () => {
    const { port, attempts } = await rawHealthServer((stream, attempt) => {
      if (attempt === 1) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(StatusCode.UNAVAILABLE), 'grpc-message': 'warming up' }, { endStream: true });
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.write(frame(encodeHealthCheckResponse({ status: ServingStatus.SERVING })));
    });
    const ch = channel(`ipv4:127.0.0.1:${port}`, roundRobin(SERVICE));
    await assert.rejects(who(ch), (err: RpcError) => {
      assert.equal(err.code, StatusCode.UNAVAILABLE);
      assert.match(err.details, /health check stream of service "lb\.Svc" ended with UNAVAILABLE: warming up/);
      return true;
    });
    assert.equal(await who(ch, { waitForReady: true }), 'raw');
    assert.equal(attempts(), 2);
  });
});

/** A policy with one health-checked subchannel that records its states, to watch A17's transitions. */
const recorded: Array<{ states: ConnectivityState[]; errors: string[]; subchannel: Subchannel }> = [];
registerLoadBalancer('health_spec_recorder', {
  create(helper) {
    return {
      updateAddresses(addresses) {
        const subchannel = helper.createSubchannel(addresses[0]!, { healthCheck: true });
        const entry = { states: [] as ConnectivityState[], errors: [] as string[], subchannel };
        recorded.push(entry);
        subchannel.onStateChange((state) => {
          entry.states.push(state);
          entry.errors.push(subchannel.lastError);
          if (state === 'IDLE') subchannel.connect();
          helper.updateState(state === 'SHUTDOWN' ? 'IDLE' : state, { pick: () => (subchannel.state === 'READY' ? subchannel : undefined) });
        });
        subchannel.connect();
      },
      resolverError() {},
      exitIdle() {},
      resetBackoff() {},
      close() {
        for (const r of recorded) r.subchannel.close();
      },
    };
  },
});

describe('subchannel states with health checking (gRFC A17)', () => {
  it('stays CONNECTING until the first answer, goes READY on SERVING, TRANSIENT_FAILURE on NOT_SERVING and straight back to READY, and takes the connection state when the connection is lost', { timeout: 20_000 }, async () => {
    const watching = defer<void>();
    const release = defer<void>();
    const servicer = new HealthServicer();
    servicer.set(SERVICE, ServingStatus.SERVING);
    const srv = server({
      handlers: [
        methodHandlersGenericHandler('grpc.health.v1.Health', {
          // Holds the first answer back until the test has seen the subchannel wait for it.
          Watch: unaryStreamRpcMethodHandler(
            async function* (request, context) {
              watching.resolve();
              await release;
              yield* servicer.watch(request, context);
            },
            decodeHealthCheckRequest,
            encodeHealthCheckResponse,
          ),
        }),
      ],
    });
    const port = await srv.addInsecurePort('127.0.0.1:0');
    await srv.start();
    cleanup.push(() => srv.stop(null));
    const ch = insecureChannel(`ipv4:127.0.0.1:${port}`, {
      'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ health_spec_recorder: {} }], healthCheckConfig: { serviceName: SERVICE } }),
      'grpc.initial_reconnect_backoff_ms': 50,
    });
    cleanup.push(() => ch.close());
    ch.getState(true);
    await watching;
    const entry = recorded.at(-1)!;
    assert.deepEqual(entry.states, ['CONNECTING'], 'the connection is up (the server has the Watch call), the subchannel still waits for the answer');
    release.resolve();
    await eventually(() => entry.states.at(-1) === 'READY', 3000, 'READY on SERVING');
    servicer.set(SERVICE, ServingStatus.NOT_SERVING);
    await eventually(() => entry.states.at(-1) === 'TRANSIENT_FAILURE', 3000, 'TRANSIENT_FAILURE on NOT_SERVING');
    assert.match(entry.errors.at(-1)!, /health check of service "lb\.Svc" reported NOT_SERVING/);
    servicer.set(SERVICE, ServingStatus.SERVING);
    await eventually(() => entry.states.at(-1) === 'READY', 3000, 'READY again on SERVING');
    assert.deepEqual(entry.states, ['CONNECTING', 'READY', 'TRANSIENT_FAILURE', 'READY'], 'from TRANSIENT_FAILURE straight to READY (A17)');
    await srv.stop(0);
    await eventually(() => entry.states.length > 4, 3000, 'a state change after the server stopped');
    // The server's GOAWAY retires the connection: the subchannel is IDLE, as its connection is.
    assert.equal(entry.states[4], 'IDLE', `after the connection was lost: ${entry.states.slice(4).join(', ')}`);
    await eventually(() => entry.states.at(-1) === 'TRANSIENT_FAILURE', 3000, 'the reconnect to fail');
    assert.match(entry.errors.at(-1)!, /ECONNREFUSED/, 'the connection\'s own error, not the health check\'s');
  });
});

/** Our server with /lb.Svc/Who and a Watch that answers SERVING and stays open; `started` and `cancelled` follow the watch. */
async function watchedServer(name: string): Promise<{ port: number; started: Promise<void>; cancelled: Promise<void> }> {
  const started = defer<void>();
  const cancelled = defer<void>();
  const srv = server({
    handlers: [
      methodHandlersGenericHandler(SERVICE, { Who: unaryUnaryRpcMethodHandler(() => name, decode, encode) }),
      methodHandlersGenericHandler('grpc.health.v1.Health', {
        Watch: unaryStreamRpcMethodHandler(
          async function* (_request, context) {
            context.signal.addEventListener('abort', () => cancelled.resolve(), { once: true });
            yield { status: ServingStatus.SERVING };
            started.resolve();
            await new Promise((r) => context.signal.addEventListener('abort', r, { once: true }));
          },
          decodeHealthCheckRequest,
          encodeHealthCheckResponse,
        ),
      }),
    ],
  });
  const port = await srv.addInsecurePort('127.0.0.1:0');
  await srv.start();
  cleanup.push(() => srv.stop(null));
  return { port, started, cancelled };
}

describe('the health watch ends with its subchannel', () => {
  it('cancels the watch when round_robin lets go of an address, so the drained connection can close', { timeout: 20_000 }, async () => {
    const a = await watchedServer('a');
    const b = await watchedServer('b');
    let listener: ResolverListener | undefined;
    registerResolver('healthspec', {
      authority: (target) => ({ authority: target.endpoint }),
      create(_target, l) {
        listener = l;
        l.onAddresses([
          { host: '127.0.0.1', port: a.port },
          { host: '127.0.0.1', port: b.port },
        ]);
        return { resolveNow: () => undefined, close: () => undefined };
      },
    });
    const ch = channel('healthspec:///replicas', roundRobin(SERVICE));
    ch.getState(true);
    await Promise.all([a.started, b.started]);
    listener!.onAddresses([{ host: '127.0.0.1', port: a.port }]);
    await b.cancelled;
    await settlesOn(ch, ['a']);
  });
});

describe('the health watch is not an application call', () => {
  it('a process whose channel only runs health watches exits on its own', { timeout: 20_000 }, async () => {
    const { port, started: watching, cancelled } = await watchedServer('a');
    const lib = new URL('../../lib/index.ts', import.meta.url).href;
    const code = `
      const { insecureChannel } = await import(${JSON.stringify(lib)});
      const ch = insecureChannel('ipv4:127.0.0.1:${port}', { 'grpc.service_config': ${JSON.stringify(JSON.stringify(roundRobin(SERVICE)))} });
      const answer = await ch.unaryUnary('/lb.Svc/Who', (s) => Buffer.from(s), (b) => Buffer.from(b).toString())('', { timeout: 5 });
      console.log(answer);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    try {
      await watching;
      assert.equal(await exited, 0, 'the child exited by itself');
    } finally {
      clearTimeout(killer);
    }
    assert.equal(out.trim(), 'a');
    await cancelled;
  });

  it('does not count as a call for keepalive: a connection with only a health watch sends no pings unless permitted without calls', { timeout: 20_000 }, async () => {
    const { port, pings } = await rawHealthServer((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.write(frame(encodeHealthCheckResponse({ status: ServingStatus.SERVING })));
    });
    const ch = insecureChannel(`ipv4:127.0.0.1:${port}`, { 'grpc.service_config': JSON.stringify(roundRobin(SERVICE)), 'grpc.keepalive_time_ms': 50 });
    cleanup.push(() => ch.close());
    assert.equal(await who(ch), 'raw');
    await sleep(300); // six keepalive intervals with only the watch open: none may ping
    assert.equal(pings(), 0);
  });
});
