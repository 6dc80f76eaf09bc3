import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RpcError, StatusCode, inProcessChannel, server, unaryUnaryRpcMethodHandler } from '../../lib/index.js';

describe('RpcError', () => {
  it('takes trailing metadata as a Metadata, [key, value] pairs or a plain object, as every metadata argument does', () => {
    const pairs = new RpcError(StatusCode.NOT_FOUND, 'gone', { trailingMetadata: [['x-where', 'here'], ['x-raw-bin', new Uint8Array([7])]] });
    assert.equal(pairs.trailingMetadata.get('x-where'), 'here');
    assert.deepEqual(pairs.trailingMetadata.get('x-raw-bin'), new Uint8Array([7]));
    const object = new RpcError(StatusCode.NOT_FOUND, 'gone', { trailingMetadata: { 'x-where': ['a', 'b'] } });
    assert.deepEqual(object.trailingMetadata.getAll('x-where'), ['a', 'b']);
  });

  it('thrown by a handler with pairs as trailers, reaches the client with that status and those trailers', async () => {
    const srv = server();
    srv.addRegisteredMethodHandlers('t.S', {
      Fail: unaryUnaryRpcMethodHandler(() => {
        throw new RpcError(StatusCode.NOT_FOUND, 'no such thing', { trailingMetadata: [['x-why', 'deleted']] });
      }),
    });
    try {
      await assert.rejects(inProcessChannel(srv).unaryUnary('/t.S/Fail')(new Uint8Array(0)), (err: unknown) => {
        assert.ok(err instanceof RpcError);
        assert.equal(err.code, StatusCode.NOT_FOUND);
        assert.equal(err.details, 'no such thing');
        assert.equal(err.trailingMetadata.get('x-why'), 'deleted');
        return true;
      });
    } finally {
      await srv.stop(null);
    }
  });
});
