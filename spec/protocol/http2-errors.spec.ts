import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusCode } from '../../lib/index.js';
import { statusFromNodeError, statusFromRstCode } from '../../lib/protocol/index.js';

// doc/statuscodes.md: a transient transport failure is UNAVAILABLE, so callers may retry it.
describe('Node and HTTP/2 errors map to gRPC statuses', () => {
  it('a session out of stream ids is UNAVAILABLE (a new connection can serve the call)', () => {
    const err = Object.assign(new Error('No stream ID is available because maximum stream ID has been reached'), { code: 'ERR_HTTP2_OUT_OF_STREAMS' });
    const status = statusFromNodeError(err);
    assert.equal(status.code, StatusCode.UNAVAILABLE);
    assert.equal(status.cause, err);
  });

  it('connection loss is UNAVAILABLE and an unknown Node error INTERNAL', () => {
    assert.equal(statusFromNodeError(Object.assign(new Error('reset'), { code: 'ECONNRESET' })).code, StatusCode.UNAVAILABLE);
    assert.equal(statusFromNodeError(Object.assign(new Error('odd'), { code: 'ERR_SOMETHING_ELSE' })).code, StatusCode.INTERNAL);
  });

  it('RST_STREAM codes map per PROTOCOL-HTTP2.md', () => {
    assert.equal(statusFromRstCode(0x0).code, StatusCode.INTERNAL); // NO_ERROR before the status
    assert.equal(statusFromRstCode(0x7).code, StatusCode.UNAVAILABLE); // REFUSED_STREAM
    assert.equal(statusFromRstCode(0x8).code, StatusCode.CANCELLED); // CANCEL
    assert.equal(statusFromRstCode(0xb).code, StatusCode.RESOURCE_EXHAUSTED); // ENHANCE_YOUR_CALM
    assert.equal(statusFromRstCode(0xc).code, StatusCode.PERMISSION_DENIED); // INADEQUATE_SECURITY
  });
});
