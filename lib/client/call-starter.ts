import { Metadata, RpcError, StatusCode, checkCompression, type Compression } from '../protocol/core.js';
import type { ClientCallPort, ClientTransport, ConnectivityState } from '../transport/index.js';
import { deadlineSignal, linkSignals, onAbort, raceSignal } from '../util/index.js';
import { RequestFeed, runAttempts, type AttemptPlan } from './attempts.js';
import { compressible, type CallOptions, type RequestSerializer } from './call-options.js';
import { callMetadata, type CallCredentials } from './credentials.js';
import type { ResolvedChannelOptions } from './options.js';
import { methodConfigFor } from './retry.js';

/** One call, checked and resolved against the channel's options, before its first attempt. @internal */
export interface PreparedCall {
  /** The method's path. */
  readonly path: string;
  /** Milliseconds since the epoch, or Infinity. */
  readonly deadline: number;
  /** The call's own signal linked with its parent's. */
  readonly signal: AbortSignal | undefined;
  /** Releases the signal links and the process hold, once the call has settled. */
  readonly dispose: () => void;
  /** The request metadata. */
  readonly metadata: Metadata;
  /** The requests' compression. */
  readonly compression: Compression;
  /** Whether the call waits out TRANSIENT_FAILURE instead of failing at once. */
  readonly waitForReady: boolean;
  /** The call's own credentials. */
  readonly credentials: CallCredentials | undefined;
}

/** What a call starter needs of its channel. @internal */
export interface StarterHost {
  /** Whether the channel is closed. */
  isClosed(): boolean;
  /** The channel's state, connecting when `tryToConnect`. */
  getState(tryToConnect: boolean): ConnectivityState;
  /** Waits until the state differs from `current`; rejects with the signal's reason. */
  waitForStateChange(current: ConnectivityState, options: { signal?: AbortSignal }): Promise<ConnectivityState>;
  /** Keeps the process alive until the returned release runs. */
  hold(): () => void;
}

/**
 * Starts a channel's calls on its transport: resolves each call's deadline, metadata and
 * signals, waits for the transport to be ready, adds call credentials, opens the attempts
 * (gRFC A6) and keeps the open calls so the channel can cancel them when it closes.
 * @internal
 */
export class CallStarter {
  readonly #transport: ClientTransport;
  readonly #host: StarterHost;
  readonly #authority: string;
  readonly #options: ResolvedChannelOptions;
  readonly #callCredentials: CallCredentials | undefined;
  readonly #calls = new Set<ClientCallPort>();

  constructor(transport: ClientTransport, host: StarterHost, authority: string, options: ResolvedChannelOptions, callCredentials: CallCredentials | undefined) {
    this.#transport = transport;
    this.#host = host;
    this.#authority = authority;
    this.#options = options;
    this.#callCredentials = callCredentials;
  }

