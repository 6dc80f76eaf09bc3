// Issue 15, zero-loss rolling restarts: a client calling at a steady rate while each of three
// replicas is stopped gracefully (GOAWAY, then the calls in flight finish) and started again at
// the same address sees no failed call. A call the server never took is refused, not lost: the
// GOAWAY's last-stream-id tells the client so, and it retries it transparently (gRFC A6).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { insecureChannel, RpcError, statusCodeName, type Channel } from '../../lib/index.js';
import { decode, defer, encode, eventually } from '../helpers/grpc.js';
import { startReplicas, TICKS, type ReplicaKind, type ReplicaSet } from '../helpers/replicas.js';

const cleanup: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

const UNARY_EVERY_MS = 2;
const STREAM_LOOPS = 3;
const CALL_TIMEOUT_S = 10;

interface Failure {
  readonly atMs: number;
  readonly during: string;
  readonly kind: 'unary' | 'stream';
  readonly code: string;
  readonly details: string;
}

interface Outcome {
  readonly failures: Failure[];
  readonly unaryStarted: number;
  readonly unaryOk: number;
  readonly streamsOk: number;
  /** Replicas stopped under a stream of theirs that then finished OK. */
  readonly streamedAcrossStop: readonly string[];
  /** Answers the client got, by the `host#generation` that sent them. */
  readonly answered: Map<string, number>;
  readonly set: ReplicaSet;
  readonly elapsedMs: number;
}

function describeFailure(f: Failure): string {
  return `${f.atMs} ms (${f.during}): ${f.kind} ${f.code} "${f.details}"`;
}

/** One unary answer from `host` through a channel of its own: the replica serves. */
async function probe(host: string, port: number): Promise<string> {
  const ch = insecureChannel(`ipv4:${host}:${port}`);
  try {
    return await ch.unaryUnary('/test.Svc/Name', encode, decode)('probe', { timeout: 5, waitForReady: true });
  } finally {
    ch.close();
  }
}

/**
 * Runs the load (a unary call every ~2 ms and three back-to-back server-streaming calls) on a
 * channel over the three replicas while each replica in turn is stopped with `stop(1)` and
 * started again, waiting for it to serve again before the next.
 */
async function rollingRestart(kind: ReplicaKind, policy: 'round_robin' | 'pick_first'): Promise<Outcome> {
  const set = await startReplicas(kind);
  cleanup.push(() => set.close());
  const channel: Channel = insecureChannel(set.target, policy === 'round_robin' ? { 'grpc.lb_policy_name': 'round_robin' } : {});
  cleanup.push(() => channel.close());
  const who = channel.unaryUnary('/test.Svc/Who', encode, decode);
  const ticks = channel.unaryStream('/test.Svc/Ticks', encode, decode);

  const answered = new Map<string, number>();
  const note = (name: string): void => void answered.set(name, (answered.get(name) ?? 0) + 1);
  // Before the load: round_robin has a connection to each replica, pick_first has its one.
  if (policy === 'round_robin') {
    const warmUp: Array<Promise<void>> = [];
    await eventually(
      () => {
        warmUp.push(who('x', { timeout: CALL_TIMEOUT_S }).then(note));
        return set.replicas.every((r) => answered.has(r.name));
      },
      5000,
      'round_robin to reach every replica',
    );
    await Promise.all(warmUp);
  } else {
    await who('x', { timeout: CALL_TIMEOUT_S });
  }
  answered.clear();
  for (const r of set.replicas) set.served.delete(r.name);

  const started = Date.now();
  let during = 'before the restarts';
  const failures: Failure[] = [];
  const fail = (kindOf: Failure['kind'], err: unknown): void => {
    const e = err instanceof RpcError ? err : undefined;
    failures.push({ atMs: Date.now() - started, during, kind: kindOf, code: e === undefined ? 'not an RpcError' : statusCodeName(e.code), details: e?.details ?? String(err) });
  };

  let unaryStarted = 0;
  let unaryOk = 0;
  let streamsOk = 0;
  const inFlight = new Set<Promise<void>>();
  const timer = setInterval(() => {
    unaryStarted++;
    const call = who('x', { timeout: CALL_TIMEOUT_S }).then(
      (name) => {
        unaryOk++;
        note(name);
      },
      (err: unknown) => fail('unary', err),
    );
    inFlight.add(call);
    void call.finally(() => inFlight.delete(call));
  }, UNARY_EVERY_MS);
  /**
   * One Ticks call to its end, counted; `keep(first)` false leaves it after its first message
   * (which cancels it: the client chose to, so it is neither a failure nor an answer).
   */
  const stream = async (keep: (first: string) => boolean = () => true): Promise<boolean> => {
    try {
      const names: string[] = [];
      for await (const name of ticks('x', { timeout: CALL_TIMEOUT_S })) {
        names.push(name);
        if (names.length === 1 && !keep(name)) return false;
      }
      assert.equal(names.length, TICKS, 'a stream ended early with OK');
      assert.equal(new Set(names).size, 1, 'a stream was answered by two servers');
      streamsOk++;
      note(names[0]!);
      return true;
    } catch (err) {
      fail('stream', err);
      return false;
    }
  };
  /** A stream that `name` is answering now, to be stopped under it; undefined if the channel sends none there. */
  const streamOn = async (name: string): Promise<Promise<boolean> | undefined> => {
    for (let tries = 0; tries < 30; tries++) {
      const first = defer<string | undefined>();
      const done = stream((n) => {
        first.resolve(n);
        return n === name;
      });
      void done.then(() => first.resolve(undefined));
      if ((await first) === name) return done;
      await done;
    }
    return undefined;
  };
  let running = true;
  const streamLoops = Array.from({ length: STREAM_LOOPS }, async () => {
    while (running) await stream();
  });
  // Replicas stopped while a stream of theirs was in flight, the stream then finishing OK.
  const streamedAcrossStop: string[] = [];

  try {
    // Steady traffic before the first stop, too.
    await eventually(() => unaryOk >= 100, 5000, 'calls before the restarts');
    for (const replica of set.replicas) {
      const inFlightStream = await streamOn(replica.name);
      during = `stopping ${replica.name}`;
      const stopped = replica.stop(1);
      if (inFlightStream !== undefined && (await inFlightStream)) streamedAcrossStop.push(replica.name);
      await stopped;
      during = `restarting ${replica.host}`;
      await replica.start();
      during = `waiting for ${replica.name} to serve`;
      assert.equal(await probe(replica.host, set.port), replica.name);
      if (policy === 'round_robin') {
        // Serving again means taking this client's calls again, not only answering a probe.
        await eventually(() => answered.has(replica.name), 5000, `round_robin to send calls to ${replica.name} again`);
      }
      // Steady traffic on the new set of servers before the next stop.
      const okBefore = unaryOk;
      await eventually(() => unaryOk >= okBefore + 100, 5000, `calls after restarting ${replica.host}`);
    }
    during = 'after the restarts';
    // Some load after the last restart, on the new servers only.
    const atEnd = new Map(answered);
    await eventually(
      () => set.replicas.some((r) => (answered.get(r.name) ?? 0) - (atEnd.get(r.name) ?? 0) >= 50),
      5000,
      'calls after the last restart',
    );
  } finally {
    clearInterval(timer);
    running = false;
    await Promise.all(streamLoops);
    await Promise.all(inFlight);
  }
  return { failures, unaryStarted, unaryOk, streamsOk, streamedAcrossStop, answered, set, elapsedMs: Date.now() - started };
}

