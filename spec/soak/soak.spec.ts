// The 10-second soak (`npm run soak` runs the 60-second one): one grpc-iter server in its own
// process under a seeded mix of all four RPC kinds from four client processes (two on
// @grpc/grpc-js, one on raw node:http2, one on grpc-iter's client), with cancellations,
// deadlines, oversized and undecodable messages, truncated frames and dropped connections.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatSummary, runSoak } from '../../bench/soak/soak.js';

describe('soak: one server under a mixed, hostile load', { timeout: 90_000 }, () => {
  it('ends every call with its expected status, keeps memory flat and leaves no handle behind', async (t) => {
    // 4 s of warm-up first, so the measured second half is past the climb of a cold process.
    const result = await runSoak({ seconds: 10, warmupSeconds: 4, seed: 1 });
    for (const line of formatSummary(result).split('\n')) t.diagnostic(line);

    assert.ok(result.totalCalls > 1000, `the clients made calls (${result.totalCalls})`);
    for (const kind of ['unary', 'server-stream', 'client-stream', 'bidi']) {
      assert.ok(Object.keys(result.calls).some((action) => action.includes(kind)), `the mix has ${kind} calls`);
    }
    assert.deepEqual(result.unexpected, [], 'every call ended with the status expected for its action');
    assert.ok(result.rssSlope <= result.rssBound, `RSS after GC is flat: ${result.rssSlope.toFixed(0)} B/s <= ${result.rssBound.toFixed(0)} B/s`);
    assert.ok(result.heapSlope <= result.heapBound, `heap after GC is flat: ${result.heapSlope.toFixed(0)} B/s <= ${result.heapBound.toFixed(0)} B/s`);
    assert.equal(result.stats.active, 0, 'no call is left active on the server');
    assert.equal(result.stats.settled, result.stats.started, 'every handler returned or threw');
    assert.ok((result.stats.aborted['CANCELLED'] ?? 0) > 0 && (result.stats.aborted['DEADLINE_EXCEEDED'] ?? 0) > 0, 'cancellations and deadlines reached the handlers as aborted signals');
    assert.deepEqual(result.handles.leftover, {}, 'no socket or timer is left once the server has stopped');
    assert.deepEqual(result.failures, []);
  });
});
