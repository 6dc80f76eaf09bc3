// Name resolution (grpc/grpc doc/naming.md) seen from a channel: targets of every scheme, the dns
// resolver against a real DNS server on loopback (spec/helpers/dns-server.ts), re-resolution when
// connections go away, resolution errors, and resolvers registered by the application.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  RpcError,
  StatusCode,
  insecureChannel,
  registerResolver,
  server,
  unaryUnaryRpcMethodHandler,
  methodHandlersGenericHandler,
  type Address,
  type Channel,
  type ResolverListener,
  type Server,
  type ServerOptionsInit,
} from '../../lib/index.js';
import { resolverFor } from '../../lib/client/resolver.js';
import { serverAuthorityOf } from '../../lib/server/index.js';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { decode, defer, encode, eventually, sleep, type Deferred } from '../helpers/grpc.js';
import { frame } from '../helpers/raw.js';

const cleanup: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});
function track(channel: Channel): Channel {
  cleanup.push(() => channel.close());
  return channel;
}

/** A server that answers Who with its label, and Hold with its label once the test lets it. */
interface Pod {
  readonly label: string;
  readonly srv: Server;
  readonly port: number;
  /** Hold calls that arrived, each with the gate that finishes it. */
  readonly held: Array<Deferred<void>>;
  stop(): Promise<void>;
}

async function pod(host: string, port: number, label: string, options: ServerOptionsInit = {}): Promise<Pod> {
  const held: Array<Deferred<void>> = [];
  const srv = server({
    options,
    handlers: [
      methodHandlersGenericHandler('test.Svc', {
        Who: unaryUnaryRpcMethodHandler(() => label, decode, encode),
        Hold: unaryUnaryRpcMethodHandler(async () => {
          const gate = defer<void>();
          held.push(gate);
          await gate;
          return label;
        }, decode, encode),
        Authority: unaryUnaryRpcMethodHandler((_r: string, ctx) => serverAuthorityOf(ctx) ?? '', decode, encode),
      }),
    ],
  });
  const bound = await srv.addInsecurePort(host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
  await srv.start();
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopped ??= srv.stop(null));
  cleanup.push(stop);
  return { label, srv, port: bound, held, stop };
}

/** Pods on 127.0.0.1, 127.0.0.2 and 127.0.0.3 (and ::1), all on one port, as one DNS name's records would be. */
async function pods(labels: readonly string[], options: ServerOptionsInit = {}): Promise<{ port: number; pods: Pod[] }> {
  const hosts = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '::1'];
  const first = await pod(hosts[0]!, 0, labels[0]!, options);
  const out = [first];
  for (let i = 1; i < labels.length; i++) out.push(await pod(hosts[i]!, first.port, labels[i]!, options));
  return { port: first.port, pods: out };
}

const who = (channel: Channel, options: { timeout?: number; waitForReady?: boolean } = {}): Promise<string> =>
  channel.unaryUnary('/test.Svc/Who', encode, decode)('', { timeout: 5, ...options });

/** Calls Who until every label in `want` answered (bounded), and returns what answered. */
async function reachAll(channel: Channel, want: readonly string[], timeoutMs = 4000): Promise<Set<string>> {
  const seen = new Set<string>();
  const end = Date.now() + timeoutMs;
  while (!want.every((w) => seen.has(w))) {
    if (Date.now() > end) throw new Error(`Timed out reaching ${want.join(', ')}: only ${[...seen].join(', ')} answered`);
    seen.add(await who(channel, { waitForReady: true }));
  }
  return seen;
}

/** The labels that answer `n` calls in a row. */
async function answers(channel: Channel, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await who(channel));
  return out;
}

const rejectsWith = async (p: Promise<unknown>, code: StatusCode, details: RegExp): Promise<void> => {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof RpcError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.details, details);
    return true;
  });
};

const FAST = { 'grpc.initial_reconnect_backoff_ms': 50, 'grpc.max_reconnect_backoff_ms': 200 } as const;