/** What every rolling restart must show, whichever the policy. */
function assertNoLoss(o: Outcome): void {
  assert.deepEqual(o.failures.map(describeFailure), [], 'no call failed during the rolling restart');
  assert.equal(o.unaryOk, o.unaryStarted, 'every unary call succeeded');
  // A steady rate, not a stalled loop: at least a quarter of one call every 2 ms.
  assert.ok(o.unaryStarted >= o.elapsedMs / UNARY_EVERY_MS / 4, `${o.unaryStarted} unary calls in ${o.elapsedMs} ms`);
  assert.ok(o.streamsOk >= STREAM_LOOPS * 5, `${o.streamsOk} streams finished`);
  // Every answer the client counted was counted by the server that sent it, and no server
  // answered a call the client did not count: nothing went missing between them.
  assert.deepEqual(new Map([...o.set.served].filter(([, n]) => n > 0).sort()), new Map([...o.answered].sort()));
  const total = [...o.answered.values()].reduce((a, b) => a + b, 0);
  assert.equal(total, o.unaryOk + o.streamsOk);
}

async function assertEveryReplicaServes(set: ReplicaSet): Promise<void> {
  for (const r of set.replicas) {
    assert.equal(r.generation, 2, `${r.host} was restarted once`);
    assert.equal(await probe(r.host, set.port), r.name);
  }
}

for (const kind of ['grpc-iter', 'grpc-js'] as const) {
  describe(`15: rolling restart of three ${kind} replicas`, () => {
    it('round_robin: no call fails, and every restarted replica takes calls again', { timeout: 30_000 }, async () => {
      const o = await rollingRestart(kind, 'round_robin');
      assertNoLoss(o);
      for (const r of o.set.replicas) {
        assert.ok((o.answered.get(`${r.host}#0`) ?? 0) > 0, `${r.host}#0 took calls before its restart`);
        assert.ok((o.answered.get(r.name) ?? 0) > 0, `${r.name} took calls after its restart`);
      }
      assert.deepEqual(o.streamedAcrossStop, ['127.0.0.1#0', '127.0.0.2#0', '127.0.0.3#0'], 'a stream in flight on each stopped replica finished');
      await assertEveryReplicaServes(o.set);
    });

    it('pick_first: no call fails, and the calls follow the channel off each stopped replica', { timeout: 30_000 }, async () => {
      const o = await rollingRestart(kind, 'pick_first');
      assertNoLoss(o);
      // pick_first sits on 127.0.0.1#0 first; its stop moves the calls to another server.
      assert.ok((o.answered.get('127.0.0.1#0') ?? 0) > 0, 'the first replica took the calls first');
      assert.ok([...o.answered.keys()].filter((n) => n.endsWith('#1')).length > 0, 'a restarted replica took calls');
      assert.ok(o.answered.size >= 2, `the calls moved: ${[...o.answered.keys()].join(', ')}`);
      assert.ok(o.streamedAcrossStop.includes('127.0.0.1#0'), 'a stream in flight on the first replica finished after its stop');
      await assertEveryReplicaServes(o.set);
    });
  });
}
