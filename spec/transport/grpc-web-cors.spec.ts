import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusCode, server, unaryUnaryRpcMethodHandler, type ServicerContext } from '../../lib/index.js';
import { decode, encode, startServer } from '../helpers/grpc.js';
import { WIRES, post, webFrame } from './grpc-web-wire.js';

// CORS (https://fetch.spec.whatwg.org/#http-cors-protocol) for gRPC-Web calls from pages on
// other origins: without Access-Control-Expose-Headers a browser cannot read grpc-status.

const APP = 'https://app.example';

const handlers = {
  Echo: unaryUnaryRpcMethodHandler((request: string, context: ServicerContext) => {
    context.sendInitialMetadata([['x-custom', 'c']]);
    return request;
  }, decode, encode),
  Fail: unaryUnaryRpcMethodHandler((_r: string, context: ServicerContext) => context.abort(StatusCode.PERMISSION_DENIED, 'no'), decode, encode),
};

const preflightHeaders = (origin: string, method = 'POST'): Record<string, string> => ({
  origin,
  'access-control-request-method': method,
  'access-control-request-headers': 'content-type,x-grpc-web,x-user-agent,grpc-timeout,x-custom-bin',
});

for (const wire of WIRES) {
  describe(`CORS over ${wire}`, () => {
    it('serves same-origin calls (no Origin) without any CORS setting, and adds no CORS headers', async () => {
      const s = await startServer(handlers);
      after(() => s.close());
      const r = await post(wire, s.address, '/test.Svc/Echo', webFrame('x'));
      assert.deepEqual(r.messages.map(String), ['x']);
      assert.equal(r.headers['access-control-allow-origin'], undefined);
    });

    it('answers a preflight from an allowed origin with 204, the requested headers, POST, the max age and Vary', async () => {
      const s = await startServer(handlers, { cors: { allowOrigins: [APP], maxAgeSeconds: 600 } });
      after(() => s.close());
      const r = await post(wire, s.address, '/test.Svc/Echo', '', { method: 'OPTIONS', headers: preflightHeaders(APP) });
      assert.equal(r.status, 204);
      assert.equal(r.headers['access-control-allow-origin'], APP);
      assert.equal(r.headers['access-control-allow-methods'], 'POST');
      assert.equal(r.headers['access-control-allow-headers'], 'content-type,x-grpc-web,x-user-agent,grpc-timeout,x-custom-bin');
      assert.equal(r.headers['access-control-max-age'], '600');
      assert.match(String(r.headers['vary']), /Origin/);
      assert.equal(r.headers['access-control-allow-credentials'], undefined);
    });

    it('refuses a preflight from another origin with 403 and one for another method with 405, each with a text body', async () => {
      const s = await startServer(handlers, { cors: { allowOrigins: [APP] } });
      after(() => s.close());
      const denied = await post(wire, s.address, '/test.Svc/Echo', '', { method: 'OPTIONS', headers: preflightHeaders('https://evil.example') });
      assert.equal(denied.status, 403);
      assert.equal(denied.headers['access-control-allow-origin'], undefined);
      assert.equal(denied.raw.toString(), 'Cannot allow cross-origin call: origin "https://evil.example" is not allowed');
      const put = await post(wire, s.address, '/test.Svc/Echo', '', { method: 'OPTIONS', headers: preflightHeaders(APP, 'PUT') });
      assert.equal(put.status, 405);
      assert.match(put.raw.toString(), /method "PUT" is not allowed/);
    });

    it('refuses every preflight with 403 when CORS is not configured', async () => {
      const s = await startServer(handlers);
      after(() => s.close());
      const r = await post(wire, s.address, '/test.Svc/Echo', '', { method: 'OPTIONS', headers: preflightHeaders(APP) });
      assert.equal(r.status, 403);
      assert.match(r.raw.toString(), /CORS is not enabled/);
    });

    it('exposes grpc-status, grpc-message, grpc-status-details-bin and the call\'s response metadata to an allowed origin', async () => {
      const s = await startServer(handlers, { cors: { allowOrigins: [APP] } });
      after(() => s.close());
      const ok = await post(wire, s.address, '/test.Svc/Echo', webFrame('x'), { headers: { origin: APP } });
      assert.equal(ok.headers['access-control-allow-origin'], APP);
      assert.match(String(ok.headers['vary']), /Origin/);
      const exposed = String(ok.headers['access-control-expose-headers']).split(/,\s*/);
      for (const name of ['grpc-status', 'grpc-message', 'grpc-status-details-bin', 'x-custom']) assert.ok(exposed.includes(name), `${name} in ${exposed.join()}`);
      // A Trailers-Only error: the status is in headers, which the page must be able to read.
      const failed = await post(wire, s.address, '/test.Svc/Fail', webFrame('x'), { headers: { origin: APP } });
      assert.equal(failed.headers['grpc-status'], String(StatusCode.PERMISSION_DENIED));
      assert.equal(failed.headers['access-control-allow-origin'], APP);
      assert.match(String(failed.headers['access-control-expose-headers']), /grpc-status/);
    });

    it('serves a call from an origin that is not allowed, but without CORS headers (the browser hides it)', async () => {
      const s = await startServer(handlers, { cors: { allowOrigins: [APP] } });
      after(() => s.close());
      const r = await post(wire, s.address, '/test.Svc/Echo', webFrame('x'), { headers: { origin: 'https://evil.example' } });
      assert.equal(r.headers['access-control-allow-origin'], undefined);
      assert.equal(r.headers['access-control-expose-headers'], undefined);
    });

    it('answers any origin with "*", and echoes the origin with allow-credentials when credentials are allowed', async () => {
      const any = await startServer(handlers, { cors: { allowOrigins: '*' } });
      after(() => any.close());
      const r1 = await post(wire, any.address, '/test.Svc/Echo', webFrame('x'), { headers: { origin: 'https://anything.example' } });
      assert.equal(r1.headers['access-control-allow-origin'], '*');
      const creds = await startServer(handlers, { cors: { allowOrigins: '*', allowCredentials: true } });
      after(() => creds.close());
      const r2 = await post(wire, creds.address, '/test.Svc/Echo', '', { method: 'OPTIONS', headers: preflightHeaders('https://anything.example') });
      assert.equal(r2.headers['access-control-allow-origin'], 'https://anything.example');
      assert.equal(r2.headers['access-control-allow-credentials'], 'true');
    });
  });
}

describe('the cors setting', () => {
  it('is checked at server(): bad origins, credentials or max age are errors naming the field', () => {
    assert.throws(() => server({ cors: { allowOrigins: 'https://app.example' as never } }), /allowOrigins must be "\*" or an array/);
    assert.throws(() => server({ cors: { allowOrigins: [APP], allowCredentials: 'yes' as never } }), /allowCredentials must be a boolean/);
    assert.throws(() => server({ cors: { allowOrigins: [APP], maxAgeSeconds: -1 } }), /maxAgeSeconds must be a whole number/);
  });
});
