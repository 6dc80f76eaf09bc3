import { Metadata, RpcError, StatusCode } from '../protocol/core.js';
import type { ConnectivityState } from '../transport/index.js';
import { defer, onlyValue } from '../util/index.js';
import type {
  CallOptions,
  CallResult,
  RequestSerializer,
  ResponseDeserializer,
  StreamStreamMultiCallable,
  StreamUnaryMultiCallable,
  StreamingCall,
  UnaryStreamMultiCallable,
  UnaryUnaryMultiCallable,
} from './call-options.js';
import type { Channel } from './channel.js';

/** What a client interceptor knows about a call. */
export interface ClientCallDetails {
  /** The method's path, `/package.Service/Method`. */
  readonly method: string;
  /** Whether the client streams requests. */
  readonly requestStream: boolean;
  /** Whether the server streams responses. */
  readonly responseStream: boolean;
  /** The call's options; pass changed ones (metadata, timeout...) to `next`. */
  readonly options: CallOptions;
}

/** Continues a call: the next interceptor, or the call itself. */
export type ClientNext = (details: ClientCallDetails, requests: AsyncIterable<unknown>) => AsyncIterable<unknown>;

/**
 * A client interceptor: a transform from a call's requests to its responses, as async
 * iterables of messages. It may change the options (metadata, deadline) it passes to `next`,
 * transform requests or responses, call `next` again (a retry), or throw (fail the call).
 * The same shape serves all four kinds: unary calls are streams of one.
 *
 * @example
 * ```ts
 * const withTraceId: ClientInterceptor = (details, requests, next) =>
 *   next({ ...details, options: { ...details.options, metadata: { ...toObject(details.options.metadata), 'x-trace-id': newId() } } }, requests);
 * ```
 */
export type ClientInterceptor = (details: ClientCallDetails, requests: AsyncIterable<unknown>, next: ClientNext) => AsyncIterable<unknown>;

/** The call-making surface shared by a channel and an intercepted channel. */
export interface Invoker {
  /** A unary-unary method. */
  unaryUnary<Req = Uint8Array, Res = Uint8Array>(method: string, requestSerializer?: RequestSerializer<Req>, responseDeserializer?: ResponseDeserializer<Res>): UnaryUnaryMultiCallable<Req, Res>;
  /** A unary-stream method. */
  unaryStream<Req = Uint8Array, Res = Uint8Array>(method: string, requestSerializer?: RequestSerializer<Req>, responseDeserializer?: ResponseDeserializer<Res>): UnaryStreamMultiCallable<Req, Res>;
  /** A stream-unary method. */
  streamUnary<Req = Uint8Array, Res = Uint8Array>(method: string, requestSerializer?: RequestSerializer<Req>, responseDeserializer?: ResponseDeserializer<Res>): StreamUnaryMultiCallable<Req, Res>;
  /** A stream-stream method. */
  streamStream<Req = Uint8Array, Res = Uint8Array>(method: string, requestSerializer?: RequestSerializer<Req>, responseDeserializer?: ResponseDeserializer<Res>): StreamStreamMultiCallable<Req, Res>;
}

interface Observed {
  initialMetadata: Metadata;
  trailingMetadata: Metadata;
  code: StatusCode;
  details: string;
  responseCompressed: boolean;
}

async function* single<T>(value: T): AsyncGenerator<T> {
  yield value;
}

async function* fromIterable<T>(source: Iterable<T> | AsyncIterable<T>): AsyncGenerator<T> {
  yield* source;
}

function only(responses: AsyncIterable<unknown>): Promise<unknown> {
  return onlyValue(
    responses,
    () => new RpcError(StatusCode.INTERNAL, 'Cannot finish call: an interceptor produced no response for a unary call'),
    () => new RpcError(StatusCode.INTERNAL, 'Cannot finish call: an interceptor produced more than one response for a unary call'),
  );
}

async function first(requests: AsyncIterable<unknown>): Promise<unknown> {
  for await (const r of requests) return r;
  throw new RpcError(StatusCode.INTERNAL, 'Cannot start call: an interceptor produced no request for a unary call');
}

/**
 * A view of `channel` whose calls pass through `interceptors`, first outermost (grpcio's
 * `grpc.intercept_channel`). Connection state and `close` are the channel's own.
 *
 * @param channel - the channel (or an intercepted channel)
 * @param interceptors - the interceptors, in order
 * @returns an invoker to make multi-callables or typed clients with
 *
 * @example
 * ```ts
 * const logged = interceptChannel(channel, async function* (details, requests, next) {
 *   const started = Date.now();
 *   try {
 *     yield* next(details, requests);
 *   } finally {
 *     console.log(details.method, Date.now() - started, 'ms');
 *   }
 * });
 * const client = createClient(definition, logged);
 * ```
 */
