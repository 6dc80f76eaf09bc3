// A lean HTTP/2 client that measures servers, the same for every contender: it frames
// requests by hand and counts response messages without decoding them.
//   node h2.mjs stream <port> <streams> <seconds> <size>   → STREAM <messages> <bytes> <seconds>
//   node h2.mjs pingpong <port> <round trips> <size>       → PINGPONG <p50 µs> <p99 µs>
//   node h2.mjs client-stream <port> <seconds> <size>       → CLIENTSTREAM <messages> <seconds>
//   node h2.mjs bidi <port> <seconds> <size>                → BIDI <messages> <seconds>
//   node h2.mjs idle <port> <streams> <per connection> [settle ms] → OPEN, then closes on stdin "close"
//   node h2.mjs idle-bidi <port> <streams> <per connection> → the same, each stream after one echo
//   node h2.mjs check-unary <port>                          → OK or a reason, for the smoke test
import http2 from 'node:http2';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const [mode, portText, ...rest] = process.argv.slice(2);
const port = Number(portText);
const PREFIX = '/grpc.testing.BenchmarkService/';

// SimpleRequest { response_size = size (field 2), payload { body = size bytes } (field 3) } by hand.
function request(size) {
  const varint = (n) => {
    const out = [];
    while (n > 0x7f) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return out;
  };
  const payload = Buffer.concat([Buffer.from([0x12, ...varint(size)]), Buffer.alloc(size)]);
  const body = Buffer.concat([Buffer.from([0x10, ...varint(size), 0x1a, ...varint(payload.length)]), payload]);
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  body.copy(frame, 5);
  return frame;
}

const connect = async () => {
  const session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 1 << 20 } });
  session.on('error', () => undefined);
  await once(session, 'connect');
  session.setLocalWindowSize?.(1 << 24);
  return session;
};
// The warm-up before a measured window: 300 ms, or half a window shorter than 600 ms (a smoke run).
// It starts at the first response message (bounded to 10 s): a server slow to start its
// first stream would otherwise use up a short warm-up and leave an empty window.
const warmUp = (seconds) => Math.min(300, seconds * 500);
let started;
const firstMessage = new Promise((resolve) => (started = resolve));
// The streams being counted, and why any of them ended before the client closed it: a stream
// that ends leaves its window empty, and the output says why.
let running = 0;
let closing = false;
let allEnded;
const ended = new Promise((resolve) => (allEnded = resolve));
const endings = [];
const watchEnd = (stream, what) => {
  running++;
  let why = 'no response';
  const status = (h) => (h['grpc-status'] === undefined ? undefined : `grpc-status ${h['grpc-status']} ${h['grpc-message'] ?? ''}`.trim());
  stream.on('response', (h) => (why = status(h) ?? `HTTP ${h[':status']}`));
  stream.on('trailers', (h) => (why = status(h) ?? 'trailers without grpc-status'));
  stream.on('close', () => {
    if (closing) return;
    endings.push(`${what} ended early: ${why}${stream.rstCode ? ` (RST_STREAM ${stream.rstCode})` : ''}`);
    if (--running === 0) allEnded();
  });
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const warmedUp = async (seconds) => {
  let timer;
  await Promise.race([firstMessage, ended, new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))]);
  clearTimeout(timer);
  await sleep(warmUp(seconds));
};
// A measured window lasts `seconds`, then on until it holds MIN_COUNTED messages (bounded to
// 10 s, and over once every stream has ended): a short window inside a stall of the server (a
// pause for GC, a busy machine) would otherwise come out empty. The rate is the count over the
// time taken, either way.
const MIN_COUNTED = 10;
const measure = async (seconds, counted) => {
  const start = process.hrtime.bigint();
  await sleep(seconds * 1000);
  const until = Date.now() + 10_000;
  while (counted() < MIN_COUNTED && running > 0 && Date.now() < until) await sleep(10);
  return Number(process.hrtime.bigint() - start) / 1e9;
};
const open = (session, method) =>
  session.request({ ':method': 'POST', ':path': PREFIX + method, 'content-type': 'application/grpc', te: 'trailers' }, { endStream: false });

/** Counts the messages in a response stream as they arrive. */
function counter(stream, onMessage) {
  let need = 0; // bytes of the current message still to come
  let header = 0; // prefix bytes still to read
  let length = 0;
  let prefix = 5;
  stream.on('data', (chunk) => {
    let i = 0;
    while (i < chunk.length) {
      if (need === 0) {
        if (prefix === 5) {
          header = 0;
          length = 0;
        }
        while (prefix > 0 && i < chunk.length) {
          if (prefix < 5) length = length * 256 + chunk[i];
          prefix--;
          i++;
        }
        if (prefix > 0) return;
        need = length;
        prefix = 5;
        if (need === 0) {
          onMessage(chunk.length);
          continue;
        }
      }
      const take = Math.min(need, chunk.length - i);
      need -= take;
      i += take;
      if (need === 0) onMessage(length);
    }
    void header;
  });
}

