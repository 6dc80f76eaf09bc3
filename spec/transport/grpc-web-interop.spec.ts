// The interop server (npm run interop:server) serves gRPC-Web on its port with CORS open to
// any origin, so browser pages anywhere can run the interop cases gRPC-Web can express.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startInteropServer } from '../../examples/interop/server.js';
import type { Server } from '../../lib/index.js';
import { WIRES, post, webFrame } from './grpc-web-wire.js';

describe('the interop server over gRPC-Web', () => {
  let srv: Server;
  let address = '';
  before(async () => {
    const started = await startInteropServer({ port: 0, useTls: false, host: '127.0.0.1' });
    srv = started.server;
    address = `127.0.0.1:${started.port}`;
  });
  after(() => srv.stop(null));

  for (const wire of WIRES) {
    it(`answers a preflight from any origin and an empty_call with readable CORS headers over ${wire}`, async () => {
      const origin = 'https://interop.example';
      const preflight = await post(wire, address, '/grpc.testing.TestService/EmptyCall', '', {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-grpc-web,x-grpc-test-echo-initial' },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers['access-control-allow-origin'], '*');
      assert.equal(preflight.headers['access-control-allow-headers'], 'content-type,x-grpc-web,x-grpc-test-echo-initial');
      const call = await post(wire, address, '/grpc.testing.TestService/EmptyCall', webFrame(Buffer.alloc(0)), {
        headers: { origin, 'x-grpc-test-echo-initial': 'echoed' },
      });
      assert.equal(call.trailers?.['grpc-status'], '0');
      assert.deepEqual(call.messages.map((m) => m.length), [0]);
      assert.equal(call.headers['access-control-allow-origin'], '*');
      assert.equal(call.headers['x-grpc-test-echo-initial'], 'echoed');
      assert.match(String(call.headers['access-control-expose-headers']), /x-grpc-test-echo-initial/);
    });
  }
});