describe('the dns resolver against a DNS server', () => {
  let dns: DnsServer;
  before(async () => {
    dns = await startDnsServer();
    cleanup.push(() => dns.close());
  });

  it('round_robin spreads calls over every A and AAAA record of the name, asking the DNS server of the target', async () => {
    const { port } = await pods(['one', 'two', 'three', 'six']);
    dns.set('every.test', ['127.0.0.1', '127.0.0.2', '127.0.0.3', '::1']);
    const channel = track(insecureChannel(`dns://${dns.authority}/every.test:${port}`, { 'grpc.lb_policy_name': 'round_robin' }));
    await reachAll(channel, ['one', 'two', 'three', 'six']);
    // Once all four are connected, calls go round them in turn.
    await eventually(() => channel.getState() === 'READY');
    const turn = await answers(channel, 8);
    assert.deepEqual(new Set(turn.slice(0, 4)), new Set(['one', 'two', 'three', 'six']));
    assert.deepEqual(turn.slice(4), turn.slice(0, 4));
    assert.equal(dns.count('every.test', 'A'), 1);
    assert.equal(dns.count('every.test', 'AAAA'), 1);
  });

  it('the DNS server in the authority is the one asked; without one the system resolver answers (localhost)', async () => {
    const { port } = await pods(['first', 'second']);
    const other = await startDnsServer();
    cleanup.push(() => other.close());
    dns.set('which.test', ['127.0.0.1']);
    other.set('which.test', ['127.0.0.2']);
    const viaDns = track(insecureChannel(`dns://${dns.authority}/which.test:${port}`));
    const viaOther = track(insecureChannel(`dns://${other.authority}/which.test:${port}`));
    assert.equal(await who(viaDns), 'first');
    assert.equal(await who(viaOther), 'second');
    assert.equal(dns.count('which.test', 'A'), 1);
    assert.equal(other.count('which.test', 'A'), 1);

    const asked = dns.queries.length + other.queries.length;
    for (const target of [`localhost:${port}`, `dns:///localhost:${port}`, `dns:localhost:${port}`]) {
      assert.equal(await who(track(insecureChannel(target))), 'first', target);
    }
    assert.equal(dns.queries.length + other.queries.length, asked);
  });

  it('when its server goes away the channel asks DNS again and follows the name to the new server', async () => {
    const { port, pods: [old, fresh] } = await pods(['old', 'new']);
    dns.set('moved.test', ['127.0.0.1']);
    const channel = track(insecureChannel(`dns://${dns.authority}/moved.test:${port}`, { ...FAST, 'grpc.dns_min_time_between_resolutions_ms': 50 }));
    assert.equal(await who(channel), 'old');
    assert.equal(dns.count('moved.test', 'A'), 1);
    dns.set('moved.test', ['127.0.0.2']);
    // stop() sends GOAWAY: the connection goes away, and the resolver is asked again.
    await old!.stop();
    await eventually(() => dns.count('moved.test', 'A') >= 2, 3000, 'a second DNS query');
    assert.equal(await who(channel, { waitForReady: true }), fresh!.label);
    assert.deepEqual(new Set(await answers(channel, 4)), new Set(['new']));
  });

  it('re-resolution requests in a burst of failures reach DNS at most once per grpc.dns_min_time_between_resolutions_ms', async () => {
    const { port, pods: list } = await pods(['a', 'b', 'c']);
    dns.set('burst.test', ['127.0.0.1', '127.0.0.2', '127.0.0.3']);
    const minMs = 300;
    const channel = track(insecureChannel(`dns://${dns.authority}/burst.test:${port}`, { ...FAST, 'grpc.lb_policy_name': 'round_robin', 'grpc.dns_min_time_between_resolutions_ms': minMs }));
    await reachAll(channel, ['a', 'b', 'c']);
    const start = Date.now();
    // Every backend goes: three GOAWAYs, then refused reconnects every ~50-200 ms on each, each asking for resolution.
    await Promise.all(list.map((p) => p.stop()));
    await eventually(() => Date.now() - start > 1300, 2000, 'the burst');
    const times = dns.queries.filter((q) => q.name === 'burst.test' && q.type === 'A').map((q) => q.at);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    assert.ok(times.length >= 3, `asked again after the failures: ${times.length} queries`);
    assert.ok(times.length <= 2 + Math.ceil(1300 / minMs), `rate limited: ${times.length} queries in 1.3 s`);
    // Timers only ever fire late; the slack is for a query that took longer to reach the server than the next.
    for (const gap of gaps) assert.ok(gap >= minMs - 40, `queries ${gaps.join(', ')} ms apart`);
  });

  it('picks up an address added to DNS and drops one removed from it, letting its call in flight finish', async () => {
    // Servers closing connections after 200 ms (grpc.max_connection_age_ms) make clients re-resolve
    // regularly, as a Kubernetes deployment does to spread clients over new pods.
    const { port, pods: [a, b, c] } = await pods(['a', 'b', 'c'], { 'grpc.max_connection_age_ms': 200 });
    dns.set('pods.test', ['127.0.0.1']);
    const channel = track(insecureChannel(`dns://${dns.authority}/pods.test:${port}`, { ...FAST, 'grpc.lb_policy_name': 'round_robin', 'grpc.dns_min_time_between_resolutions_ms': 20 }));
    assert.deepEqual(new Set(await answers(channel, 3)), new Set(['a']));

    dns.set('pods.test', ['127.0.0.1', '127.0.0.2']);
    await reachAll(channel, ['a', 'b']);

    // A call in flight on a, then a leaves DNS and c joins.
    const hold = channel.unaryUnary('/test.Svc/Hold', encode, decode);
    const inFlight: Array<Promise<string>> = [];
    while (a!.held.length === 0) {
      inFlight.push(hold('', { timeout: 10 }));
      await eventually(() => a!.held.length + b!.held.length === inFlight.length, 2000, 'the held call');
    }
    dns.set('pods.test', ['127.0.0.2', '127.0.0.3']);
    await reachAll(channel, ['c']);
    // The calls that follow go to b and c only.
    const later = await answers(channel, 10);
    assert.ok(!later.includes('a'), later.join(' '));
    assert.deepEqual(new Set(later), new Set(['b', 'c']));
    for (const gate of [...a!.held, ...b!.held]) gate.resolve();
    const finished = await Promise.all(inFlight);
    assert.ok(finished.includes('a'));
    assert.equal(c!.held.length, 0);
  });

  it('a SERVFAIL after a good answer keeps the last addresses, and is retried with growing backoff', async () => {
    const { port } = await pods(['kept']);
    dns.set('flaky.test', ['127.0.0.1', '127.0.0.4']);
    // 127.0.0.4 refuses connections: its failures keep asking for resolution.
    const channel = track(insecureChannel(`dns://${dns.authority}/flaky.test:${port}`, { ...FAST, 'grpc.lb_policy_name': 'round_robin', 'grpc.dns_min_time_between_resolutions_ms': 0 }));
    assert.equal(await who(channel, { waitForReady: true }), 'kept');
    dns.behave('flaky.test', 'servfail');
    const before = dns.count('flaky.test', 'A');
    await eventually(() => dns.count('flaky.test', 'A') >= before + 5, 4000, 'five retries');
    assert.deepEqual(new Set(await answers(channel, 4)), new Set(['kept']));
    const times = dns.queries.filter((q) => q.name === 'flaky.test' && q.type === 'A').map((q) => q.at).slice(before);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // doc/connection-backoff.md: 50 ms, then x1.6 each time, jitter +-20%; timers only fire late.
    gaps.slice(0, 4).forEach((gap, i) => assert.ok(gap >= 50 * 1.6 ** i * 0.8 - 15, `retries ${gaps.join(', ')} ms apart`));
    assert.ok(gaps[3]! > 2 * gaps[0]!, `retries ${gaps.join(', ')} ms apart: growing`);
    // Back to good answers: the next retry takes them and the failures stop.
    dns.set('flaky.test', ['127.0.0.1']);
    assert.equal(await who(channel), 'kept');
  });

  it('a resolution error before any answer fails calls UNAVAILABLE, naming the DNS failure', async () => {
    dns.behave('broken.test', 'servfail');
    const channel = track(insecureChannel(`dns://${dns.authority}/broken.test:50051`, FAST));
    await rejectsWith(who(channel), StatusCode.UNAVAILABLE, /DNS resolution of broken\.test:50051 failed: ESERVFAIL/);
  });

  it('NXDOMAIN or a name without records fails calls at once UNAVAILABLE, and waitForReady calls succeed once the name appears', async () => {
    const { port } = await pods(['appeared']);
    dns.set('empty.test', []);
    for (const name of ['missing.test', 'empty.test']) {
      const channel = track(insecureChannel(`dns://${dns.authority}/${name}:${port}`, FAST));
      const start = Date.now();
      await rejectsWith(who(channel, { timeout: 5 }), StatusCode.UNAVAILABLE, new RegExp(`DNS resolution of ${name.replace('.', '\\.')}:${port} found no addresses`));
      assert.ok(Date.now() - start < 2000, 'failed fast, not at the deadline');
      const waiting = who(channel, { waitForReady: true, timeout: 5 });
      await eventually(() => dns.count(name, 'A') >= 2, 2000, 'a retry');
      dns.set(name, ['127.0.0.1']);
      assert.equal(await waiting, 'appeared');
    }
  });

  it('failed resolutions are retried with backoff, one query at a time, even with no minimum time between resolutions', async () => {
    dns.behave('loop-servfail.test', 'servfail');
    const options = { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1000, 'grpc.dns_min_time_between_resolutions_ms': 0 };
    for (const name of ['loop-servfail.test', 'loop-missing.test']) {
      const channel = track(insecureChannel(`dns://${dns.authority}/${name}:50051`, options));
      await rejectsWith(who(channel), StatusCode.UNAVAILABLE, /DNS resolution/);
      await sleep(500);
      // Retries after 100, 160, 256 ms (+-20%): at most four queries in the half second, none back to back.
      const times = dns.queries.filter((q) => q.name === name && q.type === 'A').map((q) => q.at);
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      assert.ok(times.length >= 3 && times.length <= 4, `${name}: ${times.length} queries in 500 ms`);
      for (const gap of gaps) assert.ok(gap >= 100 * 0.8 - 15, `${name}: queries ${gaps.join(', ')} ms apart`);
      channel.close();
    }
  });

  it('channel.waitForReady() skips the backoff of a failed resolution: the name that appeared is used at once', async () => {
    const { port } = await pods(['ready-now']);
    // Ten seconds before the first retry: only the reset can make the wait short.
    const channel = track(insecureChannel(`dns://${dns.authority}/later.test:${port}`, { 'grpc.initial_reconnect_backoff_ms': 10_000, 'grpc.max_reconnect_backoff_ms': 10_000 }));
    await rejectsWith(who(channel), StatusCode.UNAVAILABLE, /found no addresses/);
    const queries = dns.count('later.test', 'A');
    dns.set('later.test', ['127.0.0.1']);
    const started = Date.now();
    await channel.waitForReady();
    assert.ok(Date.now() - started < 3000, `ready after ${Date.now() - started} ms`);
    assert.equal(dns.count('later.test', 'A'), queries + 1);
    assert.equal(await who(channel), 'ready-now');
  });

  it('a DNS server that never answers leaves calls waiting for their deadline, not failing at once', async () => {
    dns.behave('silent.test', 'drop');
    const channel = track(insecureChannel(`dns://${dns.authority}/silent.test:50051`, FAST));
    await rejectsWith(who(channel, { timeout: 0.3 }), StatusCode.DEADLINE_EXCEEDED, /./);
    assert.ok(dns.count('silent.test') >= 1);
    assert.equal(channel.getState(), 'CONNECTING');
  });
});

