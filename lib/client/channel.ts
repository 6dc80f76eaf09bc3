import type { ClientHttp2Session } from 'node:http2';
import { Metadata, RpcError, StatusCode, checkCompression, type Compression, type MetadataInit } from '../protocol/index.js';
import { ClientCall, Connection, unavailable, type CallStatus, type ConnectivityState } from '../transport/index.js';
import { deadlineSignal, linkSignals, onAbort, raceSignal } from '../util/index.js';
import { RequestFeed, runAttempts, type AttemptPlan } from './attempts.js';
import { callMetadata, channelCredentialsOf, type CallCredentials, type ChannelCredentials } from './credentials.js';
import { resolveChannelOptions, type ChannelOptionsInit, type ResolvedChannelOptions } from './options.js';
import { methodConfigFor } from './retry.js';
import { parseTarget } from './target.js';

/** A server call an outgoing call serves: a handler's `context` is one. */
export interface ParentCall {
  /** Aborts when the server call ends abnormally; the outgoing call is then cancelled. */
  readonly signal: AbortSignal;
  /** The server call's deadline, which the outgoing call inherits when earlier than its own. */
  readonly deadline: Date | undefined;
}

/** Options of one call. */
export interface CallOptions {
  /** Request metadata. */
  readonly metadata?: MetadataInit;
  /** Seconds the call may take (grpcio's `timeout`). */
  readonly timeout?: number;
  /** When the call must be done by; the earlier of this and `timeout` wins. */
  readonly deadline?: Date;
  /** Aborting it cancels the call: RST_STREAM CANCEL to the server, CANCELLED here. */
  readonly signal?: AbortSignal;
  /** Compression of this call's requests. */
  readonly compression?: Compression;
  /** Wait for the channel to be ready instead of failing at once while it cannot connect. */
  readonly waitForReady?: boolean;
  /** Credentials for this call only. */
  readonly credentials?: CallCredentials;
  /**
   * A server call this one serves: its deadline and cancellation carry over (pass the
   * handler's `context`).
   */
  readonly parent?: ParentCall;
}

/**
 * Learns the serialized size of each message of one call, for instrumentation: the channel
 * calls it as it encodes each request and as it reads each response's bytes.
 * @internal
 */
export interface MessageSizeObserver {
  /** A request of `bytes` bytes was serialized to be sent. */
  sent(bytes: number): void;
  /** A response of `bytes` bytes arrived, before it was deserialized. */
  received(bytes: number): void;
}

/**
 * The key, in a call's options, of its {@link MessageSizeObserver}. A symbol, so it survives the
 * `{ ...options }` copies interceptors make and is no option users see.
 * @internal
 */
export const messageSizes: unique symbol = Symbol('grpc-iter.messageSizes');

/** Call options with the internal size observer. */
type ObservedOptions = CallOptions & { readonly [messageSizes]?: MessageSizeObserver };

/** `serialize` reporting each size to the call's observer; `serialize` itself when there is none (one check per call). */
function sizedSerializer<Req>(options: CallOptions | undefined, serialize: RequestSerializer<Req>): RequestSerializer<Req> {
  const sizes = (options as ObservedOptions | undefined)?.[messageSizes];
  if (sizes === undefined) return serialize;
  return (request) => {
    const bytes = serialize(request);
    sizes.sent(bytes.byteLength);
    return bytes;
  };
}

/** `deserialize` reporting each size to the call's observer; `deserialize` itself when there is none. */
function sizedDeserializer<Res>(options: CallOptions | undefined, deserialize: ResponseDeserializer<Res>): ResponseDeserializer<Res> {
  const sizes = (options as ObservedOptions | undefined)?.[messageSizes];
  if (sizes === undefined) return deserialize;
  return (bytes) => {
    sizes.received(bytes.byteLength);
    return deserialize(bytes);
  };
}

/** What `withCall` gives: the response and everything the call reported. */
export interface CallResult<Res> {
  /** The response message. */
  readonly response: Res;
  /** The response headers. */
  readonly initialMetadata: Metadata;
  /** The trailers sent with the status. */
  readonly trailingMetadata: Metadata;
  /** The status code (OK). */
  readonly code: StatusCode;
  /** The status message. */
  readonly details: string;
  /** Whether the response arrived compressed (its message's compressed flag was set). */
  readonly responseCompressed: boolean;
}

