import { RpcError, StatusCode } from '../protocol/index.js';
import { Http2ClientTransport, unavailable, type ClientTransport, type ConnectivityState } from '../transport/index.js';
import { onAbort } from '../util/index.js';
import type { RequestSerializer, ResponseDeserializer, StreamStreamMultiCallable, StreamUnaryMultiCallable, UnaryStreamMultiCallable, UnaryUnaryMultiCallable } from './call-options.js';
import { CallStarter, type StarterHost } from './call-starter.js';
import { channelCredentialsOf, type CallCredentials, type ChannelCredentials } from './credentials.js';
import { streamStreamCallable, streamUnaryCallable, unaryStreamCallable, unaryUnaryCallable } from './multi-callables.js';
import { resolveChannelOptions, type ChannelOptionsInit, type ResolvedChannelOptions } from './options.js';
import { parseTarget } from './target.js';

/**
 * A channel (grpcio's `grpc.Channel`). Over the network ({@link insecureChannel},
 * {@link secureChannel}) it keeps one HTTP/2 connection per resolved address, opened when the
 * first call needs it (pick-first across addresses), shared by every call, and reopened with
 * backoff after failures; {@link inProcessChannel} makes one that calls a server in the same
 * process. Either way calls, deadlines, credentials, retries and interceptors work the same.
 */
export class Channel {
  // The connections live in the transport (transport/call-port.ts), the calls' deadlines,
  // credentials and retries in the call starter.
  readonly #transport: ClientTransport;
  #closed = false;
  #stateListeners = new Set<(state: ConnectivityState) => void>();
  readonly #calls: CallStarter;
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
    const o = resolveChannelOptions(options);
    const parsed = parseTarget(target);
    const creds = credentials === null ? undefined : channelCredentialsOf(credentials);
    const transport = new Http2ClientTransport(parsed.addresses, {
      tls: creds === undefined ? undefined : { ca: creds.rootCertificates, key: creds.privateKey, cert: creds.certChain, servername: o.sslTargetNameOverride ?? parsed.host },
      keepaliveTimeMs: o.keepaliveTimeMs,
      keepaliveTimeoutMs: o.keepaliveTimeoutMs,
      keepalivePermitWithoutCalls: o.keepalivePermitWithoutCalls,
      initialBackoffMs: o.initialBackoffMs,
      maxBackoffMs: o.maxBackoffMs,
      minConnectTimeoutMs: o.minConnectTimeoutMs,
    });
    return new Channel(transport, o.defaultAuthority ?? parsed.authority, o, creds?.callCredentials);
  }

  /**
   * @internal A channel over a transport built elsewhere (the in-process one).
   * @param transport - where the calls go
   * @param authority - the `:authority` of its calls, unless grpc.default_authority is set
   * @param options - channel arguments
   * @returns the channel
   */
  static overTransport(transport: ClientTransport, authority: string, options?: ChannelOptionsInit): Channel {
    const o = resolveChannelOptions(options);
    return new Channel(transport, o.defaultAuthority ?? authority, o, undefined);
  }

  /**
   * Private so that `new Channel()` is a type error in the published types, not a runtime surprise.
   * Use {@link insecureChannel} or {@link secureChannel}.
   */
  private constructor(transport: ClientTransport, authority: string, options: ResolvedChannelOptions, callCredentials: CallCredentials | undefined) {
    this.#transport = transport;
    const host: StarterHost = {
      isClosed: () => this.#closed,
      getState: (tryToConnect) => this.getState(tryToConnect),
      waitForStateChange: (current, o) => this.waitForStateChange(current, o),
      hold: () => {
        this.#hold();
        return () => this.#release();
      },
    };
    this.#calls = new CallStarter(transport, host, authority, options, callCredentials);
    transport.onStateChange(() => this.#emitState());
  }

  /**
   * The channel's connectivity state.
   * @param tryToConnect - start connecting if idle
   * @returns IDLE, CONNECTING, READY, TRANSIENT_FAILURE or SHUTDOWN
   */
  getState(tryToConnect = false): ConnectivityState {
    return this.#closed ? 'SHUTDOWN' : this.#transport.getState(tryToConnect);
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
        if (state === 'TRANSIENT_FAILURE') this.#transport.resetBackoff();
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
    this.#calls.cancelAll(new RpcError(StatusCode.CANCELLED, 'Channel closed'));
    this.#transport.close();
    clearInterval(this.#holdTimer);
    this.#holdTimer = undefined;
    for (const l of [...this.#stateListeners]) l('SHUTDOWN');
    this.#stateListeners.clear();
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
    return this.#transport.passesValues === true ? unaryUnaryCallable(this.#calls, method, undefined, undefined) : unaryUnaryCallable(this.#calls, method, requestSerializer, responseDeserializer);
  }

  /**
   * A stream-unary method (grpcio's `channel.stream_unary`).
   * @param method - the path, `/package.Service/Method`
   * @param requestSerializer - encodes requests
   * @param responseDeserializer - decodes the response
   * @returns the callable
   */
  streamUnary<Req = Uint8Array, Res = Uint8Array>(method: string, requestSerializer?: RequestSerializer<Req>, responseDeserializer?: ResponseDeserializer<Res>): StreamUnaryMultiCallable<Req, Res> {
    return this.#transport.passesValues === true ? streamUnaryCallable(this.#calls, method, undefined, undefined) : streamUnaryCallable(this.#calls, method, requestSerializer, responseDeserializer);
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
    return this.#transport.passesValues === true ? unaryStreamCallable(this.#calls, method, undefined, undefined) : unaryStreamCallable(this.#calls, method, requestSerializer, responseDeserializer);
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
    return this.#transport.passesValues === true ? streamStreamCallable(this.#calls, method, undefined, undefined) : streamStreamCallable(this.#calls, method, requestSerializer, responseDeserializer);
  }
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
