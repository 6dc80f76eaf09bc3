import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import {
  StatusCode,
  insecureChannel,
  methodHandlersGenericHandler,
  registerLoadBalancer,
  registerResolver,
  server,
  unaryUnaryRpcMethodHandler,
  type Channel,
  type ConnectivityState,
  type RpcError,
  type ResolverListener,
  type Server,
  type Subchannel,
} from '../../lib/index.js';
import { CONNECTION_ATTEMPT_DELAY_MS } from '../../lib/client/pick-first.js';
import { decode, encode, eventually } from '../helpers/grpc.js';

const cleanup: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

/** A server on `host` answering /lb.Svc/Who with its name. */
async function replica(name: string, host = '127.0.0.1', port = 0): Promise<{ srv: Server; port: number }> {
  const srv = server({ handlers: [methodHandlersGenericHandler('lb.Svc', { Who: unaryUnaryRpcMethodHandler(() => name, decode, encode) })] });
  const bound = await srv.addInsecurePort(`${host}:${port}`);
  await srv.start();
  cleanup.push(() => srv.stop(null));
  return { srv, port: bound };
}

function channel(target: string, options: Record<string, unknown> = {}): Channel {
  const ch = insecureChannel(target, { 'grpc.initial_reconnect_backoff_ms': 50, 'grpc.max_reconnect_backoff_ms': 200, 'grpc.min_reconnect_backoff_ms': 1000, ...options });
  cleanup.push(() => ch.close());
  return ch;
}

const who = (ch: Channel, options: { timeout?: number; waitForReady?: boolean } = {}): Promise<string> => ch.unaryUnary('/lb.Svc/Who', encode, decode)('', { timeout: 5, ...options });

async function tally(ch: Channel, n: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const name = await who(ch);
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A listener that accepts connections and never answers: an attempt to it hangs. */
async function blackHole(): Promise<number> {
  const sockets: net.Socket[] = [];
  const s = net.createServer((socket) => sockets.push(socket));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  cleanup.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((r) => s.close(r));
  });
  return (s.address() as AddressInfo).port;
}

describe('pick_first (gRFC A61)', () => {
  it('sends every call to the first address that connects, skipping one that refuses', async () => {
    const dead = await deadPort();
    const a = await replica('a');
    const b = await replica('b');
    const ch = channel(`ipv4:127.0.0.1:${dead},127.0.0.1:${a.port},127.0.0.1:${b.port}`);
    assert.deepEqual([...(await tally(ch, 10))], [['a', 10]]);
    assert.equal(ch.getState(), 'READY');
  });

  it('tries the next address when one is still connecting after the attempt delay (Happy Eyeballs)', async () => {
    const hole = await blackHole();
    const a = await replica('a');
    const ch = channel(`ipv4:127.0.0.1:${hole},127.0.0.1:${a.port}`);
    const started = Date.now();
    assert.equal(await who(ch), 'a');
    const took = Date.now() - started;
    assert.ok(took >= CONNECTION_ATTEMPT_DELAY_MS - 20, `answered after ${took} ms, before the attempt delay`);
    assert.ok(took < 2000, `answered after ${took} ms: the slow address held the channel up`);
  });

  it('goes IDLE when its connection goes away, and the next call connects again (to the next address if the first is gone)', async () => {
    const a = await replica('a');
    const b = await replica('b');
    const ch = channel(`ipv4:127.0.0.1:${a.port},127.0.0.1:${b.port}`);
    assert.equal(await who(ch), 'a');
    const states: ConnectivityState[] = [];
    ch.subscribe((s) => states.push(s));
    await a.srv.stop(0.5);
    await eventually(() => states.includes('IDLE'), 3000, 'the channel to go IDLE');
    assert.equal(await who(ch), 'b');
  });

  it('fails fast UNAVAILABLE naming the addresses once all have failed, and stays TRANSIENT_FAILURE while they retry', async () => {
    const p1 = await deadPort();
    const p2 = await deadPort();
    const ch = channel(`ipv4:127.0.0.1:${p1},127.0.0.1:${p2}`);
    await assert.rejects(who(ch), (err: RpcError) => {
      assert.equal(err.code, StatusCode.UNAVAILABLE);
      assert.match(err.details, /all 2 addresses failed/);
      assert.match(err.details, /ECONNREFUSED/);
      return true;
    });
    const states: ConnectivityState[] = [];
    ch.subscribe((s) => states.push(s));
    await new Promise((r) => setTimeout(r, 600)); // several backoffs of 50-200 ms
    // subscribe() reports the current state first; sticky TRANSIENT_FAILURE never flaps back to CONNECTING.
    assert.deepEqual(states, ['TRANSIENT_FAILURE']);
    assert.equal(ch.getState(), 'TRANSIENT_FAILURE');
  });

  it('a waitForReady call waits through the failures and is answered when a replica comes up', async () => {
    const { port } = await replica('probe');
    const ch = channel(`ipv4:127.0.0.1:${await deadPort()},127.0.0.2:${port}`);
    // 127.0.0.2 has nothing on that port yet.
    await assert.rejects(who(ch), (err: RpcError) => err.code === StatusCode.UNAVAILABLE);
    const pending = who(ch, { waitForReady: true });
    await replica('late', '127.0.0.2', port);
    assert.equal(await pending, 'late');
  });

  it('shuffleAddressList spreads channels over the addresses', async () => {
    const a = await replica('a');
    const b = await replica('b');
    const seen = new Set<string>();
    for (let i = 0; i < 16 && seen.size < 2; i++) {
      const ch = channel(`ipv4:127.0.0.1:${a.port},127.0.0.1:${b.port}`, { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ pick_first: { shuffleAddressList: true } }] }) });
      seen.add(await who(ch));
      ch.close();
    }
    assert.deepEqual([...seen].sort(), ['a', 'b']);
    // Without shuffling every channel picks the first.
    for (let i = 0; i < 4; i++) {
      const ch = channel(`ipv4:127.0.0.1:${a.port},127.0.0.1:${b.port}`);
      assert.equal(await who(ch), 'a');
      ch.close();
    }
  });
});

