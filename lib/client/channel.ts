import { RpcError, StatusCode } from '../protocol/core.js';
import type { ClientTransport, ConnectivityState } from '../transport/index.js';
import { onAbort } from '../util/index.js';
import type { RequestSerializer, ResponseDeserializer, StreamStreamMultiCallable, StreamUnaryMultiCallable, UnaryStreamMultiCallable, UnaryUnaryMultiCallable } from './call-options.js';
import { CallStarter, type StarterHost } from './call-starter.js';
import type { CallCredentials } from './credentials.js';
import { streamStreamCallable, streamUnaryCallable, unaryStreamCallable, unaryUnaryCallable } from './multi-callables.js';
import { resolveChannelOptions, type ChannelOptionsInit, type ResolvedChannelOptions } from './options.js';

/**
 * A channel (grpcio's `grpc.Channel`). Over the network ({@link insecureChannel},
 * {@link secureChannel}) it resolves its target when the first call needs it, and its
 * load-balancing policy (pick_first unless configured) keeps HTTP/2 connections to the
 * resolved addresses, shared by every call, reopened with backoff after failures, and
 * re-resolved when they go away; {@link inProcessChannel} makes one that calls a server in the
 * same process. Either way calls, deadlines, credentials, retries and interceptors work the same.
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
   * @internal A channel over a transport built elsewhere (the in-process one, gRPC-Web on fetch).
   * @param transport - where the calls go
   * @param authority - the `:authority` of its calls, unless grpc.default_authority is set
   * @param options - channel arguments
   * @returns the channel
   */
  static overTransport(transport: ClientTransport, authority: string, options?: ChannelOptionsInit): Channel {
    return Channel.withOptions(transport, authority, resolveChannelOptions(options), undefined);
  }

  /**
   * @internal A channel over a transport whose builder resolved the options already (the
   * node:http2 one needs them for its connections, network-channel.ts).
   * @param transport - where the calls go
   * @param authority - the `:authority` of its calls, unless grpc.default_authority is set
   * @param options - the resolved channel arguments
   * @param callCredentials - credentials every call of the channel carries
   * @returns the channel
   */
  static withOptions(transport: ClientTransport, authority: string, options: ResolvedChannelOptions, callCredentials: CallCredentials | undefined): Channel {
    return new Channel(transport, options.defaultAuthority ?? authority, options, callCredentials);
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
        if (state === 'SHUTDOWN') throw new RpcError(StatusCode.UNAVAILABLE, 'Cannot wait for ready: channel closed');
        if (state === 'TRANSIENT_FAILURE') this.#transport.resetBackoff();
        await this.waitForStateChange(state, options);
      }
    } finally {
      this.#release();
    }
  }

  #hold(): void {
    // A browser's timers are numbers with no ref/unref (and no process to hold open): skip it there.
    if (this.#pending++ === 0 && !this.#closed) (this.#holdTimer ??= setInterval(noop, 2_147_483_647)).ref?.();
  }

  #release(): void {
    if (--this.#pending === 0) this.#holdTimer?.unref?.();
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
