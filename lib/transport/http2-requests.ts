import type { ServerHttp2Stream } from 'node:http2';
import { FRAME_HEADER_BYTES, RpcError, StatusCode, type Frame } from '../protocol/index.js';

/**
 * Reads a whole unary request from a node:http2 stream: every byte until END_STREAM, then
 * exactly one message. The length prefix is checked against `max` as soon as it arrives, so an
 * oversized claim fails before its body is buffered.
 * @param onReject - receives the function that fails the read (the call's cancel uses it)
 * @returns the one message, still compressed if its flag says so
 * @throws RpcError for a bad frame, a size over the limit, zero or several messages
 * @internal
 */
export function readUnaryRequest(stream: ServerHttp2Stream, max: number, onReject: (reject: ((err: unknown) => void) | undefined) => void): Promise<Frame> {
  return new Promise<Frame>((resolve, reject) => {
    let chunks: Buffer[] = [];
    let received = 0;
    let expected = -1; // the whole frame's length, once the prefix is known
    let failed = false;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      chunks = [];
      stream.off('data', onData);
      stream.off('end', onEnd);
      onReject(undefined);
      stream.resume(); // keep discarding whatever else arrives
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      received += chunk.length;
      if (expected < 0 && received >= FRAME_HEADER_BYTES) {
        const head = chunks[0]!.length >= FRAME_HEADER_BYTES ? chunks[0]! : Buffer.concat(chunks);
        const length = head.readUInt32BE(1);
        if (head[0]! > 1) return fail(new RpcError(StatusCode.INTERNAL, `Cannot decode message: compressed flag is ${head[0]!}, not 0 or 1`));
        if (max >= 0 && length > max) return fail(new RpcError(StatusCode.RESOURCE_EXHAUSTED, `Received message larger than max (${length} vs. ${max})`));
        expected = FRAME_HEADER_BYTES + length;
      }
      if (expected >= 0 && received > expected) {
        fail(new RpcError(StatusCode.INTERNAL, 'Cannot accept request: a unary method got more than one request message'));
      }
    };
    const onEnd = (): void => {
      if (failed) return;
      stream.off('data', onData);
      onReject(undefined);
      if (received === 0) return reject(new RpcError(StatusCode.INTERNAL, 'Cannot accept request: a unary method got no request message'));
      if (expected < 0 || received < expected) return reject(new RpcError(StatusCode.INTERNAL, 'Cannot decode message: stream ended in the middle of a message'));
      const frame = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
      resolve({ compressed: frame[0] === 1, payload: frame.subarray(FRAME_HEADER_BYTES) });
    };
    onReject(fail);
    stream.on('data', onData);
    stream.once('end', onEnd);
  });
}

/**
 * Runs a stream operation that node:http2 refuses with a throw once the peer has reset the
 * stream or the session is going away (ERR_HTTP2_INVALID_STREAM, ERR_HTTP2_HEADERS_SENT...).
 * The call's fate is then decided by the stream's 'close', so the throw carries nothing.
 * @internal
 */
export function guard(operation: () => void): void {
  try {
    operation();
  } catch {
    // see above: the 'close' listener reports the end of the call
  }
}

/**
 * Whether the half-close of a stream was in fact the first half of a cancel.
 *
 * node:http2 clients (grpc-js among them, and ours) cancel with `Http2Stream.close(code)`,
 * which ends the writable side first: the server reads END_STREAM, and the RST_STREAM in a
 * later read, within one turn of its event loop (spec/server/reliability.spec.ts pins this).
 * Ending the request iterator at END_STREAM would make such a cancel look like a client that
 * finished sending (DESIGN.md §1), so this waits for the reset, or for one full poll phase of
 * the event loop without one: two `setImmediate` turns, the first of which may run before the
 * loop polls the socket again. A reset already seen resolves at once.
 * @returns true when the client reset the stream
 * @internal
 */
export function halfCloseReset(stream: ServerHttp2Stream): Promise<boolean> {
  if (isReset(stream)) return Promise.resolve(true);
  if (stream.closed || stream.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    let immediate = setImmediate(() => {
      immediate = setImmediate(done);
    });
    function done(): void {
      clearImmediate(immediate);
      stream.off('aborted', done);
      stream.off('close', done);
      resolve(isReset(stream));
    }
    stream.once('aborted', done);
    stream.once('close', done);
  });
}

// 'aborted' is set as node:http2 handles the RST_STREAM; 'close' follows on a later tick.
function isReset(stream: ServerHttp2Stream): boolean {
  return stream.aborted || (stream.closed && stream.rstCode !== undefined && stream.rstCode !== 0);
}