describe('round_robin', () => {
  it('spreads calls evenly over every address, by grpc.lb_policy_name or the service config', async () => {
    const rs = [await replica('a'), await replica('b'), await replica('c')];
    const target = `ipv4:${rs.map((r) => `127.0.0.1:${r.port}`).join(',')}`;
    for (const options of [{ 'grpc.lb_policy_name': 'round_robin' }, { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ unknown_policy: {} }, { round_robin: {} }] }) }, { 'grpc.service_config': JSON.stringify({ loadBalancingPolicy: 'ROUND_ROBIN' }) }]) {
      const ch = channel(target, options);
      await ch.waitForReady();
      await eventually(() => ch.getState() === 'READY', 2000);
      // All three connect in the background; once they have, calls rotate.
      await new Promise((r) => setTimeout(r, 100));
      const counts = await tally(ch, 30);
      assert.deepEqual([...counts.keys()].sort(), ['a', 'b', 'c'], JSON.stringify(options));
      for (const n of counts.values()) assert.equal(n, 10, `uneven: ${JSON.stringify([...counts])}`);
    }
  });

  it('keeps serving from the others while one replica is down, and uses it again when it is back', async () => {
    const a = await replica('a');
    const b = await replica('b');
    const ch = channel(`ipv4:127.0.0.1:${a.port},127.0.0.1:${b.port}`, { 'grpc.lb_policy_name': 'round_robin' });
    await ch.waitForReady();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await tally(ch, 10)).size, 2);
    await a.srv.stop(0.5);
    const during = await tally(ch, 20);
    assert.deepEqual([...during], [['b', 20]]);
    await replica('a2', '127.0.0.1', a.port);
    let back = false;
    for (let i = 0; i < 200 && !back; i++) back = (await who(ch)) === 'a2';
    assert.ok(back, 'the restarted replica was never picked');
  });

  it('fails fast while every address is down; waitForReady calls wait for one', async () => {
    const { port } = await replica('probe');
    const dead = await deadPort();
    const ch = channel(`ipv4:127.0.0.1:${dead},127.0.0.3:${port}`, { 'grpc.lb_policy_name': 'round_robin' });
    await assert.rejects(who(ch), (err: RpcError) => err.code === StatusCode.UNAVAILABLE && /none of the 2 addresses is ready \(.*ECONNREFUSED/.test(err.details));
    const pending = who(ch, { waitForReady: true });
    await replica('up', '127.0.0.3', port);
    assert.equal(await pending, 'up');
  });
});

