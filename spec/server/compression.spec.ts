import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync, gzipSync, deflateSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { Compression, unaryStreamRpcMethodHandler, unaryUnaryRpcMethodHandler } from '../../lib/index.js';
import { decode, encode, jsClient, startServer, type TestServer } from '../helpers/grpc.js';
import { frame, grpcHeaders, rawRequest, statusOf } from '../helpers/raw.js';

const big = 'z'.repeat(2000);

describe('compression', () => {
  let plain: TestServer;
  let gzipDefault: TestServer;

  before(async () => {
    const handlers = {
      Echo: unaryUnaryRpcMethodHandler((r: string) => r, decode, encode),
      Mixed: unaryStreamRpcMethodHandler(function* (_r: string, ctx) {
        ctx.setCompression(Compression.Gzip);
        yield big;
        ctx.disableNextMessageCompression();
        yield big;
        yield big;
      }, decode, encode),
      Deflated: unaryUnaryRpcMethodHandler((_r: string, ctx) => {
        ctx.setCompression(Compression.Deflate);
        return big;
      }, decode, encode),
    };
    plain = await startServer(handlers);
    gzipDefault = await startServer(handlers, { compression: Compression.Gzip });
  });
  after(async () => {
    await plain.close();
    await gzipDefault.close();
  });

  it('compresses responses with the server default when the client accepts it', async () => {
    const r = await rawRequest(gzipDefault.address, grpcHeaders('/test.Svc/Echo', { 'grpc-accept-encoding': 'identity,gzip' }), frame(big));
    assert.equal(r.headers['grpc-encoding'], 'gzip');
    assert.equal(r.messages.length, 1);
    assert.equal(r.messages[0]!.compressed, true);
    assert.equal(gunzipSync(r.messages[0]!.payload).toString(), big);
    assert.equal(statusOf(r).code, 0);
  });

  it('sends identity to a client that does not accept the server default', async () => {
    const r = await rawRequest(gzipDefault.address, grpcHeaders('/test.Svc/Echo', { 'grpc-accept-encoding': 'identity' }), frame('x'));
    assert.equal(r.headers['grpc-encoding'], undefined);
    assert.equal(r.messages[0]!.compressed, false);
    assert.equal(r.messages[0]!.payload.toString(), 'x');
  });

  it('sends identity to a client that sends no grpc-accept-encoding', async () => {
    const r = await rawRequest(gzipDefault.address, grpcHeaders('/test.Svc/Echo'), frame('x'));
    assert.equal(r.messages[0]!.compressed, false);
  });

  it('round-trips with a grpc-js client that compresses requests and accepts gzip responses', async () => {
    const client = jsClient(gzipDefault.address, { Echo: 'unary' }, { 'grpc.default_compression_algorithm': grpc.compressionAlgorithms.gzip });
    assert.equal((await client.unary('Echo', big)).value, big);
    client.close();
  });

  it('decompresses gzip and deflate requests', async () => {
    const gz = await rawRequest(plain.address, grpcHeaders('/test.Svc/Echo', { 'grpc-encoding': 'gzip' }), frame(gzipSync(big), true));
    assert.equal(statusOf(gz).code, 0);
    assert.equal(gz.messages[0]!.payload.toString(), big);
    const df = await rawRequest(plain.address, grpcHeaders('/test.Svc/Echo', { 'grpc-encoding': 'deflate' }), frame(deflateSync('hello'), true));
    assert.equal(df.messages[0]!.payload.toString(), 'hello');
  });

  it('honours setCompression() and disableNextMessageCompression() per message', async () => {
    const r = await rawRequest(plain.address, grpcHeaders('/test.Svc/Mixed', { 'grpc-accept-encoding': 'gzip' }), frame(''));
    assert.equal(r.headers['grpc-encoding'], 'gzip');
    assert.deepEqual(r.messages.map((m) => m.compressed), [true, false, true]);
    assert.equal(r.messages[1]!.payload.toString(), big);
    assert.equal(gunzipSync(r.messages[2]!.payload).toString(), big);
  });

  it('compresses with deflate when a handler asks and the client accepts it', async () => {
    const client = jsClient(plain.address, { Deflated: 'unary' });
    assert.equal((await client.unary('Deflated', '')).value, big);
    client.close();
  });

  it('answers an unknown request grpc-encoding with UNIMPLEMENTED and lists what it accepts', async () => {
    const r = await rawRequest(plain.address, grpcHeaders('/test.Svc/Echo', { 'grpc-encoding': 'snappy' }), frame('x', true));
    const status = statusOf(r);
    assert.equal(status.code, grpc.status.UNIMPLEMENTED);
    assert.match(status.message!, /snappy/);
    assert.equal(r.headers['grpc-accept-encoding'], 'identity,deflate,gzip');
  });
});