/** A unary-request, unary-response method of a channel (grpcio's `UnaryUnaryMultiCallable`). */
export interface UnaryUnaryMultiCallable<Req, Res> {
  /**
   * Calls the method.
   * @throws RpcError with the status when it is not OK
   */
  (request: Req, options?: CallOptions): Promise<Res>;
  /** Calls the method and resolves with the response, metadata and status (grpcio's `with_call`). */
  withCall(request: Req, options?: CallOptions): Promise<CallResult<Res>>;
}

/** A stream-request, unary-response method (grpcio's `StreamUnaryMultiCallable`). */
export interface StreamUnaryMultiCallable<Req, Res> {
  /**
   * Calls the method with a stream of requests, pulled only as fast as the connection sends them.
   * @throws RpcError with the status when it is not OK
   */
  (requests: Iterable<Req> | AsyncIterable<Req>, options?: CallOptions): Promise<Res>;
  /** As the call, resolving with the response, metadata and status. */
  withCall(requests: Iterable<Req> | AsyncIterable<Req>, options?: CallOptions): Promise<CallResult<Res>>;
}

/**
 * A call whose responses are a stream: iterate it with `for await`. Leaving the loop early
 * cancels the call. The iterator throws an RpcError when the call ends with a non-OK status.
 */
export interface StreamingCall<Res> extends AsyncIterable<Res> {
  /** @returns the response headers, once they arrive */
  initialMetadata(): Promise<Metadata>;
  /** @returns the trailers, once the call ends */
  trailingMetadata(): Promise<Metadata>;
  /** @returns the status code, once the call ends */
  code(): Promise<StatusCode>;
  /** @returns the status message, once the call ends */
  details(): Promise<string>;
  /** Cancels the call (RST_STREAM CANCEL; the stream ends with CANCELLED). */
  cancel(): void;
  /** @returns whether the response read last arrived compressed (its compressed flag was set) */
  responseCompressed(): boolean;
}

/** A unary-request, stream-response method (grpcio's `UnaryStreamMultiCallable`). */
export type UnaryStreamMultiCallable<Req, Res> = (request: Req, options?: CallOptions) => StreamingCall<Res>;
/** A stream-request, stream-response method (grpcio's `StreamStreamMultiCallable`). */
export type StreamStreamMultiCallable<Req, Res> = (requests: Iterable<Req> | AsyncIterable<Req>, options?: CallOptions) => StreamingCall<Res>;

/** Turns a request into bytes. */
export type RequestSerializer<Req> = (value: Req) => Uint8Array;
/** Turns response bytes into a response. */
export type ResponseDeserializer<Res> = (bytes: Uint8Array) => Res;

interface Prepared {
  readonly path: string;
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
  readonly dispose: () => void;
  readonly metadata: Metadata;
  readonly compression: Compression;
  readonly waitForReady: boolean;
  readonly credentials: CallCredentials | undefined;
}

const identityBytes = (b: Uint8Array): Uint8Array => b;

const uncompressedMessages = new WeakSet<object>();

/**
 * Marks a request message to be sent uncompressed even when its call compresses (C-core's
 * `GRPC_WRITE_NO_COMPRESS`, grpc-js's `WriteFlags.NoCompress`): for data that is compressed
 * already, or a secret sent next to data an attacker chooses. Works for messages that are
 * objects (protobuf objects, Buffers, Uint8Arrays).
 * @param message - the request, as it will be passed to the call or yielded by its request stream
 * @returns the same message
 *
 * @example
 * ```ts
 * await upload([first, uncompressed(alreadyZipped)], { compression: Compression.Gzip });
 * ```
 */
export function uncompressed<T extends object>(message: T): T {
  uncompressedMessages.add(message);
  return message;
}

function compressible(message: unknown): boolean {
  return typeof message !== 'object' || message === null || !uncompressedMessages.has(message);
}

/**
 * A channel to one target (grpcio's `grpc.Channel`): one HTTP/2 connection per resolved address,
 * opened when the first call needs it (pick-first across addresses), shared by every call, and
 * reopened with backoff after failures.
 */
