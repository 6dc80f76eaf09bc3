// Runs a server spec over both transports: the network (our server on 127.0.0.1 called by a
// @grpc/grpc-js client, so a client we did not write proves the server) and in-process (our own
// client over inProcessChannel, no socket). Both clients report a call in one shape, `Reply`.
import * as grpc from '@grpc/grpc-js';
import { inProcessChannel, RpcError, StatusCode, type CallOptions as OurCallOptions, type Channel, type Metadata, type RpcMethodHandler, type ServerConfig } from '../../lib/index.js';
import { decode, encode, jsClient, startServer, type CallResult, type Kind, type TestServer } from './grpc.js';

/** Metadata a test sends: `[key, value]` pairs, `-bin` values as bytes. */
export type Pairs = ReadonlyArray<readonly [string, string | Buffer]>;

/** Options of one test call. */
export interface CallOptions {
  readonly metadata?: Pairs;
  readonly deadline?: Date;
}

/** Metadata a call received; `-bin` values are Buffers whichever client read them. */
export interface Lookup {
  get(key: string): string | Buffer | undefined;
  getAll(key: string): Array<string | Buffer>;
}

/** What a finished call reports, whichever transport carried it. */
export interface Reply<T> {
  /** The response (unary response kinds) or every response received (streaming kinds). */
  readonly value: T | undefined;
  readonly code: StatusCode;
  readonly details: string;
  /** Initial metadata: empty when a unary-response call failed (our client gives none then). */
  readonly headers: Lookup;
  readonly trailers: Lookup;
}

/** A call left open: the test writes, reads and cancels by hand. */
export interface OpenCall {
  write(message: string): void;
  /** Half-closes the request stream. */
  end(): void;
  cancel(): void;
  /** Resolves with the next response not taken yet. */
  message(): Promise<string>;
  /** Resolves when the call ends; `value` holds every response received. */
  readonly done: Promise<Reply<string[]>>;
}

/** A transport-neutral client for string-message methods of `test.Svc`. */
export interface TestClient {
  unary(method: string, request: string, options?: CallOptions): Promise<Reply<string>>;
  serverStream(method: string, request: string, options?: CallOptions): Promise<Reply<string[]>>;
  clientStream(method: string, requests: string[], options?: CallOptions): Promise<Reply<string>>;
  /** Sends `requests`, half-closes, and collects every response. */
  bidi(method: string, requests: string[], options?: CallOptions): Promise<Reply<string[]>>;
  /** Opens a streaming call; a server-streaming one is sent `request` (and half-closed) at once. */
  open(method: string, request?: string, options?: CallOptions): OpenCall;
  /** A unary call with no codecs on either side: bytes in, bytes out. */
  unaryBytes(method: string, request: Uint8Array): Promise<Uint8Array>;
  close(): void;
}

