import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { RpcError, StatusCode, insecureChannel, unaryUnaryRpcMethodHandler, type ParentCall } from '../../lib/index.js';
import { decode, defer, encode, startServer } from '../helpers/grpc.js';

// A call's signal (its own, a parent's, or both) cancels it, and once the call has ended no
// listener is left on either: a long-lived signal shared by many calls holds nothing per call.

const cleanup: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function setup() {
  let started = defer<void>();
  let cancelled = defer<void>();
  const srv = await startServer({
    Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode),
    Hang: unaryUnaryRpcMethodHandler(
      async (_r: string, context) => {
        started.resolve();
        await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), { once: true }));
        cancelled.resolve();
        return '';
      },
      decode,
      encode,
    ),
  });
  cleanup.push(() => srv.close());
  const channel = insecureChannel(srv.address);
  cleanup.push(() => channel.close());
  return {
    echo: channel.unaryUnary('/test.Svc/Echo', encode, decode),
    hang: channel.unaryUnary('/test.Svc/Hang', encode, decode),
    /** Resolves when the next Hang call starts, then when the server saw it cancelled. */
    next: () => {
      started = defer<void>();
      cancelled = defer<void>();
      return { started, cancelled };
    },
  };
}

const isCancelled = (err: unknown): boolean => err instanceof RpcError && err.code === StatusCode.CANCELLED;
const abortListeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length;

describe('call signals', () => {
  it("aborting the call's own signal cancels it on both sides; calls that ended leave no listener on it", async () => {
    const { echo, hang, next } = await setup();
    const shared = new AbortController();
    for (let i = 0; i < 20; i++) assert.equal(await echo(`m${i}`, { signal: shared.signal }), `m${i}`);
    assert.equal(abortListeners(shared.signal), 0);
    const { started, cancelled } = next();
    const call = hang('', { signal: shared.signal });
    await started;
    shared.abort();
    await assert.rejects(call, isCancelled);
    await cancelled;
    assert.equal(abortListeners(shared.signal), 0);
  });

  it("a parent's signal alone cancels the call; with the call's own signal too, either one does", async () => {
    const { echo, hang, next } = await setup();
    const parentController = new AbortController();
    const parent: ParentCall = { signal: parentController.signal, deadline: undefined };
    const own = new AbortController();
    assert.equal(await echo('a', { parent }), 'a');
    assert.equal(await echo('b', { parent, signal: own.signal }), 'b');
    assert.equal(abortListeners(parent.signal), 0);
    assert.equal(abortListeners(own.signal), 0);

    let wait = next();
    const both = hang('', { parent, signal: own.signal });
    await wait.started;
    own.abort();
    await assert.rejects(both, isCancelled);
    await wait.cancelled;

    wait = next();
    const inherited = hang('', { parent });
    await wait.started;
    parentController.abort();
    await assert.rejects(inherited, isCancelled);
    await wait.cancelled;
    assert.equal(abortListeners(parent.signal), 0);
  });
});
