/**
 * A soak client process. It runs a seeded random mix of calls against the soak server for a
 * number of seconds, checks each call's final status against the one its kind of action must
 * end with, and prints `RESULT {json}` (calls by action and observed status).
 *
 *   node --import tsx bench/soak/worker.ts --port P --mode grpc-js|raw|grpc-iter --seed S --seconds T [--concurrency C]
 *
 * `grpc-js` drives most traffic through `@grpc/grpc-js` (code we did not write); `raw` sends
 * what no gRPC library will (truncated and malformed frames, bad headers) with `node:http2`;
 * `grpc-iter` uses our own client. Every mode also drops some connections mid-call (a raw
 * socket destroyed under a live stream), so abrupt disconnects come from several processes.
 * @packageDocumentation
 */
import http2 from 'node:http2';
import net from 'node:net';
import { once, type EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { insecureChannel, RpcError, statusCodeName, type Channel } from '../../lib/index.js';
import { PATHS, UNDECODABLE, decodeJson, encodeJson, frame, oversizeRequest, type SoakRequest, type SoakResponse } from './wire.js';

/** One action's tally: the status it must end with, and the statuses seen. */
export interface ActionTally {
  readonly expected: string;
  readonly observed: Record<string, number>;
}

/** What a worker prints when done. */
export interface WorkerResult {
  readonly mode: string;
  readonly calls: Record<string, ActionTally>;
}

interface Action {
  readonly name: string;
  /** The final status (a gRPC code name, or what the client saw locally) this action must end with. */
  readonly expected: string;
  readonly weight: number;
  /** Runs one call; resolves with the status observed, never rejects. */
  run(): Promise<string>;
}

/** An action that makes its call on a client it is given (a channel or connection). */
interface ClientAction<C> extends Omit<Action, 'run'> {
  run(client: C): Promise<string>;
}

function arg(name: string, fallback?: string): string {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? process.argv[at + 1] : fallback;
  if (value === undefined) throw new TypeError(`Cannot start soak worker: --${name} is missing`);
  return value;
}

const port = Number(arg('port'));
const mode = arg('mode');
const seconds = Number(arg('seconds'));
const concurrency = Number(arg('concurrency', '6'));
if (!(port > 0 && port < 65536)) throw new RangeError(`Cannot start soak worker: --port must be a TCP port, got "${arg('port')}"`);
const target = `127.0.0.1:${port}`;

// mulberry32: a small seeded PRNG, so a failing mix can be replayed with the same --seed.
let seed = Number(arg('seed')) >>> 0;
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const between = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));

/** A call that has not ended after this long counts as hung. */
const HANG_MS = 10_000;

/**
 * Calls per connection before a worker moves to a new one. nghttp2 (inside node:http2) ends a
 * connection whose peer resets more than a burst of 1000 streams, refilled at 33 a second, with
 * GOAWAY INTERNAL_ERROR (its HTTP/2 rapid-reset mitigation, CVE-2023-44487). This mix cancels
 * a call in six, far faster than that, so each connection carries at most this many calls.
 */
const CALLS_PER_CONNECTION = 300;

/**
 * A client object (channel, connection) replaced after {@link CALLS_PER_CONNECTION} calls; a
 * retired one is closed once its last call has ended, so closing never cuts a call short.
 */
class Rotating<T> {
  #current: Entry<T> | undefined;
  readonly #live = new Set<Entry<T>>();

  constructor(
    readonly make: () => T,
    readonly close: (value: T) => void,
  ) {}

  async use<R>(call: (value: T) => Promise<R>): Promise<R> {
    if (this.#current === undefined || this.#current.uses >= CALLS_PER_CONNECTION) {
      this.#current = { value: this.make(), uses: 0, inflight: 0 };
      this.#live.add(this.#current);
    }
    const entry = this.#current;
    entry.uses++;
    entry.inflight++;
    try {
      return await call(entry.value);
    } finally {
      entry.inflight--;
      if (entry !== this.#current && entry.inflight === 0) this.#retire(entry);
    }
  }

  #retire(entry: Entry<T>): void {
    this.#live.delete(entry);
    this.close(entry.value);
  }

