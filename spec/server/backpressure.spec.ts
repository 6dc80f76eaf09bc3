import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { streamStreamRpcMethodHandler, unaryStreamRpcMethodHandler } from '../../lib/index.js';
import { decode, defer, encode, eventually, sleep, startServer, type TestServer } from '../helpers/grpc.js';
import { frame, grpcHeaders } from '../helpers/raw.js';

const KiB = Buffer.alloc(1024, 0x61).toString();

describe('backpressure: a handler runs at the client’s pace', () => {
  let server: TestServer;
  let yielded = 0;
  let received = 0;
  const gate = defer();
  before(async () => {
    server = await startServer({
      Flood: unaryStreamRpcMethodHandler(async function* (_r: string, ctx) {
        while (!ctx.signal.aborted) {
          yield KiB;
          yielded++;
        }
      }, decode, encode),
      Sink: streamStreamRpcMethodHandler(async function* (reqs: AsyncIterable<string>) {
        await gate; // not reading yet
        for await (const _ of reqs) received++;
      }, decode, encode),
    });
  });
  after(() => server.close());

  it('pauses a generator that yields faster than the client reads, and resumes when it reads', async () => {
    const session = http2.connect(`http://${server.address}`);
    session.on('error', () => undefined);
    const stream = session.request(grpcHeaders('/test.Svc/Flood'));
    stream.on('error', () => undefined);
    stream.pause(); // the client reads nothing
    stream.end(frame(''));
    await eventually(() => yielded > 0, 2000, 'the handler to start');
    const rssBefore = process.memoryUsage().rss;
    await sleep(300);
    const plateau = yielded;
    await sleep(300);
    assert.equal(yielded, plateau, 'no yield returns while the client is not reading');
    // What is in flight is bounded by the HTTP/2 windows and stream buffers, not by the handler.
    assert.ok(plateau < 1000, `yielded ${plateau} KiB messages to a client that read nothing`);
    assert.ok(process.memoryUsage().rss - rssBefore < 50 * 1024 * 1024);
    let read = 0;
    stream.on('data', (c: Buffer) => (read += c.length));
    stream.resume();
    await eventually(() => yielded > plateau + 1000, 5000, 'the generator to resume once the client reads');
    assert.ok(read > plateau * 1024);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    session.destroy();
  });

  it('reads requests only as the handler pulls them, so a client is held back by flow control', async () => {
    const session = http2.connect(`http://${server.address}`);
    session.on('error', () => undefined);
    const stream = session.request(grpcHeaders('/test.Svc/Sink'));
    stream.on('error', () => undefined);
    const chunk = frame(KiB);
    let written = 0;
    let blocked = false;
    const writer = (async () => {
      for (let i = 0; i < 5000; i++) {
        written++;
        if (!stream.write(chunk)) {
          blocked = true;
          await new Promise((resolve) => stream.once('drain', resolve));
          blocked = false;
        }
      }
      stream.end();
    })();
    await eventually(() => blocked, 5000, 'the client to be blocked');
    await sleep(300);
    const heldAt = written;
    assert.equal(blocked, true, 'the client stays blocked while the handler does not read');
    assert.ok(heldAt < 2000, `the client got ${heldAt} KiB in before being held back`);
    gate.resolve();
    await writer;
    await eventually(() => received === 5000, 10_000, 'every request to arrive once the handler reads');
    session.destroy();
  });
});