export class Channel {
  readonly #options: ResolvedChannelOptions;
  readonly #authority: string;
  readonly #connections: Connection[];
  readonly #callCredentials: CallCredentials | undefined;
  readonly #secure: boolean;
  #closed = false;
  #stateListeners = new Set<(state: ConnectivityState) => void>();
  readonly #calls = new Set<ClientCall>();
  // Keeps the process alive while calls or waits are pending, and only then: connections and
  // timers are unref'd, so an idle channel never holds the process open (as grpc-js does).
  #pending = 0;
  #holdTimer: NodeJS.Timeout | undefined;

  /**
   * @internal The way {@link insecureChannel} and {@link secureChannel} reach the private constructor.
   * @param target - as for {@link insecureChannel}
   * @param credentials - null for a plaintext channel
   * @param options - channel arguments
   * @returns the channel
   */
  static create(target: string, credentials: ChannelCredentials | null, options?: ChannelOptionsInit): Channel {
    return new Channel(target, credentials, options);
  }

  /**
   * Private so that `new Channel()` is a type error in the published types, not a runtime surprise.
   * Use {@link insecureChannel} or {@link secureChannel}.
   */
  private constructor(target: string, credentials: ChannelCredentials | null, options?: ChannelOptionsInit) {
    this.#options = resolveChannelOptions(options);
    const parsed = parseTarget(target);
    this.#authority = this.#options.defaultAuthority ?? parsed.authority;
    const creds = credentials === null ? undefined : channelCredentialsOf(credentials);
    this.#secure = creds !== undefined;
    this.#callCredentials = creds?.callCredentials;
    const o = this.#options;
    this.#connections = parsed.addresses.map(
      (address) =>
        new Connection(address, {
          tls:
            creds === undefined
              ? undefined
              : { ca: creds.rootCertificates, key: creds.privateKey, cert: creds.certChain, servername: o.sslTargetNameOverride ?? parsed.host },
          keepaliveTimeMs: o.keepaliveTimeMs,
          keepaliveTimeoutMs: o.keepaliveTimeoutMs,
          keepalivePermitWithoutCalls: o.keepalivePermitWithoutCalls,
          initialBackoffMs: o.initialBackoffMs,
          maxBackoffMs: o.maxBackoffMs,
          minConnectTimeoutMs: o.minConnectTimeoutMs,
        }),
    );
    for (const c of this.#connections) c.onStateChange(() => this.#emitState());
  }