/** One way to reach a server. */
export interface Transport {
  readonly name: 'network' | 'in-process';
  /** What `context.peer()` reports for a call over this transport. */
  readonly peer: RegExp;
  /** What the user-agent in `invocationMetadata()` looks like. */
  readonly userAgent: RegExp;
  /** Starts a server with `handlers` under `test.Svc`, and a client for `methods`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  serve(handlers: Record<string, RpcMethodHandler<any, any>>, methods: Record<string, Kind>, config?: ServerConfig): Promise<Served>;
}

/** A started server and a client for it; `close` closes both. */
export interface Served {
  readonly server: TestServer;
  readonly client: TestClient;
  close(): Promise<void>;
}

/** Queued values with a waiter for the next one, for messages as both clients deliver them. */
class Inbox {
  readonly items: string[] = [];
  #taken = 0;
  #waiters: Array<(m: string) => void> = [];
  push(m: string): void {
    this.items.push(m);
    const w = this.#waiters.shift();
    if (w !== undefined) w(this.items[this.#taken++]!);
  }
  next(): Promise<string> {
    if (this.#taken < this.items.length) return Promise.resolve(this.items[this.#taken++]!);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

const toBuffer = (v: string | Uint8Array): string | Buffer => (typeof v === 'string' ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength));
const EMPTY: Lookup = { get: () => undefined, getAll: () => [] };

// ---- network: our server, a grpc-js client ----

function jsLookup(md: grpc.Metadata | undefined): Lookup {
  if (md === undefined) return EMPTY;
  return { get: (key) => md.get(key)[0] as string | Buffer | undefined, getAll: (key) => md.get(key) as Array<string | Buffer> };
}

function jsMetadata(options: CallOptions): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [key, value] of options.metadata ?? []) md.add(key, value);
  return md;
}

const jsOptions = (options: CallOptions): grpc.CallOptions => (options.deadline === undefined ? {} : { deadline: options.deadline });

function fromJs<T>(r: CallResult<T>): Reply<T> {
  return {
    value: r.value,
    code: r.status!.code as number as StatusCode,
    details: r.status!.details,
    headers: jsLookup(r.metadata),
    trailers: jsLookup(r.status!.metadata),
  };
}

function networkClient(address: string, methods: Record<string, Kind>): TestClient {
  const js = jsClient(address, methods);
  return {
    unary: async (method, request, options = {}) => fromJs(await js.unary(method, request, jsMetadata(options), jsOptions(options))),
    serverStream: async (method, request, options = {}) => fromJs(await js.serverStream(method, request, jsMetadata(options), jsOptions(options))),
    clientStream: async (method, requests, options = {}) => fromJs(await js.clientStream(method, requests, jsMetadata(options), jsOptions(options))),
    bidi: async (method, requests, options = {}) => fromJs(await js.bidi(method, requests, jsMetadata(options), jsOptions(options))),
    open(method, request = '', options = {}) {
      const inbox = new Inbox();
      const result: CallResult<string[]> = { value: inbox.items };
      let call: grpc.ClientReadableStream<string> | grpc.ClientWritableStream<string> | grpc.ClientDuplexStream<string, string>;
      const kind = methods[method]!;
      if (kind === 'clientStream') call = js.openClientStream(method, (_e, v) => v !== undefined && inbox.push(v), jsMetadata(options), jsOptions(options));
      else if (kind === 'serverStream') call = js.openServerStream(method, request, jsMetadata(options), jsOptions(options));
      else call = js.openBidi(method, jsMetadata(options), jsOptions(options));
      call.on('data', (m: string) => inbox.push(m));
      call.on('metadata', (md) => (result.metadata = md));
      call.on('error', () => undefined); // the status event reports it
      const done = new Promise<Reply<string[]>>((resolve) =>
        call.on('status', (status: grpc.StatusObject) => {
          result.status = status;
          setImmediate(() => resolve(fromJs(result))); // after the unary callback and last data
        }),
      );
      return {
        write: (m) => void (call as grpc.ClientWritableStream<string>).write(m),
        end: () => void (call as grpc.ClientWritableStream<string>).end(),
        cancel: () => call.cancel(),
        message: () => inbox.next(),
        done,
      };
    },
    async unaryBytes(method, request) {
      const identity = (b: Buffer): Buffer => b;
      const Ctor = grpc.makeGenericClientConstructor(
        { [method]: { path: `/test.Svc/${method}`, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
        'Svc',
      );
      const raw = new Ctor(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, (r: Buffer, cb: (e: unknown, v: Buffer) => void) => void>;
      try {
        return await new Promise<Buffer>((resolve, reject) => raw[method]!(Buffer.from(request), (e, v) => (e ? reject(e as Error) : resolve(v))));
      } finally {
        raw.close();
      }
    },
    close: () => js.close(),
  };
}

// ---- in-process: our client over inProcessChannel ----

function ourLookup(md: Metadata): Lookup {
  return {
    get(key) {
      const value = md.get(key);
      return value === undefined ? undefined : toBuffer(value);
    },
    getAll: (key) => md.getAll(key).map(toBuffer),
  };
}

/** A request stream the test pushes to; `end` finishes it. Unbounded: a test writes a handful. */
function requestQueue(): { push(m: string): void; end(): void; iterable: AsyncIterable<string> } {
  const queued: string[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const poke = (): void => {
    wake?.();
    wake = undefined;
  };
  return {
    push: (m) => (queued.push(m), poke()),
    end: () => ((ended = true), poke()),
    iterable: (async function* () {
      for (;;) {
        if (queued.length > 0) yield queued.shift()!;
        else if (ended) return;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    })(),
  };
}

/** A failed unary-response call, from the RpcError our client throws; anything else is a test bug. */
function failed<T>(err: unknown, value: T | undefined): Reply<T> {
  if (!(err instanceof RpcError)) throw err;
  return { value, code: err.code, details: err.details, headers: EMPTY, trailers: ourLookup(err.trailingMetadata) };
}

function inProcessClient(channel: Channel, methods: Record<string, Kind>): TestClient {
  const path = (method: string): string => `/test.Svc/${method}`;
  const callOptions = (options: CallOptions, signal?: AbortSignal): OurCallOptions => ({
    metadata: (options.metadata ?? []) as Array<[string, string | Uint8Array]>,
    ...(options.deadline === undefined ? {} : { deadline: options.deadline }),
    ...(signal === undefined ? {} : { signal }),
  });

  async function unaryResponse(method: string, requests: string | AsyncIterable<string> | string[], options: CallOptions, signal?: AbortSignal): Promise<Reply<string>> {
    try {
      const r =
        typeof requests === 'string'
          ? await channel.unaryUnary(path(method), encode, decode).withCall(requests, callOptions(options, signal))
          : await channel.streamUnary(path(method), encode, decode).withCall(requests, callOptions(options, signal));
      return { value: r.response, code: r.code, details: r.details, headers: ourLookup(r.initialMetadata), trailers: ourLookup(r.trailingMetadata) };
    } catch (err) {
      return failed<string>(err, undefined);
    }
  }

  async function streamResponse(method: string, requests: string | AsyncIterable<string> | string[], options: CallOptions, signal: AbortSignal | undefined, inbox: Inbox): Promise<Reply<string[]>> {
    const call =
      typeof requests === 'string'
        ? channel.unaryStream(path(method), encode, decode)(requests, callOptions(options, signal))
        : channel.streamStream(path(method), encode, decode)(requests, callOptions(options, signal));
    try {
      for await (const m of call) inbox.push(m);
    } catch (err) {
      if (!(err instanceof RpcError)) throw err;
    }
    return { value: inbox.items, code: await call.code(), details: await call.details(), headers: ourLookup(await call.initialMetadata()), trailers: ourLookup(await call.trailingMetadata()) };
  }

  return {
    unary: (method, request, options = {}) => unaryResponse(method, request, options),
    serverStream: (method, request, options = {}) => streamResponse(method, request, options, undefined, new Inbox()),
    clientStream: (method, requests, options = {}) => unaryResponse(method, requests, options),
    bidi: (method, requests, options = {}) => streamResponse(method, requests, options, undefined, new Inbox()),
    open(method, request = '', options = {}) {
      const kind = methods[method]!;
      const inbox = new Inbox();
      const requests = requestQueue();
      const controller = new AbortController();
      let done: Promise<Reply<string[]>>;
      if (kind === 'clientStream') {
        done = unaryResponse(method, requests.iterable, options, controller.signal).then((r) => {
          if (r.value !== undefined) inbox.push(r.value);
          return { ...r, value: inbox.items };
        });
      } else {
        done = streamResponse(method, kind === 'serverStream' ? request : requests.iterable, options, controller.signal, inbox);
      }
      return { write: requests.push, end: requests.end, cancel: () => controller.abort(), message: () => inbox.next(), done };
    },
    unaryBytes: (method, request) => channel.unaryUnary(path(method))(request),
    close: () => channel.close(),
  };
}

// ---- the two transports ----

/** Our server on 127.0.0.1, called by a grpc-js client. */
export const NETWORK: Transport = {
  name: 'network',
  peer: /^ipv4:127\.0\.0\.1:\d+$/,
  userAgent: /grpc-node-js/,
  async serve(handlers, methods, config = {}) {
    const server = await startServer(handlers, config);
    const client = networkClient(server.address, methods);
    return { server, client, close: async () => (client.close(), await server.close()) };
  },
};

/** Our server called in-process by our own client: no socket, no HTTP/2. */
export const IN_PROCESS: Transport = {
  name: 'in-process',
  peer: /^inproc$/,
  userAgent: /grpc-iter/,
  async serve(handlers, methods, config = {}) {
    const server = await startServer(handlers, config);
    const client = inProcessClient(inProcessChannel(server.srv), methods);
    return { server, client, close: async () => (client.close(), await server.close()) };
  },
};

/** Both transports, for `for (const transport of TRANSPORTS) describe(...)`. */
export const TRANSPORTS: readonly Transport[] = [NETWORK, IN_PROCESS];
