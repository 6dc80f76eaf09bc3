import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { Compression, Metadata, RpcError, StatusCode, unaryStreamRpcMethodHandler } from '../../lib/index.js';
import { decode, defer, encode, eventually, sleep, startServer, type TestServer } from '../helpers/grpc.js';
import { frame, grpcHeaders, parseMessages, rawRequest, statusOf } from '../helpers/raw.js';

// Issue 17: a server stream gathers the messages a handler yields within one turn into one
// write. What a client sees must not change: every byte, the order, the compressed flags, the
// status after the last message, a lone message sent at once, and a bounded server when the
// client stops reading.

/** Message `i` of a stream, its size varied around the 16 KiB write limit and past it. */
function message(i: number): string {
  const sizes = [0, 1, 7, 1000, 1024, 4091, 16_379, 16_384, 40_000];
  return `${i}:`.padEnd(sizes[i % sizes.length]!, String.fromCharCode(97 + (i % 26)));
}

const COUNT = 400;

describe('server streams coalesce the messages of one turn (issue 17)', () => {
  let server: TestServer;
  const waitingForClient = defer<void>();
  const clientGotFirst = defer<void>();
  let floodYielded = 0;

  before(async () => {
    server = await startServer({
      // Sync and async generators that never wait: everything they yield lands in one turn.
      SyncMany: unaryStreamRpcMethodHandler(function* () {
        for (let i = 0; i < COUNT; i++) yield message(i);
      }, decode, encode),
      AsyncMany: unaryStreamRpcMethodHandler(async function* () {
        for (let i = 0; i < COUNT; i++) yield message(i);
      }, decode, encode),
      ThenStatus: unaryStreamRpcMethodHandler(async function* (_r: string, ctx) {
        ctx.setTrailingMetadata(new Metadata().set('x-after', 'last'));
        for (let i = 0; i < 5; i++) yield `m${i}`;
        throw new RpcError(StatusCode.NOT_FOUND, 'Cannot find more: five were all');
      }, decode, encode),
      ThenCancel: unaryStreamRpcMethodHandler(async function* (_r: string, ctx) {
        for (let i = 0; i < 5; i++) yield `m${i}`;
        ctx.cancel();
        yield 'never';
      }, decode, encode),
      Mixed: unaryStreamRpcMethodHandler(function* (_r: string, ctx) {
        ctx.setCompression(Compression.Gzip);
        for (let i = 0; i < 12; i++) {
          if (i % 3 !== 0) ctx.disableNextMessageCompression();
          yield `${i}`.padEnd(300, 'z');
        }
      }, decode, encode),
      Lone: unaryStreamRpcMethodHandler(async function* () {
        yield 'first';
        // Nothing else is yielded until the client has the first message: a sender that held
        // it back for company would never get here.
        waitingForClient.resolve();
        await clientGotFirst;
        yield 'second';
      }, decode, encode),
      Flood: unaryStreamRpcMethodHandler(function* (_r: string, ctx) {
        while (!ctx.signal.aborted) {
          yield 'tiny';
          floodYielded++;
        }
      }, decode, encode),
    });
  });
  after(() => server.close());

  for (const method of ['SyncMany', 'AsyncMany']) {
    it(`${method}: every message arrives intact and in order, then OK`, async () => {
      const r = await rawRequest(server.address, grpcHeaders(`/test.Svc/${method}`), frame(''));
      assert.equal(statusOf(r).code, StatusCode.OK);
      assert.equal(r.messages.length, COUNT);
      for (let i = 0; i < COUNT; i++) {
        assert.equal(r.messages[i]!.compressed, false);
        assert.equal(r.messages[i]!.payload.toString(), message(i), `message ${i}`);
      }
    });
  }

  it('sends the messages of the turn before the error status and its trailers', async () => {
    const r = await rawRequest(server.address, grpcHeaders('/test.Svc/ThenStatus'), frame(''));
    assert.deepEqual(
      r.messages.map((m) => m.payload.toString()),
      ['m0', 'm1', 'm2', 'm3', 'm4'],
    );
    assert.deepEqual(statusOf(r), { code: StatusCode.NOT_FOUND, message: 'Cannot find more: five were all', trailersOnly: false });
    assert.equal(r.trailers?.['x-after'], 'last');
  });

  it('sends the messages of the turn before the reset of context.cancel()', async () => {
    const r = await rawRequest(server.address, grpcHeaders('/test.Svc/ThenCancel'), frame(''));
    assert.deepEqual(
      r.messages.map((m) => m.payload.toString()),
      ['m0', 'm1', 'm2', 'm3', 'm4'],
    );
    assert.equal(r.rstCode, http2.constants.NGHTTP2_CANCEL);
    assert.equal(r.trailers, undefined);
  });

  it('keeps each message’s compressed flag when compressed and plain messages mix in one turn', async () => {
    const r = await rawRequest(server.address, grpcHeaders('/test.Svc/Mixed', { 'grpc-accept-encoding': 'gzip' }), frame(''));
    assert.equal(statusOf(r).code, StatusCode.OK);
    assert.equal(r.headers['grpc-encoding'], 'gzip');
    assert.deepEqual(
      r.messages.map((m) => m.compressed),
      Array.from({ length: 12 }, (_, i) => i % 3 === 0),
    );
    const { gunzipSync } = await import('node:zlib');
    r.messages.forEach((m, i) => assert.equal((m.compressed ? gunzipSync(m.payload) : m.payload).toString(), `${i}`.padEnd(300, 'z')));
  });

  it('sends a lone message at once: the handler waits for the client to have it', async () => {
    const session = http2.connect(`http://${server.address}`);
    session.on('error', () => undefined);
    try {
      const stream = session.request(grpcHeaders('/test.Svc/Lone'));
      stream.on('error', () => undefined);
      const chunks: Buffer[] = [];
      const ended = defer<void>();
      stream.on('data', (c: Buffer) => {
        chunks.push(c);
        if (parseMessages(Buffer.concat(chunks)).length === 1) clientGotFirst.resolve();
      });
      stream.on('close', () => ended.resolve());
      stream.end(frame(''));
      await waitingForClient;
      // Bounded: without the first message, the handler never goes on and the call never ends.
      const late = sleep(2000).then(() => 'timed out');
      assert.equal(await Promise.race([clientGotFirst.then(() => 'received'), late]), 'received');
      await ended;
      assert.deepEqual(
        parseMessages(Buffer.concat(chunks)).map((m) => m.payload.toString()),
        ['first', 'second'],
      );
    } finally {
      session.destroy();
    }
  });

  it('pauses a generator of small messages when the client reads nothing: server memory stays bounded', async () => {
    const session = http2.connect(`http://${server.address}`);
    session.on('error', () => undefined);
    try {
      const stream = session.request(grpcHeaders('/test.Svc/Flood'));
      stream.on('error', () => undefined);
      stream.pause(); // never read
      stream.end(frame(''));
      await eventually(() => floodYielded > 0, 2000, 'the handler to start');
      await sleep(200);
      const plateau = floodYielded;
      await sleep(200);
      assert.equal(floodYielded, plateau, 'no yield returns while the client is not reading');
      // 9 bytes a message on the wire: the 64 KiB stream window, the 64 KiB a stream may queue
      // and one 16 KiB batch hold under 17,000 of them; an unbounded sender reaches millions.
      assert.ok(plateau * 9 < 256 * 1024, `${plateau} messages yielded to a client that read nothing`);
      let read = 0;
      stream.on('data', (c: Buffer) => (read += c.length));
      stream.resume();
      await eventually(() => floodYielded > plateau + 20_000, 5000, 'the generator to resume once the client reads');
      assert.ok(read > plateau * 9);
      stream.close(http2.constants.NGHTTP2_CANCEL);
    } finally {
      session.destroy();
    }
  });
});