  /**
   * The channel's connectivity state.
   * @param tryToConnect - start connecting if idle
   * @returns IDLE, CONNECTING, READY, TRANSIENT_FAILURE or SHUTDOWN
   */
  getState(tryToConnect = false): ConnectivityState {
    if (this.#closed) return 'SHUTDOWN';
    if (tryToConnect) this.#connect();
    const states = this.#connections.map((c) => c.state);
    if (states.includes('READY')) return 'READY';
    if (states.includes('CONNECTING')) return 'CONNECTING';
    if (states.every((s) => s === 'TRANSIENT_FAILURE')) return 'TRANSIENT_FAILURE';
    if (states.includes('TRANSIENT_FAILURE') && !states.includes('IDLE')) return 'TRANSIENT_FAILURE';
    return 'IDLE';
  }

  /**
   * Calls `listener` with each new state (grpcio's `subscribe`).
   * @param listener - receives the state
   * @param tryToConnect - start connecting at once
   * @returns a function that unsubscribes
   */
  subscribe(listener: (state: ConnectivityState) => void, tryToConnect = false): () => void {
    this.#stateListeners.add(listener);
    listener(this.getState(tryToConnect));
    return () => this.#stateListeners.delete(listener);
  }

  #lastState: ConnectivityState | undefined;
  #emitState(): void {
    const state = this.getState();
    if (state === this.#lastState) return;
    this.#lastState = state;
    for (const l of [...this.#stateListeners]) l(state);
  }

  /**
   * Waits until the state differs from `current`.
   * @param current - the state last seen
   * @param options - a signal that stops the wait
   * @returns the new state
   * @throws the signal's reason when it aborts first
   */
  waitForStateChange(current: ConnectivityState, options: { signal?: AbortSignal } = {}): Promise<ConnectivityState> {
    return new Promise((resolve, reject) => {
      const now = this.getState();
      if (now !== current) return resolve(now);
      let removeAbort = (): void => undefined;
      const listener = (state: ConnectivityState): void => {
        if (state === current) return;
        this.#stateListeners.delete(listener);
        removeAbort();
        resolve(state);
      };
      this.#stateListeners.add(listener);
      if (options.signal !== undefined) {
        removeAbort = onAbort(options.signal, (reason) => {
          this.#stateListeners.delete(listener);
          reject(reason);
        });
      }
    });
  }

  /**
   * Connects and waits until the channel is READY (grpcio's `channel_ready_future`).
   * @param options - a signal that stops the wait
   * @throws the signal's reason when it aborts first; RpcError UNAVAILABLE once the channel is closed
   */
  async waitForReady(options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#hold();
    try {
      for (;;) {
        const state = this.getState(true);
        if (state === 'READY') return;
        if (state === 'SHUTDOWN') throw unavailable('Cannot wait for ready: channel closed');
        if (state === 'TRANSIENT_FAILURE') for (const c of this.#connections) c.resetBackoff();
        await this.waitForStateChange(state, options);
      }
    } finally {
      this.#release();
    }
  }

  #hold(): void {
    if (this.#pending++ === 0 && !this.#closed) (this.#holdTimer ??= setInterval(noop, 2_147_483_647)).ref();
  }

  #release(): void {
    if (--this.#pending === 0) this.#holdTimer?.unref();
  }

  /** Closes the channel: its connections close and calls in flight end CANCELLED. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const call of [...this.#calls]) call.cancel(new RpcError(StatusCode.CANCELLED, 'Channel closed'));
    for (const c of this.#connections) c.close();
    clearInterval(this.#holdTimer);
    this.#holdTimer = undefined;
    for (const l of [...this.#stateListeners]) l('SHUTDOWN');
    this.#stateListeners.clear();
  }

  #connect(): void {
    // pick_first: one connection at a time, in address order.
    if (this.#connections.some((c) => c.state === 'READY' || c.state === 'CONNECTING')) return;
    const idle = this.#connections.find((c) => c.state === 'IDLE');
    idle?.connect();
  }

  #readySession(): { session: ClientHttp2Session; connection: Connection } | undefined {
    for (const connection of this.#connections) {
      const session = connection.session;
      if (session !== undefined && !session.closed && !session.destroyed) return { session, connection };
    }
    return undefined;
  }

  /**
   * A ready session, connecting as needed; fails fast in TRANSIENT_FAILURE unless waitForReady.
   * `wait` is the call's signal linked with its deadline: it ends the wait.
   */
  async #session(prepared: Prepared, wait: AbortSignal): Promise<{ session: ClientHttp2Session; connection: Connection }> {
    for (;;) {
      if (this.#closed) throw unavailable('Cannot start call: channel closed');
      const ready = this.#readySession();
      if (ready !== undefined) return ready;
      const state = this.getState(true);
      if (state === 'TRANSIENT_FAILURE') {
        if (!prepared.waitForReady) {
          const why = this.#connections.map((c) => c.lastError).find((e) => e !== '') ?? 'connection failed';
          throw unavailable(`Cannot connect to ${this.#authority}: ${why}`);
        }
      }
      try {
        await this.waitForStateChange(state, { signal: wait });
      } catch (reason) {
        throw asCallError(reason);
      }
    }
  }

  #prepare(path: string, options: CallOptions = {}, forRetry = false): Prepared {
    const { timeout, deadline: at, parent, signal: own } = options;
    let deadline = Infinity;
    if (timeout !== undefined && timeout !== null) {
      if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) throw new RangeError(`Cannot start call: timeout must be a number of seconds, got ${String(timeout)}`);
      deadline = Date.now() + timeout * 1000;
    }
    if (at !== undefined) deadline = Math.min(deadline, at.getTime());
    if (parent?.deadline !== undefined) deadline = Math.min(deadline, parent.deadline.getTime());
    const configured = methodConfigFor(this.#options.serviceConfig, path);
    if (configured.timeoutMs !== undefined && !forRetry) deadline = Math.min(deadline, Date.now() + configured.timeoutMs);
    const metadata = Metadata.from(options.metadata);
    const compression = options.compression === undefined ? this.#options.compression : checkCompression(options.compression, 'compression');
    const linked = own !== undefined || parent !== undefined ? linkSignals([own, parent?.signal]) : undefined;
    // Held until the call settles (dispose), so a pending call keeps the process alive.
    this.#hold();
    let disposed = false;
    return {
      path,
      deadline,
      signal: linked?.signal,
      dispose: () => {
        if (disposed) return;
        disposed = true;
        linked?.dispose();
        this.#release();
      },
      metadata,
      compression,
      waitForReady: options.waitForReady ?? configured.waitForReady ?? false,
      credentials: options.credentials,
    };
  }

  /** Starts one attempt of a call: session, credentials, stream. */
  #start(prepared: Prepared, attempt: number): Promise<ClientCall> {
    const credentials = this.#callCredentials === undefined && prepared.credentials === undefined ? undefined : [this.#callCredentials, prepared.credentials].filter((c): c is CallCredentials => c !== undefined);
    const ready = this.#closed ? undefined : this.#readySession();
    // The common case, a ready connection and no call credentials, starts without waiting.
    if (ready !== undefined && credentials === undefined) {
      try {
        return Promise.resolve(this.#open(prepared, attempt, ready, prepared.metadata));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    return this.#startSlow(prepared, attempt, credentials ?? []);
  }

  async #startSlow(prepared: Prepared, attempt: number, credentials: CallCredentials[]): Promise<ClientCall> {
    // One signal for every wait before the stream opens: the call's abort or its deadline.
    const timer = deadlineSignal(prepared.deadline, () => new RpcError(StatusCode.DEADLINE_EXCEEDED, 'Deadline exceeded before the call started'));
    const wait = prepared.signal === undefined ? { signal: timer.signal, dispose: noop } : linkSignals([prepared.signal, timer.signal]);
    try {
      const ready = await this.#session(prepared, wait.signal);
      let metadata = prepared.metadata;
      if (credentials.length > 0) {
        if (!this.#secure && !this.#options.allowInsecureCallCredentials) {
          throw new RpcError(StatusCode.UNAUTHENTICATED, 'Cannot send call credentials over an insecure channel (set grpc-iter.allow_insecure_call_credentials to allow it)');
        }
        const slash = prepared.path.lastIndexOf('/');
        const context = { serviceUrl: `https://${this.#authority.replace(/:443$/, '')}${prepared.path.slice(0, slash)}`, methodName: prepared.path.slice(slash + 1) };
        metadata = metadata.clone();
        // A plugin that never answers must not outlive the call's deadline or abort.
        for (const c of credentials) {
          try {
            metadata.merge(await raceSignal(wait.signal, callMetadata(c, context)));
          } catch (err) {
            throw wait.signal.aborted ? asCallError(wait.signal.reason) : err;
          }
        }
      }
      if (this.#closed) throw unavailable('Cannot start call: channel closed');
      const session = ready.session.closed || ready.session.destroyed ? await this.#session(prepared, wait.signal) : ready;
      return this.#open(prepared, attempt, session, metadata);
    } finally {
      wait.dispose();
      timer.dispose();
    }
  }

  #open(prepared: Prepared, attempt: number, ready: { session: ClientHttp2Session; connection: Connection }, metadata: Metadata): ClientCall {
    const call = new ClientCall(ready.session, {
      path: prepared.path,
      authority: this.#authority,
      metadata,
      deadline: prepared.deadline,
      compression: prepared.compression,
      maxSendMessageBytes: this.#options.maxSendMessageBytes,
      maxReceiveMessageBytes: this.#options.maxReceiveMessageBytes,
      userAgent: this.#options.userAgent,
      previousAttempts: attempt,
    });
    const untrack = ready.connection.trackCall();
    this.#calls.add(call);
    const removeAbort = prepared.signal === undefined ? noop : onAbort(prepared.signal, () => call.cancel(new RpcError(StatusCode.CANCELLED, 'Call cancelled')));
    call.onDone(() => {
      untrack();
      removeAbort();
      this.#calls.delete(call);
    });
    return call;
  }

  /**
   * How the attempts of a call run (gRFC A6): its retry policy, and whether a refused stream is
   * retried transparently; `start` opens one attempt and starts sending.
   */
  #plan(prepared: Prepared, untilStatus: boolean, send: (call: ClientCall) => void, replayable?: () => boolean): AttemptPlan {
    const enabled = this.#options.enableRetries;
    const policy = enabled && this.#options.serviceConfig !== undefined ? methodConfigFor(this.#options.serviceConfig, prepared.path).retryPolicy : undefined;
    const start = (attempt: number): Promise<ClientCall> => this.#start(prepared, attempt);
    const plan = { policy, transparent: enabled, deadline: prepared.deadline, signal: prepared.signal, untilStatus, start, send };
    return replayable === undefined ? plan : { ...plan, replayable };
  }

  /** Starts a unary-request call: each attempt sends the one request and half-closes. */
  #unaryAttempts(prepared: Prepared, payload: Uint8Array, compress: boolean, untilStatus: boolean): Promise<ClientCall> {
    return runAttempts(this.#plan(prepared, untilStatus, (call) => call.sendUnary(payload, compress)));
  }

  /**
   * A unary-unary method (grpcio's `channel.unary_unary`).
   * @param method - the path, `/package.Service/Method`
   * @param requestSerializer - encodes requests (omitted: requests are bytes)
   * @param responseDeserializer - decodes responses (omitted: responses are bytes)
   * @returns the callable
   *
   * @example
   * ```ts
   * const sayHello = channel.unaryUnary('/helloworld.Greeter/SayHello', encodeHello, decodeReply);
   * const reply = await sayHello({ name: 'you' }, { timeout: 5 });
   * ```
   */
  unaryUnary<Req = Uint8Array, Res = Uint8Array>(method: string, requestSerializer?: RequestSerializer<Req>, responseDeserializer?: ResponseDeserializer<Res>): UnaryUnaryMultiCallable<Req, Res> {
    const serialize = (requestSerializer ?? identityBytes) as RequestSerializer<Req>;
    const deserialize = (responseDeserializer ?? identityBytes) as ResponseDeserializer<Res>;
    const withCall = async (request: Req, options?: CallOptions): Promise<CallResult<Res>> => {
      const prepared = this.#prepare(method, options);
      try {
        const call = await this.#unaryAttempts(prepared, encodeRequest(sizedSerializer(options, serialize), request), compressible(request), true);
        const status = call.statusNow!;
        if (status.code !== StatusCode.OK) throw new RpcError(status.code, status.details, { trailingMetadata: status.metadata });
        const response = decodeResponse(sizedDeserializer(options, deserialize), call.responseNow() ?? (await call.response()));
        return {
          response,
          initialMetadata: call.initialMetadataNow ?? new Metadata(),
          trailingMetadata: status.metadata,
          code: status.code,
          details: status.details,
          responseCompressed: call.lastResponseCompressed,
        };
      } finally {
        prepared.dispose();
      }
    };
    const callable = async (request: Req, options?: CallOptions): Promise<Res> => (await withCall(request, options)).response;
    return Object.assign(callable, { withCall });
  }

  /**
   * A stream-unary method (grpcio's `channel.stream_unary`).
   * @param method - the path, `/package.Service/Method`
   * @param requestSerializer - encodes requests
   * @param responseDeserializer - decodes the response
   * @returns the callable
   */
  streamUnary<Req = Uint8Array, Res = Uint8Array>(method: string, requestSerializer?: RequestSerializer<Req>, responseDeserializer?: ResponseDeserializer<Res>): StreamUnaryMultiCallable<Req, Res> {
    const serialize = (requestSerializer ?? identityBytes) as RequestSerializer<Req>;
    const deserialize = (responseDeserializer ?? identityBytes) as ResponseDeserializer<Res>;
    const withCall = async (requests: Iterable<Req> | AsyncIterable<Req>, options?: CallOptions): Promise<CallResult<Res>> => {
      const prepared = this.#prepare(method, options);
      try {
        const call = await this.#streamingAttempts(prepared, requests, sizedSerializer(options, serialize), true);
        const status = await call.status();
        if (status.code !== StatusCode.OK) throw new RpcError(status.code, status.details, { trailingMetadata: status.metadata });
        const response = decodeResponse(sizedDeserializer(options, deserialize), await call.response());
        return {
          response,
          initialMetadata: await call.initialMetadata(),
          trailingMetadata: status.metadata,
          code: status.code,
          details: status.details,
          responseCompressed: call.lastResponseCompressed,
        };
      } finally {
        prepared.dispose();
      }
    };
    const callable = async (requests: Iterable<Req> | AsyncIterable<Req>, options?: CallOptions): Promise<Res> => (await withCall(requests, options)).response;
    return Object.assign(callable, { withCall });
  }

  /**
   * Starts a request-streaming call (gRFC A6): the requests sent are kept, up to
   * grpc.per_rpc_retry_buffer_size bytes, and replayed on a new attempt when the call fails
   * with a retryable status, or its stream is refused, before the server committed to it (sent
   * headers). Resolves with the attempt that committed or ended for good; its requests keep flowing.
   */
  async #streamingAttempts<Req>(prepared: Prepared, requests: Iterable<Req> | AsyncIterable<Req>, serialize: RequestSerializer<Req>, untilStatus: boolean): Promise<ClientCall> {
    const feed = new RequestFeed(requests, serialize, compressible, this.#options.retryBufferBytes);
    let call: ClientCall;
    try {
      call = await runAttempts(this.#plan(prepared, untilStatus, (c) => feed.feed(c), () => feed.replayable()));
    } catch (err) {
      feed.close();
      throw err;
    }
    call.onDone(() => feed.close());
    return call;
  }

  /**
   * A unary-stream method (grpcio's `channel.unary_stream`).
   * @param method - the path, `/package.Service/Method`
   * @param requestSerializer - encodes the request
   * @param responseDeserializer - decodes each response
   * @returns the callable
   *
   * @example
   * ```ts
   * const listFeatures = channel.unaryStream('/routeguide.RouteGuide/ListFeatures', encodeRect, decodeFeature);
   * for await (const feature of listFeatures(rect)) console.log(feature.name);
   * ```
   */
  unaryStream<Req = Uint8Array, Res = Uint8Array>(method: string, requestSerializer?: RequestSerializer<Req>, responseDeserializer?: ResponseDeserializer<Res>): UnaryStreamMultiCallable<Req, Res> {
    const serialize = (requestSerializer ?? identityBytes) as RequestSerializer<Req>;
    const deserialize = (responseDeserializer ?? identityBytes) as ResponseDeserializer<Res>;
    return (request, options) => {
      const prepared = this.#prepare(method, options);
      let started: Promise<ClientCall>;
      try {
        started = this.#unaryAttempts(prepared, encodeRequest(sizedSerializer(options, serialize), request), compressible(request), false);
      } catch (err) {
        started = Promise.reject(err as RpcError);
      }
      return responseStream(started, sizedDeserializer(options, deserialize), prepared.dispose);
    };
  }

  /**
   * A stream-stream method (grpcio's `channel.stream_stream`). The requests are any iterable
   * or async iterable, so `pipe(source, chat, sink)` works with it-pipe.
   * @param method - the path, `/package.Service/Method`
   * @param requestSerializer - encodes each request
   * @param responseDeserializer - decodes each response
   * @returns the callable
   */
  streamStream<Req = Uint8Array, Res = Uint8Array>(method: string, requestSerializer?: RequestSerializer<Req>, responseDeserializer?: ResponseDeserializer<Res>): StreamStreamMultiCallable<Req, Res> {
    const serialize = (requestSerializer ?? identityBytes) as RequestSerializer<Req>;
    const deserialize = (responseDeserializer ?? identityBytes) as ResponseDeserializer<Res>;
    return (requests, options) => {
      const prepared = this.#prepare(method, options);
      return responseStream(this.#streamingAttempts(prepared, requests, sizedSerializer(options, serialize), false), sizedDeserializer(options, deserialize), prepared.dispose);
    };
  }
}

function encodeRequest<Req>(serialize: RequestSerializer<Req>, request: Req): Uint8Array {
  try {
    return serialize(request);
  } catch (err) {
    throw new RpcError(StatusCode.INTERNAL, 'Cannot serialize request', { cause: err });
  }
}

function decodeResponse<Res>(deserialize: ResponseDeserializer<Res>, bytes: Uint8Array): Res {
  try {
    return deserialize(bytes);
  } catch (err) {
    throw new RpcError(StatusCode.INTERNAL, 'Cannot deserialize response', { cause: err });
  }
}

function responseStream<Res>(started: Promise<ClientCall>, deserialize: ResponseDeserializer<Res>, dispose: () => void): StreamingCall<Res> {
  let cancelled = false;
  let lastCompressed = false;
  // A call that failed to start still reports its status through the same methods.
  const settled: Promise<{ call?: ClientCall; error?: RpcError }> = started.then(
    (call) => {
      if (cancelled) call.cancel();
      return { call };
    },
    (err: unknown) => ({ error: err instanceof RpcError ? err : new RpcError(StatusCode.INTERNAL, String(err)) }),
  );
  const status = (): Promise<CallStatus> =>
    settled.then(({ call, error }) => (call !== undefined ? call.status() : { code: error!.code, details: error!.details, metadata: error!.trailingMetadata }));
  void status().then(dispose);
  return {
    initialMetadata: () => settled.then(({ call }) => call?.initialMetadata() ?? new Metadata()),
    trailingMetadata: async () => (await status()).metadata,
    code: async () => (await status()).code,
    details: async () => (await status()).details,
    cancel() {
      cancelled = true;
      void settled.then(({ call }) => call?.cancel());
    },
    responseCompressed: () => lastCompressed,
    [Symbol.asyncIterator](): AsyncIterator<Res> {
      return {
        async next(): Promise<IteratorResult<Res>> {
          const { call, error } = await settled;
          if (error !== undefined) throw error;
          const bytes = await call!.next();
          if (bytes === undefined) return { done: true, value: undefined };
          lastCompressed = call!.lastResponseCompressed;
          return { done: false, value: decodeResponse(deserialize, bytes) };
        },
        async return(): Promise<IteratorResult<Res>> {
          // Leaving a for-await loop early cancels the call.
          cancelled = true;
          const { call } = await settled;
          call?.cancel();
          return { done: true, value: undefined };
        },
      };
    },
  };
}

/** What a call fails with when a wait before it started was stopped by `reason`. */
function asCallError(reason: unknown): RpcError {
  return reason instanceof RpcError ? reason : new RpcError(StatusCode.CANCELLED, 'Call cancelled');
}

function noop(): void {}

/**
 * A channel without TLS (grpcio's `grpc.insecure_channel`).
 *
 * @param target - `host:port`, `dns:///host:port`, `ipv4:a:p[,a:p]`, `ipv6:[a]:p`, `unix:path`
 * @param options - channel arguments, as pairs or an object
 * @returns the channel; it connects when the first call needs it
 * @throws TypeError for a target or option it cannot use
 *
 * @example
 * ```ts
 * const channel = insecureChannel('localhost:50051');
 * const echo = channel.unaryUnary('/demo.Echo/Echo');
 * console.log(await echo(new Uint8Array([1, 2, 3]), { timeout: 2 }));
 * channel.close();
 * ```
 */
export function insecureChannel(target: string, options?: ChannelOptionsInit): Channel {
  return Channel.create(target, null, options);
}

/**
 * A TLS channel (grpcio's `grpc.secure_channel`).
 *
 * @param target - as for {@link insecureChannel}
 * @param credentials - from {@link sslChannelCredentials}, possibly composed with call credentials
 * @param options - channel arguments
 * @returns the channel
 * @throws TypeError for a target, credentials or option it cannot use
 */
export function secureChannel(target: string, credentials: ChannelCredentials, options?: ChannelOptionsInit): Channel {
  channelCredentialsOf(credentials);
  return Channel.create(target, credentials, options);
}
