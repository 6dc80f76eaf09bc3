// The gRPC-Web client's wire rules against hand-made responses (a fetch double), for the cases a
// real server does not produce on demand: Trailers-Only, HTTP errors, network failure, text
// bodies split at every byte, truncated or compressed bodies, and a consumer that stops reading.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RpcError, StatusCode } from '../../lib/index.js';
import { grpcWebChannel } from '../../lib/web/index.js';
import { RECEIVE_BUFFER_BYTES } from '../../lib/web/fetch-call.js';

const encoder = new TextEncoder();

function frame(flag: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = flag;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, 5);
  return out;
}
const message = (...bytes: number[]): Uint8Array => frame(0, new Uint8Array(bytes));
const trailers = (block: string): Uint8Array => frame(0x80, encoder.encode(block));
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** A fetch that answers every call with `respond`'s response and records the requests. */
function fakeFetch(respond: (init: RequestInit) => Response | Promise<Response>): typeof fetch & { calls: RequestInit[] } {
  const calls: RequestInit[] = [];
  const f = async (_url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    calls.push(init!);
    return respond(init!);
  };
  return Object.assign(f, { calls }) as typeof fetch & { calls: RequestInit[] };
}

const binaryType = { 'content-type': 'application/grpc-web+proto' };

async function unaryError(fetchImpl: typeof fetch, format: 'binary' | 'text' = 'binary'): Promise<RpcError> {
  const channel = grpcWebChannel('http://test.invalid', { fetch: fetchImpl, format });
  try {
    await channel.unaryUnary('/t.S/M')(new Uint8Array([1]), { timeout: 10 });
  } catch (err) {
    assert.ok(err instanceof RpcError, String(err));
    return err;
  } finally {
    channel.close();
  }
  return assert.fail('the call succeeded');
}