export function interceptChannel(channel: Channel | InterceptedChannel, ...interceptors: ClientInterceptor[]): InterceptedChannel {
  for (const i of interceptors) if (typeof i !== 'function') throw new TypeError('Cannot intercept channel: each interceptor must be a function');
  return InterceptedChannel.create(channel, interceptors);
}

/** A channel whose calls pass through interceptors; made by {@link interceptChannel}. */
export class InterceptedChannel implements Invoker {
  readonly #base: Channel | InterceptedChannel;
  readonly #interceptors: readonly ClientInterceptor[];

  /**
   * @internal The way {@link interceptChannel} reaches the private constructor.
   * @param base - the channel the calls go to after the interceptors
   * @param interceptors - outermost first
   * @returns the intercepted channel
   */
  static create(base: Channel | InterceptedChannel, interceptors: readonly ClientInterceptor[]): InterceptedChannel {
    return new InterceptedChannel(base, interceptors);
  }

  /**
   * Private so that `new InterceptedChannel()` is a type error in the published types.
   * Use {@link interceptChannel}.
   */
  private constructor(base: Channel | InterceptedChannel, interceptors: readonly ClientInterceptor[]) {
    this.#base = base;
    this.#interceptors = interceptors;
  }

  /**
   * The channel's state.
   * @param tryToConnect - start connecting if idle
   * @returns the underlying channel's state
   */
  getState(tryToConnect = false): ConnectivityState {
    return this.#base.getState(tryToConnect);
  }

  /**
   * Connects and waits for READY.
   * @param options - a signal that stops the wait
   */
  waitForReady(options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#base.waitForReady(options);
  }

  /** Closes the underlying channel. */
  close(): void {
    this.#base.close();
  }