describe('policy and resolver registries', () => {
  it('refuses an unknown policy, and a service config naming only unknown ones, when the channel is made', () => {
    assert.throws(() => insecureChannel('localhost:1', { 'grpc.lb_policy_name': 'nope' }), /no load-balancing policy "nope" is registered/);
    assert.throws(() => insecureChannel('localhost:1', { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ a: {} }, { b: {} }] }) }), /no registered load-balancing policy among a, b/);
    assert.throws(() => insecureChannel('localhost:1', { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ pick_first: { shuffleAddressList: 'yes' } }] }) }), /shuffleAddressList must be a boolean/);
  });

  it('a registered policy and resolver are used by channels: the picker chooses per call, the resolver feeds addresses', async () => {
    const a = await replica('a');
    const b = await replica('b');
    // Resolves to whatever list the test sets; counts resolveNow requests.
    let listener: ResolverListener | undefined;
    let reresolutions = 0;
    registerResolver('lbtest', {
      authority: (target) => ({ authority: target.endpoint }),
      create(_target, l) {
        listener = l;
        l.onAddresses([{ host: '127.0.0.1', port: a.port }]);
        return { resolveNow: () => void reresolutions++, close: () => undefined };
      },
    });
    // "last": every call to the last READY subchannel of the list.
    registerLoadBalancer('last_ready', {
      create(helper) {
        let subchannels: Subchannel[] = [];
        const update = (): void => {
          const ready = subchannels.filter((s) => s.state === 'READY');
          const last = ready[ready.length - 1];
          helper.updateState(last === undefined ? 'CONNECTING' : 'READY', { pick: () => last });
        };
        return {
          updateAddresses(addresses) {
            for (const s of subchannels) s.close();
            subchannels = addresses.map((address) => helper.createSubchannel(address));
            for (const s of subchannels) {
              s.onStateChange((state) => {
                if (state === 'IDLE') helper.requestReresolution();
                update();
              });
              s.connect();
            }
            update();
          },
          resolverError: () => undefined,
          exitIdle: () => undefined,
          resetBackoff: () => undefined,
          close: () => subchannels.forEach((s) => s.close()),
        };
      },
    });
    const ch = channel('lbtest:///my-service', { 'grpc.lb_policy_name': 'last_ready' });
    assert.equal(await who(ch), 'a');
    listener!.onAddresses([
      { host: '127.0.0.1', port: a.port },
      { host: '127.0.0.1', port: b.port },
    ]);
    await eventually(() => ch.getState() === 'READY', 2000);
    let got = '';
    for (let i = 0; i < 50 && got !== 'b'; i++) got = await who(ch);
    assert.equal(got, 'b');
    assert.equal(reresolutions, 0);
    await b.srv.stop(0.2);
    await eventually(() => reresolutions > 0, 3000, 'the policy to ask the resolver again');
    assert.equal(await who(ch), 'a');
  });

  it('refuses a malformed scheme or provider', () => {
    assert.throws(() => registerResolver('1bad', { authority: () => ({ authority: '' }), create: () => ({ resolveNow() {}, close() {} }) }), /not a URI scheme/);
    assert.throws(() => registerResolver('good', {} as never), /expected an object with create and authority functions/);
    assert.throws(() => registerLoadBalancer('', { create: () => ({}) as never }), /expected a non-empty name/);
  });
});

describe('connection readiness', () => {
  it('a listener that accepts and drops connections never looks READY: waitForReady calls are not sent into it', async () => {
    let accepted = 0;
    const dropper = net.createServer((socket) => {
      accepted++;
      socket.destroy();
    });
    await new Promise<void>((r) => dropper.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => dropper.close(r)));
    const port = (dropper.address() as AddressInfo).port;
    const ch = channel(`127.0.0.1:${port}`);
    const states: ConnectivityState[] = [];
    ch.subscribe((s) => states.push(s));
    const call = who(ch, { waitForReady: true, timeout: 1 });
    await eventually(() => accepted >= 2, 3000, 'a few attempts');
    await assert.rejects(call, (err: RpcError) => {
      assert.equal(err.code, StatusCode.DEADLINE_EXCEEDED, err.details);
      return true;
    });
    assert.ok(!states.includes('READY'), `states: ${states.join(' ')}`);
  });
});