  /** Closes every client object still open. */
  closeAll(): void {
    for (const entry of [...this.#live]) this.#retire(entry);
    this.#current = undefined;
  }
}

/** One client object of a {@link Rotating}, with the calls made on it and those still running. */
interface Entry<T> {
  readonly value: T;
  uses: number;
  inflight: number;
}

// ---------------------------------------------------------------------------------------------
// @grpc/grpc-js

// A local subchannel pool gives each client its own connection (grpc-js shares them otherwise).
const jsClients = new Rotating(
  () => new grpc.Client(target, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }),
  (client) => client.close(),
);
const raw = (b: Buffer): Buffer => b;
const json = (value: SoakRequest): Buffer => encodeJson(value);
const parse = (b: Uint8Array): SoakResponse => decodeJson<SoakResponse>(b);
const codeName = (code: number): string => statusCodeName(code);
const deadlineIn = (ms: number): grpc.CallOptions => ({ deadline: new Date(Date.now() + ms) });

/** Resolves with the call's status name, or `BAD_RESPONSE` when it is OK but `check` fails. */
function settle(call: EventEmitter, check: () => boolean = () => true): Promise<string> {
  return new Promise((resolve) => {
    call.on('error', () => undefined);
    call.on('status', (status: grpc.StatusObject) => {
      // The unary callback and the last 'data' event come before 'status'; let them land.
      setImmediate(() => resolve(status.code === grpc.status.OK && !check() ? 'BAD_RESPONSE' : codeName(status.code)));
    });
  });
}

function jsUnary(c: grpc.Client, request: Buffer, options: grpc.CallOptions = {}, path: string = PATHS.unary, check?: (r: SoakResponse | undefined) => boolean): Promise<string> {
  let response: SoakResponse | undefined;
  const call = c.makeUnaryRequest(path, raw, parse, request, new grpc.Metadata(), options, (_err, value) => (response = value));
  return settle(call, () => check?.(response) ?? true);
}

function jsServerStream(c: grpc.Client, request: SoakRequest, options: grpc.CallOptions, onData?: (r: SoakResponse, call: grpc.ClientReadableStream<SoakResponse>) => void): { seen: SoakResponse[]; done: Promise<string>; call: grpc.ClientReadableStream<SoakResponse> } {
  const call = c.makeServerStreamRequest(PATHS.serverStream, raw, parse, json(request), new grpc.Metadata(), options);
  const seen: SoakResponse[] = [];
  call.on('data', (r: SoakResponse) => {
    seen.push(r);
    onData?.(r, call);
  });
  return { seen, call, done: settle(call, () => seen.length === (request.n ?? 1) && seen.every((r, i) => r.i === i && r.pad.length === (request.size ?? 0))) };
}

function jsClientStream(c: grpc.Client, options: grpc.CallOptions = {}): { call: grpc.ClientWritableStream<Buffer>; response: () => SoakResponse | undefined } {
  let response: SoakResponse | undefined;
  const call = c.makeClientStreamRequest(PATHS.clientStream, raw, parse, new grpc.Metadata(), options, (_err, value) => (response = value));
  return { call, response: () => response };
}

function jsBidi(c: grpc.Client, options: grpc.CallOptions = {}): grpc.ClientDuplexStream<Buffer, SoakResponse> {
  return c.makeBidiStreamRequest(PATHS.bidi, raw, parse, new grpc.Metadata(), options);
}

/** Opens a bidi call, and once its first echo arrives, writes `then` (an oversized or undecodable message). */
function jsBidiThen(c: grpc.Client, then: Buffer): Promise<string> {
  const call = jsBidi(c);
  const done = settle(call);
  call.once('data', () => call.write(then));
  call.write(json({ n: 0 }));
  return done;
}

const jsActions: Array<ClientAction<grpc.Client>> = [
  {
    name: 'js unary',
    expected: 'OK',
    weight: 6,
    run: (c) => {
      const size = between(0, 2048);
      return jsUnary(c, json({ size }), {}, PATHS.unary, (r) => r?.pad.length === size);
    },
  },
  { name: 'js server-stream', expected: 'OK', weight: 4, run: (c) => jsServerStream(c, { n: between(1, 20), size: between(0, 512) }, {}).done },
  {
    name: 'js client-stream',
    expected: 'OK',
    weight: 3,
    run: (c) => {
      const n = between(1, 20);
      const { call, response } = jsClientStream(c);
      const done = settle(call, () => response()?.i === n);
      for (let i = 0; i < n; i++) call.write(json({ n: i }));
      call.end();
      return done;
    },
  },
  {
    name: 'js bidi',
    expected: 'OK',
    weight: 3,
    run: (c) => {
      const n = between(1, 10);
      const call = jsBidi(c);
      const seen: number[] = [];
      call.on('data', (r: SoakResponse) => seen.push(r.i));
      const done = settle(call, () => seen.length === n && seen.every((v, i) => v === i));
      for (let i = 0; i < n; i++) call.write(json({ n: i, size: 16 }));
      call.end();
      return done;
    },
  },
  {
    name: 'js cancel server-stream',
    expected: 'CANCELLED',
    weight: 2,
    run: (c) => jsServerStream(c, { n: 1_000_000, delayMs: 2 }, {}, (r, call) => r.i === 1 && call.cancel()).done,
  },
  {
    name: 'js cancel client-stream',
    expected: 'CANCELLED',
    weight: 1,
    run: (c) => {
      const { call } = jsClientStream(c);
      const done = settle(call);
      call.write(json({ n: 0 }));
      call.write(json({ n: 1 }), () => call.cancel());
      return done;
    },
  },
  {
    name: 'js cancel bidi',
    expected: 'CANCELLED',
    weight: 2,
    run: (c) => {
      const call = jsBidi(c);
      const done = settle(call);
      call.once('data', () => call.cancel());
      call.write(json({ n: 0 }));
      return done;
    },
  },
  { name: 'js deadline unary', expected: 'DEADLINE_EXCEEDED', weight: 2, run: (c) => jsUnary(c, json({ delayMs: 10_000 }), deadlineIn(between(20, 150))) },
  { name: 'js deadline server-stream', expected: 'DEADLINE_EXCEEDED', weight: 1, run: (c) => jsServerStream(c, { n: 1000, delayMs: 30 }, deadlineIn(between(60, 200))).done },
  {
    name: 'js deadline bidi',
    expected: 'DEADLINE_EXCEEDED',
    weight: 1,
    run: (c) => {
      const call = jsBidi(c, deadlineIn(between(50, 150)));
      const done = settle(call);
      call.write(json({ n: 0 })); // and never half-closes
      return done;
    },
  },
  { name: 'js oversize unary', expected: 'RESOURCE_EXHAUSTED', weight: 1, run: (c) => jsUnary(c, json(oversizeRequest())) },
  {
    name: 'js oversize client-stream',
    expected: 'RESOURCE_EXHAUSTED',
    weight: 1,
    run: (c) => {
      const { call } = jsClientStream(c);
      const done = settle(call);
      call.write(json({ n: 0 }));
      call.write(json(oversizeRequest()));
      call.end();
      return done;
    },
  },
  { name: 'js oversize bidi', expected: 'RESOURCE_EXHAUSTED', weight: 1, run: (c) => jsBidiThen(c, json(oversizeRequest())) },
  { name: 'js undecodable unary', expected: 'INTERNAL', weight: 1, run: (c) => jsUnary(c, UNDECODABLE) },
  { name: 'js undecodable bidi', expected: 'INTERNAL', weight: 1, run: (c) => jsBidiThen(c, UNDECODABLE) },
  { name: 'js unknown method', expected: 'UNIMPLEMENTED', weight: 1, run: (c) => jsUnary(c, json({}), {}, PATHS.missing) },
];

// ---------------------------------------------------------------------------------------------
// raw node:http2

const rawSessions = new Rotating(
  () => {
    const session = http2.connect(`http://${target}`);
    session.on('error', () => undefined);
    return session;
  },
  (session) => session.close(),
);

const grpcHeaders = (path: string, extra: http2.OutgoingHttpHeaders = {}): http2.OutgoingHttpHeaders => ({
  ':method': 'POST',
  ':path': path,
  'content-type': 'application/grpc',
  te: 'trailers',
  ...extra,
});

/**
 * Sends `body` on a new stream and resolves with the status the server answered: the
 * `grpc-status` of its trailers (or of a Trailers-Only HEADERS frame), `HTTP_<n>` for a
 * non-200 answer, `RST_<code>` for a reset without a status.
 */
function rawCall(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body: Buffer[], endStream: boolean): Promise<string> {
  return new Promise((resolve) => {
    const stream = session.request(headers, { endStream: false });
    let status: string | undefined;
    const fromHeaders = (h: http2.IncomingHttpHeaders): void => {
      const grpcStatus = h['grpc-status'];
      if (typeof grpcStatus === 'string') status = codeName(Number(grpcStatus));
      else if (h[':status'] !== undefined && Number(h[':status']) !== 200) status = `HTTP_${String(h[':status'])}`;
    };
    stream.on('response', fromHeaders);
    stream.on('trailers', fromHeaders);
    stream.on('data', () => undefined);
    stream.on('error', () => undefined);
    stream.on('close', () => resolve(status ?? `RST_${stream.rstCode ?? 'NONE'}`));
    // The answer can come before the request is whole (a length prefix over the limit): stop
    // sending then, and reset our half so the stream closes.
    stream.on('end', () => {
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    });
    for (const b of body) stream.write(b);
    if (endStream) stream.end();
  });
}

/** Resolves when `stream` has a response message, or has closed without one (never hangs on a stream that ended early). */
function firstData(stream: http2.ClientHttp2Stream): Promise<unknown> {
  return Promise.race([once(stream, 'data'), once(stream, 'close')]).catch(() => undefined);
}

/** Opens a connection of its own, starts a live call on it, and destroys the socket under it. */
async function destroyMidCall(whenResponding: boolean): Promise<string> {
  // Our own socket: node:http2 hands out only a proxy of the session's, which refuses destroy().
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  const session = http2.connect(`http://${target}`, { createConnection: () => socket });
  session.on('error', () => undefined);
  try {
    await once(session, 'connect');
  } catch {
    return 'CONNECT_FAILED';
  }
  const request = whenResponding ? { n: 1_000_000, delayMs: 2 } : { delayMs: 10_000 };
  const stream = session.request(grpcHeaders(whenResponding ? PATHS.serverStream : PATHS.unary), { endStream: false });
  stream.on('error', () => undefined);
  stream.end(frame(json(request)));
  if (whenResponding) await firstData(stream);
  else await new Promise((resolve) => setTimeout(resolve, between(0, 20)));
  const status = stream.closed ? 'ENDED_BEFORE_DESTROY' : 'DESTROYED';
  socket.destroy();
  session.destroy();
  return status;
}

const destroyActions: Action[] = [
  { name: 'destroy socket mid-stream', expected: 'DESTROYED', weight: 1, run: () => destroyMidCall(true) },
  { name: 'destroy socket mid-unary', expected: 'DESTROYED', weight: 1, run: () => destroyMidCall(false) },
];

const rawShared: Array<ClientAction<http2.ClientHttp2Session>> = [
  { name: 'raw unary', expected: 'OK', weight: 2, run: (session) => rawCall(session, grpcHeaders(PATHS.unary), [frame(json({ size: 8 }))], true) },
  // PROTOCOL-HTTP2.md: a message cut short by END_STREAM is a protocol error: INTERNAL.
  { name: 'raw truncated unary', expected: 'INTERNAL', weight: 2, run: (session) => rawCall(session, grpcHeaders(PATHS.unary), [frame(Buffer.from('{"n":1'), 0, 100)], true) },
  {
    name: 'raw truncated bidi',
    expected: 'INTERNAL',
    weight: 1,
    run: (session) => rawCall(session, grpcHeaders(PATHS.bidi), [frame(json({ n: 0 })), frame(json({ n: 1 })).subarray(0, 7)], true),
  },
  { name: 'raw prefix over limit', expected: 'RESOURCE_EXHAUSTED', weight: 1, run: (session) => rawCall(session, grpcHeaders(PATHS.clientStream), [frame(Buffer.alloc(0), 0, 16 << 20)], false) },
  { name: 'raw bad compressed flag', expected: 'INTERNAL', weight: 1, run: (session) => rawCall(session, grpcHeaders(PATHS.unary), [frame(json({}), 2)], true) },
  { name: 'raw undecodable client-stream', expected: 'INTERNAL', weight: 1, run: (session) => rawCall(session, grpcHeaders(PATHS.clientStream), [frame(json({})), frame(UNDECODABLE)], true) },
  { name: 'raw bad grpc-timeout', expected: 'INTERNAL', weight: 1, run: (session) => rawCall(session, grpcHeaders(PATHS.unary, { 'grpc-timeout': '1x' }), [frame(json({}))], true) },
  { name: 'raw wrong content-type', expected: 'HTTP_415', weight: 1, run: (session) => rawCall(session, grpcHeaders(PATHS.unary, { 'content-type': 'text/plain' }), [frame(json({}))], true) },
  {
    name: 'raw reset mid-bidi',
    expected: 'RESET',
    weight: 2,
    run: async (session) => {
      const stream = session.request(grpcHeaders(PATHS.bidi), { endStream: false });
      stream.on('error', () => undefined);
      stream.write(frame(json({ n: 0 })));
      await firstData(stream);
      const status = stream.closed ? 'ENDED_BEFORE_RESET' : 'RESET';
      stream.close(http2.constants.NGHTTP2_CANCEL);
      return status;
    },
  },
];
const rawActions: Action[] = [...bind(rawSessions, rawShared), { ...destroyActions[0]!, weight: 3 }, { ...destroyActions[1]!, weight: 2 }];

// ---------------------------------------------------------------------------------------------
// grpc-iter's own client

const iterChannels = new Rotating(
  () => insecureChannel(target),
  (channel) => channel.close(),
);
const statusOf = (err: unknown): string => (err instanceof RpcError ? statusCodeName(err.code) : `THREW ${String(err).slice(0, 120)}`);

async function iterStatus(body: () => Promise<boolean>): Promise<string> {
  try {
    return (await body()) ? 'OK' : 'BAD_RESPONSE';
  } catch (err) {
    return statusOf(err);
  }
}

const iterActions: Array<ClientAction<Channel>> = [
  {
    name: 'iter unary',
    expected: 'OK',
    weight: 4,
    run: (channel) =>
      iterStatus(async () => {
        const size = between(0, 2048);
        const r = await channel.unaryUnary(PATHS.unary, json, parse)({ size });
        return r.pad.length === size;
      }),
  },
  {
    name: 'iter server-stream',
    expected: 'OK',
    weight: 3,
    run: (channel) =>
      iterStatus(async () => {
        const n = between(1, 20);
        let i = 0;
        for await (const r of channel.unaryStream(PATHS.serverStream, json, parse)({ n })) if (r.i === i) i++;
        return i === n;
      }),
  },
  {
    name: 'iter client-stream',
    expected: 'OK',
    weight: 2,
    run: (channel) =>
      iterStatus(async () => {
        const n = between(1, 20);
        const requests = Array.from({ length: n }, (_, i) => ({ n: i }));
        return (await channel.streamUnary(PATHS.clientStream, json, parse)(requests)).i === n;
      }),
  },
  {
    name: 'iter bidi',
    expected: 'OK',
    weight: 2,
    run: (channel) =>
      iterStatus(async () => {
        const n = between(1, 10);
        let i = 0;
        async function* requests(): AsyncGenerator<SoakRequest> {
          for (let k = 0; k < n; k++) yield { n: k, size: 16 };
        }
        for await (const r of channel.streamStream(PATHS.bidi, json, parse)(requests())) if (r.i === i) i++;
        return i === n;
      }),
  },
  {
    name: 'iter cancel server-stream',
    expected: 'CANCELLED',
    weight: 2,
    run: (channel) =>
      iterStatus(async () => {
        const controller = new AbortController();
        for await (const r of channel.unaryStream(PATHS.serverStream, json, parse)({ n: 1_000_000, delayMs: 2 }, { signal: controller.signal })) {
          if (r.i === 1) controller.abort();
        }
        return true;
      }),
  },
  { name: 'iter deadline unary', expected: 'DEADLINE_EXCEEDED', weight: 2, run: (channel) => iterStatus(async () => (await channel.unaryUnary(PATHS.unary, json, parse)({ delayMs: 10_000 }, { timeout: between(20, 150) / 1000 })) !== undefined) },
  { name: 'iter oversize unary', expected: 'RESOURCE_EXHAUSTED', weight: 1, run: (channel) => iterStatus(async () => (await channel.unaryUnary(PATHS.unary, json, parse)(oversizeRequest())) !== undefined) },
  { name: 'iter undecodable unary', expected: 'INTERNAL', weight: 1, run: (channel) => iterStatus(async () => (await channel.unaryUnary(PATHS.unary, raw, parse)(UNDECODABLE)) !== undefined) },
];

// ---------------------------------------------------------------------------------------------

/** Makes each action take its client from `clients` (and so move to a new connection in time). */
function bind<C>(clients: Rotating<C>, list: ReadonlyArray<ClientAction<C>>): Action[] {
  return list.map((action) => ({ ...action, run: () => clients.use((client) => action.run(client)) }));
}

const actions = { 'grpc-js': [...bind(jsClients, jsActions), ...destroyActions], raw: rawActions, 'grpc-iter': [...bind(iterChannels, iterActions), ...destroyActions] }[mode];
if (actions === undefined) throw new TypeError(`Cannot start soak worker: unknown --mode "${mode}"`);
const totalWeight = actions.reduce((sum, a) => sum + a.weight, 0);

function pick(): Action {
  let r = random() * totalWeight;
  for (const action of actions!) {
    r -= action.weight;
    if (r < 0) return action;
  }
  return actions![actions!.length - 1]!;
}

const calls: Record<string, ActionTally> = {};
function record(action: Action, observed: string): void {
  const tally = (calls[action.name] ??= { expected: action.expected, observed: {} });
  tally.observed[observed] = (tally.observed[observed] ?? 0) + 1;
}

/** Runs `action`, or resolves `HANG` if it has not ended within {@link HANG_MS}. */
async function runBounded(action: Action): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('HANG'), HANG_MS)));
  try {
    return await Promise.race([action.run().catch((err: unknown) => `THREW ${String(err).slice(0, 120)}`), hang]);
  } finally {
    clearTimeout(timer);
  }
}

// Start-up (tsx, imports) is over: tell the orchestrator the load begins now.
process.stdout.write('STARTED\n');
const until = Date.now() + seconds * 1000;
async function loop(): Promise<void> {
  while (Date.now() < until) {
    const action = pick();
    record(action, await runBounded(action));
  }
}
await Promise.all(Array.from({ length: concurrency }, loop));

jsClients.closeAll();
iterChannels.closeAll();
rawSessions.closeAll();
const result: WorkerResult = { mode, calls };
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`, () => process.exit(0));