  /** Runs the chain; the innermost step calls `invoke` with the final details and requests. */
  #chain(details: ClientCallDetails, requests: AsyncIterable<unknown>, invoke: ClientNext): AsyncIterable<unknown> {
    let next = invoke;
    for (let i = this.#interceptors.length - 1; i >= 0; i--) {
      const interceptor = this.#interceptors[i]!;
      const inner = next;
      next = (d, r) => interceptor(d, r, inner);
    }
    return next(details, requests);
  }

  /** A unary-unary method whose calls pass through the interceptors. */
  unaryUnary<Req = Uint8Array, Res = Uint8Array>(method: string, requestSerializer?: RequestSerializer<Req>, responseDeserializer?: ResponseDeserializer<Res>): UnaryUnaryMultiCallable<Req, Res> {
    const raw = this.#base.unaryUnary(method, requestSerializer, responseDeserializer);
    const withCall = async (request: Req, options: CallOptions = {}): Promise<CallResult<Res>> => {
      let observed: Observed | undefined;
      const details: ClientCallDetails = { method, requestStream: false, responseStream: false, options };
      const response = await only(
        this.#chain(details, single(request), (d, requests) =>
          (async function* () {
            const r = await raw.withCall((await first(requests)) as Req, d.options);
            observed = r;
            yield r.response;
          })(),
        ),
      );
      return { ...(observed ?? emptyObserved()), response: response as Res };
    };
    return Object.assign(async (request: Req, options?: CallOptions) => (await withCall(request, options)).response, { withCall });
  }

  /** A stream-unary method whose calls pass through the interceptors. */
  streamUnary<Req = Uint8Array, Res = Uint8Array>(method: string, requestSerializer?: RequestSerializer<Req>, responseDeserializer?: ResponseDeserializer<Res>): StreamUnaryMultiCallable<Req, Res> {
    const raw = this.#base.streamUnary(method, requestSerializer, responseDeserializer);
    const withCall = async (requests: Iterable<Req> | AsyncIterable<Req>, options: CallOptions = {}): Promise<CallResult<Res>> => {
      let observed: Observed | undefined;
      const details: ClientCallDetails = { method, requestStream: true, responseStream: false, options };
      const response = await only(
        this.#chain(details, fromIterable(requests), (d, reqs) =>
          (async function* () {
            const r = await raw.withCall(reqs as AsyncIterable<Req>, d.options);
            observed = r;
            yield r.response;
          })(),
        ),
      );
      return { ...(observed ?? emptyObserved()), response: response as Res };
    };
    return Object.assign(async (requests: Iterable<Req> | AsyncIterable<Req>, options?: CallOptions) => (await withCall(requests, options)).response, { withCall });
  }

  /** A unary-stream method whose calls pass through the interceptors. */
  unaryStream<Req = Uint8Array, Res = Uint8Array>(method: string, requestSerializer?: RequestSerializer<Req>, responseDeserializer?: ResponseDeserializer<Res>): UnaryStreamMultiCallable<Req, Res> {
    const raw = this.#base.unaryStream(method, requestSerializer, responseDeserializer);
    return (request, options = {}) =>
      this.#streaming<Res>({ method, requestStream: false, responseStream: true, options }, single(request), async (d, requests) => raw((await first(requests)) as Req, d.options));
  }

  /** A stream-stream method whose calls pass through the interceptors. */
  streamStream<Req = Uint8Array, Res = Uint8Array>(method: string, requestSerializer?: RequestSerializer<Req>, responseDeserializer?: ResponseDeserializer<Res>): StreamStreamMultiCallable<Req, Res> {
    const raw = this.#base.streamStream(method, requestSerializer, responseDeserializer);
    return (requests, options = {}) =>
      this.#streaming<Res>({ method, requestStream: true, responseStream: true, options }, fromIterable(requests), async (d, reqs) => raw(reqs as AsyncIterable<Req>, d.options));
  }

  /** A streaming call through the chain; its metadata and status come from the innermost call. */
  #streaming<Res>(details: ClientCallDetails, requests: AsyncIterable<unknown>, start: (d: ClientCallDetails, requests: AsyncIterable<unknown>) => Promise<StreamingCall<Res>>): StreamingCall<Res> {
    const controller = new AbortController();
    const inner = defer<StreamingCall<Res>>();
    let innerCall: StreamingCall<Res> | undefined;
    const ended = defer<Observed>();
    const signal = details.options.signal === undefined ? controller.signal : AbortSignal.any([controller.signal, details.options.signal]);
    const responses = this.#chain({ ...details, options: { ...details.options, signal } }, requests, (d, reqs) =>
      (async function* () {
        const call = await start(d, reqs);
        innerCall = call;
        inner.resolve(call);
        yield* call;
      })(),
    );
    // Pull once now, so the call starts at once as a channel's own calls do, even if the
    // consumer iterates late or never.
    const source = responses[Symbol.asyncIterator]();
    const primed = source.next();
    primed.catch(noop); // the consumer sees this failure when it iterates, or code() reports it
    let iterating = false;
    // Nobody reading: the status is the call's own once it ends.
    void inner.then(async (call) => {
      await call.code();
      if (!iterating) ended.resolve(observe(call));
    });
    const iterator = (async function* (): AsyncGenerator<Res> {
      iterating = true;
      let done = false;
      try {
        for (let r = await primed; r.done !== true; r = await source.next()) yield r.value as Res;
        done = true;
        // An interceptor may answer without calling next: then the call is its own, and OK.
        ended.resolve(innerCall === undefined ? emptyObserved() : observe(innerCall));
      } catch (err) {
        done = true;
        const e = err instanceof RpcError ? err : new RpcError(StatusCode.UNKNOWN, String((err as Error)?.message ?? err), { cause: err });
        ended.resolve({ initialMetadata: new Metadata(), trailingMetadata: e.trailingMetadata, code: e.code, details: e.details, responseCompressed: false });
        throw e;
      } finally {
        if (!done) {
          // The consumer left the loop early: that cancels the call, which then reports CANCELLED.
          await source.return?.();
          ended.resolve(innerCall === undefined ? cancelledObserved() : observe(innerCall));
        }
      }
    })();
    return {
      initialMetadata: async () => (await Promise.race([inner, ended.then(() => undefined)]))?.initialMetadata() ?? new Metadata(),
      trailingMetadata: async () => (await ended).trailingMetadata,
      code: async () => (await ended).code,
      details: async () => (await ended).details,
      cancel() {
        controller.abort();
        ended.resolve(cancelledObserved());
      },
      responseCompressed: () => innerCall?.responseCompressed() ?? false,
      [Symbol.asyncIterator]: () => iterator,
    };
  }
}

async function observe<Res>(c: StreamingCall<Res>): Promise<Observed> {
  return { initialMetadata: await c.initialMetadata(), trailingMetadata: await c.trailingMetadata(), code: await c.code(), details: await c.details(), responseCompressed: c.responseCompressed() };
}

function cancelledObserved(): Observed {
  return { initialMetadata: new Metadata(), trailingMetadata: new Metadata(), code: StatusCode.CANCELLED, details: 'Call cancelled', responseCompressed: false };
}

function noop(): void {}

function emptyObserved(): Observed {
  return { initialMetadata: new Metadata(), trailingMetadata: new Metadata(), code: StatusCode.OK, details: '', responseCompressed: false };
}