if (mode === 'stream') {
  const [streams, seconds, size] = rest.map(Number);
  const session = await connect();
  let messages = 0;
  let bytes = 0;
  const calls = [];
  for (let s = 0; s < streams; s++) {
    const stream = open(session, 'StreamingFromServer');
    stream.on('error', () => undefined);
    watchEnd(stream, `stream ${s + 1}`);
    counter(stream, (n) => {
      if (messages++ === 0) started();
      bytes += n;
    });
    stream.end(request(size)); // one request, then half-close: a server-streaming call
    calls.push(stream);
  }
  // Warm up, then count for the measured window only.
  await warmedUp(seconds);
  messages = 0;
  bytes = 0;
  const took = await measure(seconds, () => messages);
  const [m, b] = [messages, bytes];
  closing = true;
  for (const c of calls) c.close(http2.constants.NGHTTP2_CANCEL);
  for (const e of endings) console.log(e);
  console.log(`STREAM ${m} ${b} ${took}`);
  session.close();
} else if (mode === 'pingpong') {
  const [count, size] = rest.map(Number);
  const session = await connect();
  const stream = open(session, 'StreamingCall');
  stream.on('error', () => undefined);
  const frame = request(size);
  let resolveNext;
  counter(stream, () => resolveNext?.());
  const times = [];
  const warmup = Math.min(1000, Math.floor(count / 5));
  for (let i = 0; i < count + warmup; i++) {
    const got = new Promise((r) => (resolveNext = r));
    const t0 = process.hrtime.bigint();
    stream.write(frame);
    await got;
    if (i >= warmup) times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  stream.end();
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  console.log(`PINGPONG ${at(0.5).toFixed(1)} ${at(0.99).toFixed(1)}`);
  session.close();
} else if (mode === 'client-stream') {
  // Precomputed frames written as fast as flow control lets them leave, on one client-streaming
  // call; the server answers only once it has read the last one, so the count it answers after
  // is the count it received.
  const [seconds, size] = rest.map(Number);
  const session = await connect();
  const BATCH = 64; // 64 messages per write: about 64 KiB
  const batch = Buffer.concat(Array.from({ length: BATCH }, () => request(size)));
  const call = async (ms) => {
    const stream = open(session, 'StreamingFromClient');
    stream.on('error', () => undefined);
    let responses = 0;
    let status;
    counter(stream, () => responses++);
    stream.on('trailers', (t) => (status = t['grpc-status']));
    const start = process.hrtime.bigint();
    const until = Date.now() + ms;
    let sent = 0;
    while (Date.now() < until) {
      sent += BATCH;
      if (!stream.write(batch)) await once(stream, 'drain');
    }
    stream.end();
    await once(stream, 'close');
    if (status !== '0' || responses !== 1) throw new Error(`client streaming ended with status ${status} and ${responses} responses`);
    return [sent, Number(process.hrtime.bigint() - start) / 1e9];
  };
  await call(warmUp(seconds));
  const [sent, took] = await call(seconds * 1000);
  console.log(`CLIENTSTREAM ${sent} ${took}`);
  session.close();
} else if (mode === 'bidi') {
  // One bidi call (StreamingCall, an echo): requests leave in batches of precomputed frames while
  // at most WINDOW messages are unanswered, so neither side buffers without bound; counts the
  // responses received in the measured window.
  const [seconds, size] = rest.map(Number);
  const session = await connect();
  const BATCH = 16;
  const WINDOW = 64;
  const batch = Buffer.concat(Array.from({ length: BATCH }, () => request(size)));
  const stream = open(session, 'StreamingCall');
  stream.on('error', () => undefined);
  watchEnd(stream, 'the bidi stream');
  let sent = 0;
  let received = 0;
  let counted = 0;
  const refill = () => {
    while (sent - received <= WINDOW - BATCH) {
      sent += BATCH;
      stream.write(batch);
    }
  };
  counter(stream, () => {
    if (received++ === 0) started();
    counted++;
    refill();
  });
  refill();
  await warmedUp(seconds);
  counted = 0;
  const took = await measure(seconds, () => counted);
  const m = counted;
  closing = true;
  stream.close(http2.constants.NGHTTP2_CANCEL);
  for (const e of endings) console.log(e);
  console.log(`BIDI ${m} ${took}`);
  session.close();
} else if (mode === 'idle' || mode === 'idle-bidi') {
  const [streams, perConnection, settle = 1000] = rest.map(Number);
  const echo = mode === 'idle-bidi' ? request(100) : undefined;
  const sessions = [];
  let opened = 0;
  while (opened < streams) {
    const session = await connect();
    sessions.push(session);
    const n = Math.min(perConnection, streams - opened);
    const ready = [];
    for (let i = 0; i < n; i++) {
      const stream = open(session, 'StreamingCall');
      stream.on('error', () => undefined);
      if (echo !== undefined) {
        // One message each way, so the handler has started and is waiting for the next one.
        ready.push(new Promise((resolve) => counter(stream, resolve)));
        stream.write(echo);
      } else if (stream.pending) ready.push(once(stream, 'ready')); // on a connected session it is ready at once
    }
    await Promise.all(ready);
    opened += n;
  }
  // Let the server take in every stream; an echoed message already says it has.
  if (echo === undefined) await new Promise((r) => setTimeout(r, settle));
  console.log('OPEN');
  const lines = createInterface({ input: process.stdin });
  await once(lines, 'line');
  for (const s of sessions) s.destroy();
  process.exit(0);
} else if (mode === 'check-unary') {
  const session = await connect();
  const stream = open(session, 'UnaryCall');
  let size = -1;
  let status;
  counter(stream, (n) => (size = n));
  stream.on('trailers', (t) => (status = t['grpc-status']));
  stream.end(request(100));
  await once(stream, 'close');
  session.close();
  // SimpleResponse { payload { body 100 } } is 2 + 2 + 100 = 104 bytes.
  console.log(status === '0' && size === 104 ? 'OK' : `status ${status}, response ${size} bytes`);
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