describe('targets', () => {
  it('dns://server:53/host takes port 443 when the host names none', async () => {
    const dns = await startDnsServer();
    cleanup.push(() => dns.close());
    // 127.0.0.9 listens on nothing: the failure names the address tried.
    dns.set('noport.test', ['127.0.0.9']);
    const channel = track(insecureChannel(`dns://${dns.authority}/noport.test`, FAST));
    await rejectsWith(who(channel), StatusCode.UNAVAILABLE, /127\.0\.0\.9:443/);
    const named = track(insecureChannel(`dns://${dns.authority}/noport.test:8443`, FAST));
    await rejectsWith(who(named), StatusCode.UNAVAILABLE, /127\.0\.0\.9:8443/);
    // The split doc/naming.md gives, and the :authority such a channel sends.
    const { uri, provider } = resolverFor('dns://10.0.0.53:53/svc.example');
    assert.deepEqual({ ...uri }, { scheme: 'dns', authority: '10.0.0.53:53', endpoint: 'svc.example', text: 'dns://10.0.0.53:53/svc.example' });
    const options = { defaultPort: 443, minTimeBetweenResolutionsMs: 30_000, initialBackoffMs: 1000, maxBackoffMs: 120_000 };
    assert.equal(provider.authority(uri, options).authority, 'svc.example:443');
    assert.equal(resolverFor('svc.example:50051').uri.scheme, 'dns');
    assert.equal(resolverFor('dns:///[::1]:50051').provider.authority(resolverFor('dns:///[::1]:50051').uri, options).authority, '[::1]:50051');
  });

  it('calls carry the target host and port as :authority, whatever the DNS server', async () => {
    const dns = await startDnsServer();
    cleanup.push(() => dns.close());
    const { port } = await pods(['x']);
    dns.set('auth.test', ['127.0.0.1']);
    const channel = track(insecureChannel(`dns://${dns.authority}/auth.test:${port}`));
    assert.equal(await channel.unaryUnary('/test.Svc/Authority', encode, decode)('', { timeout: 5 }), `auth.test:${port}`);
  });

  it('refuses a dns:// authority that is not an IP address, at channel creation', () => {
    assert.throws(() => insecureChannel('dns://dns-server.example/svc.test:50051'), TypeError);
    assert.throws(() => insecureChannel('dns://1.2.3.4:99999/svc.test:50051'), RangeError);
  });

  it('ipv4: and ipv6: lists are used as given, and a bad IP is a TypeError at channel creation', async () => {
    const { port } = await pods(['one', 'two', 'three', 'six']);
    const v4 = track(insecureChannel(`ipv4:127.0.0.1:${port},127.0.0.2:${port},127.0.0.3:${port}`, { 'grpc.lb_policy_name': 'round_robin' }));
    await reachAll(v4, ['one', 'two', 'three']);
    assert.equal(await who(track(insecureChannel(`ipv6:[::1]:${port}`))), 'six');
    assert.equal(await who(track(insecureChannel(`ipv4:///127.0.0.2:${port}`))), 'two');
    for (const bad of ['ipv4:127.0.0:80', 'ipv4:[::1]:80', 'ipv4:', 'ipv4:127.0.0.1:80,nothost:80', 'ipv6:127.0.0.1:80', 'ipv6:[fe80::zz]:80', 'ipv6:']) {
      assert.throws(() => insecureChannel(bad), TypeError, bad);
    }
  });

  it('unix:relative, unix:///absolute and unix-abstract:name reach servers on those sockets', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'grpc-iter-resolver-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const socket = join(dir, 'svc.sock');
    const s = server({ handlers: [methodHandlersGenericHandler('test.Svc', { Who: unaryUnaryRpcMethodHandler(() => 'unix', decode, encode) })] });
    await s.addInsecurePort(`unix:${socket}`);
    await s.start();
    cleanup.push(() => s.stop(null));
    assert.equal(await who(track(insecureChannel(`unix://${socket}`))), 'unix');
    assert.equal(await who(track(insecureChannel(`unix:${relative(process.cwd(), socket)}`))), 'unix');
    assert.equal(await who(track(insecureChannel(`unix:${socket}`))), 'unix');

    // Our server takes no unix-abstract: listen address, so a bare node:http2 server answers there.
    const name = `grpc-iter-resolver-${process.pid}`;
    const raw = http2.createServer();
    raw.on('stream', (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.resume();
      stream.on('end', () => stream.end(frame('abstract')));
    });
    await new Promise<void>((resolve) => raw.listen(`\0${name}`, resolve));
    cleanup.push(() => new Promise((resolve) => raw.close(resolve)));
    assert.equal(await who(track(insecureChannel(`unix-abstract:${name}`))), 'abstract');
    assert.throws(() => insecureChannel('unix-abstract:'), TypeError);
    assert.throws(() => insecureChannel('unix:'), TypeError);
  });
});