  /** Ends every open call with `reason` (the channel closed). */
  cancelAll(reason: RpcError): void {
    for (const call of [...this.#calls]) call.cancel(reason);
  }

  /**
   * Resolves a call's options: its deadline (timeout, deadline, parent, service config), metadata,
   * compression and signals. Holds the process until `dispose`.
   * @throws RangeError for a bad timeout; TypeError for bad metadata or compression
   */
  prepare(path: string, options: CallOptions = {}, forRetry = false): PreparedCall {
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
    // A signal of its own is used as it is: only two need a linked one (a controller and a
    // listener on each, per call).
    const inherited = parent?.signal;
    const linked = own !== undefined && inherited !== undefined ? linkSignals([own, inherited]) : undefined;
    // Held until the call settles (dispose), so a pending call keeps the process alive.
    const release = this.#host.hold();
    let disposed = false;
    return {
      path,
      deadline,
      signal: linked?.signal ?? own ?? inherited,
      dispose: () => {
        if (disposed) return;
        disposed = true;
        linked?.dispose();
        release();
      },
      metadata,
      compression,
      waitForReady: options.waitForReady ?? configured.waitForReady ?? false,
      credentials: options.credentials,
    };
  }

  /**
   * Starts one attempt of a call: a ready transport, credentials, the call. The common case, a
   * ready connection and no call credentials, opens it at once and returns it, not a promise.
   * @throws RpcError when that call cannot open (the connection went away, headers refused)
   */
  #start(prepared: PreparedCall, attempt: number): ClientCallPort | Promise<ClientCallPort> {
    const credentials = this.#callCredentials === undefined && prepared.credentials === undefined ? undefined : [this.#callCredentials, prepared.credentials].filter((c): c is CallCredentials => c !== undefined);
    if (!this.#host.isClosed() && this.#transport.ready() && credentials === undefined) return this.#open(prepared, attempt, prepared.metadata);
    return this.#startSlow(prepared, attempt, credentials ?? []);
  }

  async #startSlow(prepared: PreparedCall, attempt: number, credentials: CallCredentials[]): Promise<ClientCallPort> {
    // One signal for every wait before the stream opens: the call's abort or its deadline.
    const timer = deadlineSignal(prepared.deadline, () => new RpcError(StatusCode.DEADLINE_EXCEEDED, 'Deadline exceeded before the call started'));
    const wait = prepared.signal === undefined ? { signal: timer.signal, dispose: noop } : linkSignals([prepared.signal, timer.signal]);
    try {
      await this.#whenReady(prepared, wait.signal);
      let metadata = prepared.metadata;
      if (credentials.length > 0) {
        if (!this.#transport.secure && !this.#options.allowInsecureCallCredentials) {
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
      if (this.#host.isClosed()) throw new RpcError(StatusCode.UNAVAILABLE, 'Cannot start call: channel closed');
      // The connection may have gone while the credentials were computed: wait for one again.
      if (!this.#transport.ready()) await this.#whenReady(prepared, wait.signal);
      return this.#open(prepared, attempt, metadata);
    } finally {
      wait.dispose();
      timer.dispose();
    }
  }

  #open(prepared: PreparedCall, attempt: number, metadata: Metadata): ClientCallPort {
    const call = this.#transport.open({
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
    this.#calls.add(call);
    const removeAbort = prepared.signal === undefined ? noop : onAbort(prepared.signal, () => call.cancel(new RpcError(StatusCode.CANCELLED, 'Call cancelled')));
    call.onDone(() => {
      removeAbort();
      this.#calls.delete(call);
    });
    return call;
  }

  /**
   * How the attempts of a call run (gRFC A6): its retry policy, and whether a refused stream is
   * retried transparently; `start` opens one attempt and starts sending.
   */
  #plan(prepared: PreparedCall, untilStatus: boolean, send: (call: ClientCallPort) => void, replayable?: () => boolean): AttemptPlan {
    const enabled = this.#options.enableRetries;
    const policy = enabled && this.#options.serviceConfig !== undefined ? methodConfigFor(this.#options.serviceConfig, prepared.path).retryPolicy : undefined;
    const start = (attempt: number): ClientCallPort | Promise<ClientCallPort> => this.#start(prepared, attempt);
    const plan = { policy, transparent: enabled, deadline: prepared.deadline, signal: prepared.signal, untilStatus, start, send };
    return replayable === undefined ? plan : { ...plan, replayable };
  }

  /** Starts a unary-request call: each attempt sends the one request and half-closes. */
  unaryAttempts(prepared: PreparedCall, payload: Uint8Array, compress: boolean, untilStatus: boolean): Promise<ClientCallPort> {
    return runAttempts(this.#plan(prepared, untilStatus, (call) => call.sendUnary(payload, compress)));
  }

  /**
   * Starts a request-streaming call (gRFC A6): the requests sent are kept, up to
   * grpc.per_rpc_retry_buffer_size bytes, and replayed on a new attempt when the call fails
   * with a retryable status, or its stream is refused, before the server committed to it (sent
   * headers). Resolves with the attempt that committed or ended for good; its requests keep flowing.
   */
  async streamingAttempts<Req>(prepared: PreparedCall, requests: Iterable<Req> | AsyncIterable<Req>, serialize: RequestSerializer<Req>, untilStatus: boolean): Promise<ClientCallPort> {
    // A transport that sends one request body (gRPC-Web on fetch) refuses these calls before any
    // request is pulled, rather than when the first one shows up.
    const unsupported = this.#transport.requestStreamsUnsupported;
    if (unsupported !== undefined) throw new RpcError(StatusCode.UNIMPLEMENTED, unsupported);
    const feed = new RequestFeed(requests, serialize, compressible, this.#options.retryBufferBytes);
    let call: ClientCallPort;
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
   * Waits until the transport can open a call, connecting as needed; fails fast in
   * TRANSIENT_FAILURE unless waitForReady. `wait` is the call's signal linked with its deadline.
   */
  async #whenReady(prepared: PreparedCall, wait: AbortSignal): Promise<void> {
    for (;;) {
      if (this.#host.isClosed()) throw new RpcError(StatusCode.UNAVAILABLE, 'Cannot start call: channel closed');
      if (this.#transport.ready()) return;
      const state = this.#host.getState(true);
      if (state === 'TRANSIENT_FAILURE' && !prepared.waitForReady) {
        throw new RpcError(StatusCode.UNAVAILABLE, `Cannot connect to ${this.#authority}: ${this.#transport.lastError() || 'connection failed'}`);
      }
      try {
        await this.#host.waitForStateChange(state, { signal: wait });
      } catch (reason) {
        throw asCallError(reason);
      }
    }
  }
}

/** What a call fails with when a wait before it started was stopped by `reason`. */
function asCallError(reason: unknown): RpcError {
  return reason instanceof RpcError ? reason : new RpcError(StatusCode.CANCELLED, 'Call cancelled');
}

function noop(): void {}