describe('grpc-iter/web wire rules', () => {
  it('reads a Trailers-Only answer: the status and trailers from the headers', async () => {
    const err = await unaryError(fakeFetch(() => new Response(null, { status: 200, headers: { ...binaryType, 'grpc-status': '5', 'grpc-message': 'no%20such%20key', 'x-why': 'gone' } })));
    assert.equal(err.code, StatusCode.NOT_FOUND);
    assert.equal(err.details, 'no such key');
    assert.equal(err.trailingMetadata.get('x-why'), 'gone');
  });

  it('maps an HTTP status without grpc-status per http-grpc-status-mapping.md', async () => {
    const cases: Array<[number, StatusCode]> = [
      [400, StatusCode.INTERNAL],
      [401, StatusCode.UNAUTHENTICATED],
      [403, StatusCode.PERMISSION_DENIED],
      [404, StatusCode.UNIMPLEMENTED],
      [429, StatusCode.UNAVAILABLE],
      [502, StatusCode.UNAVAILABLE],
      [503, StatusCode.UNAVAILABLE],
      [504, StatusCode.UNAVAILABLE],
      [500, StatusCode.UNKNOWN],
    ];
    for (const [http, code] of cases) {
      const err = await unaryError(fakeFetch(() => new Response('proxy says no', { status: http })));
      assert.equal(err.code, code, `HTTP ${http}`);
      assert.equal(err.details, `Received HTTP status ${http}`);
    }
  });

  it('ends UNAVAILABLE when fetch fails (network error), naming the URL', async () => {
    const err = await unaryError(fakeFetch(() => Promise.reject(new TypeError('fetch failed'))));
    assert.equal(err.code, StatusCode.UNAVAILABLE);
    assert.match(err.details, /^Cannot reach http:\/\/test\.invalid\/t\.S\/M: fetch failed$/);
  });

  it('ends UNAVAILABLE when the connection drops in the middle of the body', async () => {
    const err = await unaryError(
      fakeFetch(() => {
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(message(1));
            controller.error(new TypeError('terminated'));
          },
        });
        return new Response(body, { status: 200, headers: binaryType });
      }),
    );
    assert.equal(err.code, StatusCode.UNAVAILABLE);
  });

  it('ends INTERNAL for a body without a trailers frame, one cut inside a frame, and a compressed message', async () => {
    const noTrailers = await unaryError(fakeFetch(() => new Response(message(1), { status: 200, headers: binaryType })));
    assert.equal(noTrailers.code, StatusCode.INTERNAL);
    assert.match(noTrailers.details, /no trailers frame/);
    const cut = await unaryError(fakeFetch(() => new Response(message(1, 2, 3).subarray(0, 6), { status: 200, headers: binaryType })));
    assert.equal(cut.code, StatusCode.INTERNAL);
    assert.match(cut.details, /middle of a frame/);
    const compressed = await unaryError(fakeFetch(() => new Response(concat(frame(1, new Uint8Array([9])), trailers('grpc-status: 0\r\n')), { status: 200, headers: { ...binaryType, 'grpc-encoding': 'gzip' } })));
    assert.equal(compressed.code, StatusCode.INTERNAL);
    assert.match(compressed.details, /Cannot decompress response/);
  });

  it('ends UNKNOWN for a 200 response that is not gRPC-Web', async () => {
    const err = await unaryError(fakeFetch(() => new Response('<html>', { status: 200, headers: { 'content-type': 'text/html' } })));
    assert.equal(err.code, StatusCode.UNKNOWN);
    assert.match(err.details, /text\/html/);
  });

  it('ends RESOURCE_EXHAUSTED for a message over grpc.max_receive_message_length, from its length prefix', async () => {
    const channel = grpcWebChannel('http://test.invalid', {
      fetch: fakeFetch(() => new Response(frame(0, new Uint8Array(2000)).subarray(0, 5), { status: 200, headers: binaryType })),
      options: { 'grpc.max_receive_message_length': 1000 },
    });
    await assert.rejects(channel.unaryUnary('/t.S/M')(new Uint8Array()), (err: unknown) => err instanceof RpcError && err.code === StatusCode.RESOURCE_EXHAUSTED);
    channel.close();
  });

  it('sends text mode as base64 and decodes a text body split at every byte, padding between flushed chunks', async () => {
    // Two chunks the server flushed apart, each base64 on its own (PROTOCOL-WEB.md), so "=" sits mid-body.
    const text = Buffer.from(message(0x68, 0x69)).toString('base64') + Buffer.from(concat(message(0x21), trailers('grpc-status: 0\r\nx-t: v\r\n'))).toString('base64');
    assert.ok(text.indexOf('=') < text.length - 2, 'padding in the middle');
    const f = fakeFetch(() => {
      const bytes = encoder.encode(text);
      let i = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (i < bytes.length) controller.enqueue(bytes.subarray(i, ++i));
          else controller.close();
        },
      });
      return new Response(body, { status: 200, headers: { 'content-type': 'application/grpc-web-text+proto' } });
    });
    const channel = grpcWebChannel('http://test.invalid/', { fetch: f, format: 'text' });
    const call = channel.unaryStream('/t.S/M')(new Uint8Array([1, 2, 3]));
    const got: number[][] = [];
    for await (const m of call) got.push([...m]);
    channel.close();
    assert.deepEqual(got, [[0x68, 0x69], [0x21]]);
    assert.equal((await call.trailingMetadata()).get('x-t'), 'v');
    const init = f.calls[0]!;
    assert.equal(new Headers(init.headers).get('content-type'), 'application/grpc-web-text+proto');
    assert.equal(new Headers(init.headers).get('accept'), 'application/grpc-web-text+proto');
    assert.equal(init.body, Buffer.from([0, 0, 0, 0, 3, 1, 2, 3]).toString('base64'));
  });

  it('stops reading the body while the consumer lags, and reads on once it catches up', async () => {
    const chunk = frame(0, new Uint8Array(64 * 1024));
    const total = 32; // 2 MiB offered, far past the receive buffer
    let pulled = 0;
    const f = fakeFetch(
      () =>
        new Response(
          new ReadableStream<Uint8Array>(
            {
              pull(controller) {
                if (pulled === total) {
                  controller.enqueue(trailers('grpc-status: 0\r\n'));
                  controller.close();
                  return;
                }
                pulled++;
                controller.enqueue(chunk);
              },
            },
            { highWaterMark: 0 },
          ),
          { status: 200, headers: binaryType },
        ),
    );
    const channel = grpcWebChannel('http://test.invalid', { fetch: f });
    const it = channel.unaryStream('/t.S/M')(new Uint8Array())[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.done, false);
    // Let the reader run as far as it will with nobody consuming (there is no event for "it stopped").
    for (let i = 0; i < 50; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    const held = pulled;
    assert.ok(held * chunk.length <= RECEIVE_BUFFER_BYTES + 2 * chunk.length, `read ${held} chunks while the consumer lagged`);
    assert.ok(held < total);
    let count = 1;
    while (!(await it.next()).done) count++;
    channel.close();
    assert.equal(count, total, 'every message arrives once the consumer reads');
  });
});