describe('registerResolver', () => {
  it('a registered scheme resolves the channel target; calls follow its later lists, and it is asked again when a connection fails', async () => {
    const { port, pods: [a, b] } = await pods(['a', 'b']);
    let listener: ResolverListener | undefined;
    const seen: string[] = [];
    let asked = 0;
    registerResolver('mycustom', {
      authority: (target) => ({ authority: target.endpoint }),
      create(target, l) {
        seen.push(`${target.scheme}|${target.authority}|${target.endpoint}`);
        listener = l;
        l.onAddresses([{ host: '127.0.0.1', port }]);
        return {
          resolveNow: () => void asked++,
          close: () => (listener = undefined),
        };
      },
    });
    const channel = track(insecureChannel('mycustom:///orders', FAST));
    assert.equal(channel.getState(), 'IDLE', 'no resolution before the first call');
    assert.equal(await channel.unaryUnary('/test.Svc/Authority', encode, decode)('', { timeout: 5 }), 'orders');
    assert.deepEqual(seen, ['mycustom||orders']);
    assert.equal(await who(channel), 'a');

    // A new list: the channel moves to it.
    listener!.onAddresses([{ host: '127.0.0.2', port }] satisfies Address[]);
    assert.equal(await who(channel, { waitForReady: true }), 'b');
    assert.deepEqual(new Set(await answers(channel, 3)), new Set(['b']));

    // Its server goes away: the resolver is asked again.
    const before = asked;
    await b!.stop();
    await eventually(() => asked > before, 3000, 'resolveNow after GOAWAY');
    // An address that refuses connections: asked again, and the list it reports then is used.
    listener!.onAddresses([{ host: '127.0.0.4', port }]);
    const failed = asked;
    await eventually(() => asked > failed, 3000, 'resolveNow after a failed connection');
    listener!.onAddresses([{ host: '127.0.0.1', port }]);
    assert.equal(await who(channel, { waitForReady: true }), a!.label);
    channel.close();
    assert.equal(listener, undefined, 'closing the channel closes its resolver');
  });
});
