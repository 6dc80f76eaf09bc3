import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { unaryUnaryRpcMethodHandler } from '../../lib/index.js';
import { decode, encode, startServer } from '../helpers/grpc.js';

describe('connection age', () => {
  it('grpc.max_connection_age_ms just under INT_MAX with +10% jitter does not overflow the timer into an immediate GOAWAY', async (t) => {
    t.after(() => mock.restoreAll());
    mock.method(Math, 'random', () => 0.999); // the largest jitter: 2_147_000_000 x 1.1 > 2^31-1
    const s = await startServer({ Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode) }, { options: { 'grpc.max_connection_age_ms': 2_147_000_000 } });
    const session = http2.connect(`http://${s.address}`);
    session.on('error', () => undefined);
    let goaways = 0;
    session.on('goaway', () => goaways++);
    await new Promise((resolve) => session.once('remoteSettings', resolve));
    mock.restoreAll();
    // An overflowed timer fires after 1 ms; give it ample time to show.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(goaways, 0);
    session.destroy();
    await s.close();
  });
});
