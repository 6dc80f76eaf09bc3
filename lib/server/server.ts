import {
  RpcError,
  StatusCode,
  checkCompression,
  isUnexpectedError,
  toRpcError,
  splitMethodPath,
  type Compression,
  type ServiceDefinition,
} from '../protocol/index.js';
import { STATUS_FLUSH_MS, TransportServer, inProcessSink, resolveCorsPolicy, type InProcessEntry, type ServerCallPort } from '../transport/index.js';
import { ServerContext } from './context.js';
import { tlsOptionsOf, type ServerCredentials } from './credentials.js';
import { failCall, runCall, type ErrorReporter } from './dispatch.js';
import { Executor, type ExecutorOptions } from './executor.js';
import { checkBehaviorShape, invokerOf, type MethodInvoker } from './normalize.js';
import {
  checkMethodHandler,
  streamStreamRpcMethodHandler,
  streamUnaryRpcMethodHandler,
  unaryStreamRpcMethodHandler,
  unaryUnaryRpcMethodHandler,
  type GenericRpcHandler,
  type HandlerCallDetails,
  type AnyRpcMethodHandler,
  type ServiceRpcHandler,
} from './handlers.js';
import { checkInterceptors, composeInterceptors, wrapInvoker, type Continuation, type InterceptedHandler, type ServerInterceptor } from './interceptors.js';
import { resolveServerOptions, type ResolvedServerOptions, type ServerOptionsInit } from './options.js';
import { WorkerPool, workerMethodHandler, type WorkerPoolOptions } from './worker-pool.js';
import type { WorkerMethod } from './worker-protocol.js';

/** @internal How a worker reads the invokers an unstarted Server built for its module. */
export const registeredInvokers = Symbol('registeredInvokers');

/** Options of {@link server} (grpcio's `grpc.server(...)` arguments, camelCase). */
export interface ServerConfig {
  /**
   * Bounds how many handlers run at once; further RPCs wait in order (grpcio's thread pool), at
   * most `maxQueued` of them (default 1000), and one more is answered `RESOURCE_EXHAUSTED`. A
   * unary request is read whole before its RPC takes a worker or a place in the queue.
   * Unbounded when omitted.
   */
  readonly executor?: ExecutorOptions;
  /** Generic handlers to register at once, as `addGenericRpcHandlers` would. */
  readonly handlers?: readonly GenericRpcHandler[];
  /** Interceptors, first outermost. */
  readonly interceptors?: readonly ServerInterceptor[];
  /** Channel arguments, as `[key, value]` pairs or an object. */
  readonly options?: ServerOptionsInit;
  /** RPCs in flight beyond this number are answered `RESOURCE_EXHAUSTED` at once. */
  readonly maximumConcurrentRpcs?: number | null;
  /** Default compression of responses, used when the client accepts it. */
  readonly compression?: Compression | null;
  /**
   * Receives each error a handler or interceptor throws that is not an RpcError, an abort or
   * a timeout (the client gets `UNKNOWN` with a generic message, never the error), and the
   * cause of each `INTERNAL` the server sends for a handler's fault (a serializer that threw, a
   * result that does not fit the method's kind). Defaults to `console.error`. If it throws, the
   * call still gets its status and the error becomes a process warning.
   */
  readonly onHandlerError?: (error: unknown, method: string) => void;
  /**
   * CORS for gRPC-Web calls from browser pages on other origins. Off when omitted: pages served
   * from the server's own origin need none. When set, preflight `OPTIONS` requests from an
   * allowed origin are answered (any request headers allowed, method POST), and every gRPC-Web
   * response to one names `grpc-status`, `grpc-message`, `grpc-status-details-bin` and the
   * call's response metadata in `Access-Control-Expose-Headers`, so the page can read them.
   * A preflight from another origin gets 403, one for a method other than POST gets 405.
   * @example
   * ```ts
   * server({ cors: { allowOrigins: ['https://app.example'], maxAgeSeconds: 600 } });
   * ```
   */
  readonly cors?: {
    /** Origins allowed to call (`'https://app.example'`), or `'*'` for every origin. */
    readonly allowOrigins: '*' | readonly string[];
    /** Whether pages may send cookies and HTTP auth with their calls. @defaultValue false */
    readonly allowCredentials?: boolean;
    /** How long a browser may cache a preflight's answer, in seconds. @defaultValue the browser's own */
    readonly maxAgeSeconds?: number;
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyBehavior = (...args: any[]) => unknown;

/**
 * An implementation of a service for {@link Server.addService}: an object (or class instance)
 * with one behavior per method, keyed by the method's `.proto` name or its lowerCamelCase.
 */
export type ServiceImplementation = object;

/*
 * Server lifecycle:
 *
 *   NEW ──start()──► STARTED ──stop(grace)──► STOPPING ──all connections closed──► STOPPED
 *    │                                            ▲
 *    └──────────────────stop()────────────────────┘
 *
 * Ports are bound while NEW. From stop() on, no new RPC is accepted; in-flight RPCs may finish
 * until the grace runs out, then they are cancelled and the connections closed.
 */
const NEW = 0;
const STARTED = 1;
const STOPPING = 2;
const STOPPED = 3;

/**
 * A gRPC server (grpcio's `grpc.Server`). Make one with {@link server}.
 */
export class Server {
  readonly #options: ResolvedServerOptions;
  readonly #transport: TransportServer;
  // Registered handlers by path, for interceptors' continuations, and their invokers for the
  // path without interceptors: one Map lookup per call.
  readonly #handlers = new Map<string, AnyRpcMethodHandler>();
  readonly #registered = new Map<string, MethodInvoker>();
  readonly #generic: GenericRpcHandler[] = [];
  readonly #services = new Map<string, ServiceDefinition | undefined>();
  readonly #interceptors: ServerInterceptor[];
  readonly #resolve: Continuation | undefined;
  readonly #executor: Executor | undefined;
  readonly #maxRpcs: number;
  readonly #compression: Compression | undefined;
  readonly #report: ErrorReporter;
  readonly #calls = new Set<ServerCallPort>();
  // Invokers wrapped by interceptCall interceptors, kept with the invoker they wrap.
  readonly #wrapped = new WeakMap<MethodInvoker, MethodInvoker>();
  #state = NEW;
  #stopDeadline = Infinity;
  #graceTimer: NodeJS.Timeout | undefined;
  #stopped: Promise<void> | undefined;
  #terminated: Array<() => void> = [];
  // Methods served by worker pools (addWorkerHandlers), looked up before everything else, and
  // the handlers that stand for them where interceptors see handlers.
  readonly #workerMethods = new Map<string, { pool: WorkerPool; method: WorkerMethod }>();
  readonly #workerHandlers = new WeakMap<AnyRpcMethodHandler, { pool: WorkerPool; method: WorkerMethod }>();
  readonly #pools: WorkerPool[] = [];
  readonly #pendingPools: Array<Promise<void>> = [];

  /**
   * @internal The way {@link server} reaches the private constructor.
   * @param config - as for {@link server}
   * @returns the server
   */
  static create(config: ServerConfig): Server {
    return new Server(config);
  }

  /**
   * Private so that `new Server()` is a type error in the published types, not a runtime surprise.
   * Use {@link server}.
   */
  private constructor(config: ServerConfig = {}) {
    this.#options = resolveServerOptions(config.options);
    this.#interceptors = checkInterceptors(config.interceptors);
    this.#resolve = composeInterceptors(this.#interceptors, (d) => this.#lookup(d));
    this.#executor = config.executor === undefined || config.executor === null ? undefined : new Executor(config.executor);
    const max = config.maximumConcurrentRpcs;
    if (max !== undefined && max !== null && (!Number.isInteger(max) || max < 1)) {
      throw new RangeError(`Cannot create server: maximumConcurrentRpcs must be a positive integer, got ${String(max)}`);
    }
    this.#maxRpcs = max ?? Infinity;
    this.#compression = config.compression === undefined || config.compression === null ? undefined : checkCompression(config.compression, 'compression');
    this.#report = safeReporter(config.onHandlerError ?? ((err, method) => console.error(`grpc-iter: handler of ${method} threw`, err)));
    this.#transport = new TransportServer({ ...this.#options, cors: resolveCorsPolicy(config.cors) }, (port) => this.#onCall(port, false), this.#report);
    if (config.handlers !== undefined) this.addGenericRpcHandlers(config.handlers);
  }

  /**
   * Registers generic handlers, consulted in order after the registered method handlers.
   * @param genericRpcHandlers - handlers from {@link methodHandlersGenericHandler} or your own
   * @throws Error once the server has started
   */
  addGenericRpcHandlers(genericRpcHandlers: Iterable<GenericRpcHandler>): void {
    this.#checkNotStarted('add handlers');
    for (const h of genericRpcHandlers) {
      if (typeof (h as Partial<GenericRpcHandler> | null)?.service !== 'function') {
        throw new TypeError('Cannot add handlers: each generic handler needs a service(handlerCallDetails) method');
      }
      this.#generic.push(h);
      const named = (h as Partial<ServiceRpcHandler>).serviceName;
      if (typeof named === 'function') this.#noteService(named.call(h), undefined);
    }
  }

  /**
   * The services registered so far, by full name in registration order, each with the definition
   * it was added with by {@link Server.addService} (`undefined` for method handlers and named
   * generic handlers). Server reflection lists and describes these.
   * @returns a snapshot of the registered services
   */
  registeredServices(): ReadonlyMap<string, ServiceDefinition | undefined> {
    return new Map(this.#services);
  }

  #noteService(name: string, definition: ServiceDefinition | undefined): void {
    if (definition !== undefined || !this.#services.has(name)) this.#services.set(name, definition);
  }

  /**
   * Registers the method handlers of one service. They take precedence over generic handlers
   * and are found by a single map lookup.
   * @param serviceName - the full service name, e.g. `'helloworld.Greeter'`
   * @param methodHandlers - handlers by method name
   * @throws TypeError for a value that is not an RpcMethodHandler; Error once started
   */
  addRegisteredMethodHandlers(serviceName: string, methodHandlers: Readonly<Record<string, AnyRpcMethodHandler>>): void {
    this.#checkNotStarted('add handlers');
    if (typeof serviceName !== 'string' || serviceName === '') throw new TypeError('Cannot add handlers: service name must be a non-empty string');
    this.#noteService(serviceName, undefined);
    for (const [method, handler] of Object.entries(methodHandlers)) {
      this.#register(`/${serviceName}/${method}`, checkMethodHandler(handler, `method "${serviceName}/${method}"`));
    }
  }

  /**
   * Registers an implementation of a service definition (from `loadProto`, generated code or
   * `@grpc/proto-loader`). Each method's behavior is looked up by its name as in the `.proto`
   * (`GetFeature`), then in lowerCamelCase (`getFeature`); a class instance works, its methods
   * called on it. Methods left out answer `UNIMPLEMENTED`.
   * @param definition - the service definition
   * @param implementation - the behaviors by method name
   * @throws TypeError for a member that is not a function; Error once started
   *
   * @example
   * ```ts
   * srv.addService(routeguide.RouteGuide, {
   *   getFeature: (point) => findFeature(point),
   *   async *listFeatures(rect) { yield* featuresIn(rect); },
   * });
   * ```
   */
  addService(definition: ServiceDefinition, implementation: ServiceImplementation): void {
    this.#checkNotStarted('add service');
    if (typeof definition !== 'object' || definition === null) throw new TypeError('Cannot add service: definition must be an object');
    const impl = implementation as Record<string, unknown>;
    const first = Object.values(definition)[0];
    const service = first === undefined ? undefined : splitMethodPath(first.path)?.service;
    if (service !== undefined) this.#noteService(service, definition);
    for (const [name, method] of Object.entries(definition)) {
      const candidates = [name, lowerCamel(name), method.originalName].filter((n): n is string => n !== undefined);
      const key = candidates.find((n) => impl[n] !== undefined);
      if (key === undefined) continue;
      const fn = impl[key];
      if (typeof fn !== 'function') throw new TypeError(`Cannot add service: "${key}" of the implementation must be a function`);
      // Checked before bind(): a bound function no longer shows that it is a generator function.
      checkBehaviorShape(fn, method.responseStream, `method "${method.path.slice(1)}" of the service`);
      const behavior = (fn as AnyBehavior).bind(implementation);
      const make = method.requestStream
        ? method.responseStream
          ? streamStreamRpcMethodHandler
          : streamUnaryRpcMethodHandler
        : method.responseStream
          ? unaryStreamRpcMethodHandler
          : unaryUnaryRpcMethodHandler;
      this.#register(method.path, make(behavior as never, method.requestDeserialize, method.responseSerialize as (value: unknown) => Uint8Array));
    }
  }

  /**
   * Opens a plaintext port.
   * @param address - `host:port`, `[::]:port`, `localhost:0`, `unix:path`; port 0 picks a free one
   * @returns the bound port
   * @throws Error once started, or when the address cannot be bound
   */
  addInsecurePort(address: string): Promise<number> {
    return this.#addPort(address, null);
  }

  /**
   * Opens a TLS port.
   * @param address - as for {@link Server.addInsecurePort}
   * @param serverCredentials - from {@link sslServerCredentials}
   * @returns the bound port
   * @throws Error once started, or when the address cannot be bound
   */
  addSecurePort(address: string, serverCredentials: ServerCredentials): Promise<number> {
    return this.#addPort(address, tlsOptionsOf(serverCredentials));
  }

  async #addPort(address: string, tls: ReturnType<typeof tlsOptionsOf>): Promise<number> {
    if (typeof address !== 'string') throw new TypeError('Cannot add port: address must be a string');
    if (this.#state !== NEW) throw new Error(`Cannot add port "${address}": server already ${this.#state === STARTED ? 'started' : 'stopped'}`);
    return this.#transport.listen(address, tls ?? undefined);
  }

  /**
   * Starts serving RPCs. May be called once.
   * @throws Error when called a second time or after stop
   */
  async start(): Promise<void> {
    if (this.#state !== NEW) throw new Error(`Cannot start server: it was already ${this.#state === STARTED ? 'started' : 'stopped'}`);
    this.#state = STARTED;
    // Worker modules still loading: their methods must be routable before the first call.
    await Promise.all(this.#pendingPools);
  }

  /**
   * Serves the services of a handler module in a pool of worker threads, for CPU-bound
   * handlers (grpcio's thread pool, in parallel). The module is loaded in each worker: its
   * default export lists its services ({@link WorkerServices}). Request bytes move to a worker,
   * which decodes them, runs the handler with a full {@link ServicerContext} and encodes the
   * responses; streams keep their backpressure both ways. A handler that throws ends its call
   * `UNKNOWN`, reported to `onHandlerError` here; a worker that exits mid-call ends that call
   * `INTERNAL` and is replaced. `interceptService` interceptors run on the main thread first (one
   * may refuse the call); `interceptCall` interceptors and `executor` do not apply. The pool bounds
   * these calls, answering `RESOURCE_EXHAUSTED` past `maxQueued` waiting calls.
   * `stop()` drains the calls, then terminates the pool.
   * @param module - the handler module: a URL (`new URL('./handlers.js', import.meta.url)`) or a path
   * @param options - the pool's size, queue bound and idle timeout
   * @returns a promise that settles once a worker has loaded the module and its methods are routed
   * @throws RangeError for a bad option; Error once started; the module's load error (async)
   *
   * @example
   * ```ts
   * const srv = server();
   * await srv.addWorkerHandlers(new URL('./hash-handlers.js', import.meta.url), { maxWorkers: 2 });
   * await srv.addInsecurePort('127.0.0.1:50051');
   * await srv.start();
   * ```
   */
  addWorkerHandlers(module: URL | string, options: WorkerPoolOptions = {}): Promise<void> {
    this.#checkNotStarted('add worker handlers');
    const pool = new WorkerPool(module, options, { maxSendMessageBytes: this.#options.maxSendMessageBytes }, this.#report);
    this.#pools.push(pool);
    const ready = pool.describe().then((description) => {
      for (const method of description.methods) {
        const served = { pool, method };
        const handler = workerMethodHandler(method);
        this.#workerMethods.set(method.path, served);
        this.#workerHandlers.set(handler, served);
        this.#handlers.set(method.path, handler);
      }
      for (const service of description.services) this.#noteService(service, undefined);
    });
    // start() waits for it; the caller sees its failure.
    this.#pendingPools.push(ready.catch(() => undefined));
    return ready;
  }

  /** @internal The invokers registered so far, by path. */
  get [registeredInvokers](): ReadonlyMap<string, MethodInvoker> {
    return this.#registered;
  }

  /**
   * Stops the server. No new RPCs are accepted from this moment. With `grace` null (or 0),
   * every in-flight RPC is cancelled at once; otherwise in-flight RPCs may finish for `grace`
   * seconds, then the rest are cancelled: their signals abort and their clients get
   * `UNAVAILABLE`, queued behind the responses already written. Half a second after that
   * (`STATUS_FLUSH_MS`), streams whose client has not read its status are reset and the
   * connections closed, so the promise settles at most `grace` + 0.5 s after the call (given
   * peers that answer GOAWAY). Calling it again is harmless, and a shorter grace takes effect.
   * @param grace - seconds to let in-flight RPCs finish, or null
   * @returns a promise that settles when every connection is closed
   */
  stop(grace: number | null = null): Promise<void> {
    if (grace !== null && (typeof grace !== 'number' || Number.isNaN(grace) || grace < 0)) {
      throw new RangeError(`Cannot stop server: grace must be null or a number of seconds, got ${String(grace)}`);
    }
    const deadline = grace === null ? Date.now() : Date.now() + grace * 1000;
    if (this.#stopped === undefined) {
      this.#state = STOPPING;
      this.#transport.beginShutdown();
      this.#stopped = this.#transport.closed().then(async () => {
        // Every call has ended by now (drained in grace, or cancelled): the workers can go.
        await Promise.all(this.#pools.map((pool) => pool.destroy()));
        this.#state = STOPPED;
        if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
        for (const resolve of this.#terminated.splice(0)) resolve();
      });
    }
    if (deadline < this.#stopDeadline && this.#state !== STOPPED) {
      this.#stopDeadline = deadline;
      if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
      const wait = deadline - Date.now();
      if (wait <= 0) this.#cancelAll();
      else this.#graceTimer = setTimeout(() => this.#cancelAll(), wait);
    }
    return this.#stopped;
  }

  /**
   * Waits until the server has stopped.
   * @param timeout - seconds to wait at most; undefined or null waits for ever
   * @returns true once stopped, false if `timeout` passed first
   */
  waitForTermination(timeout?: number | null): Promise<boolean> {
    if (this.#state === STOPPED) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        resolve(true);
      };
      this.#terminated.push(done);
      if (timeout !== undefined && timeout !== null) {
        timer = setTimeout(() => {
          const i = this.#terminated.indexOf(done);
          if (i >= 0) this.#terminated.splice(i, 1);
          resolve(false);
        }, Math.max(0, timeout * 1000));
      }
    });
  }

  #cancelAll(): void {
    this.#graceTimer = undefined;
    const reason = shutdownError();
    // Each status is queued behind the bytes already written, so busy calls end UNAVAILABLE
    // (retryable) too; a stream whose status has not left within STATUS_FLUSH_MS is reset, and
    // the connections still open then are closed.
    for (const call of [...this.#calls]) call.cancel(reason, true);
    const timer = setTimeout(() => this.#transport.destroySessions(), STATUS_FLUSH_MS);
    timer.unref();
  }

  #checkNotStarted(action: string): void {
    if (this.#state !== NEW) throw new Error(`Cannot ${action}: server already ${this.#state === STARTED ? 'started' : 'stopped'}`);
  }

  #register(path: string, handler: AnyRpcMethodHandler): void {
    this.#handlers.set(path, handler);
    this.#registered.set(path, this.#invoker(handler, path));
  }

  #lookup(details: HandlerCallDetails): InterceptedHandler {
    const registered = this.#handlers.get(details.method);
    if (registered !== undefined) return registered;
    for (const generic of this.#generic) {
      const handler = generic.service(details);
      if (handler !== null && handler !== undefined) return handler;
    }
    return null;
  }

  /**
   * The invoker for a handler, wrapped by the interceptCall interceptors, built once per handler
   * object; a handler not seen before (from a generic handler or an interceptor) is checked then.
   * @throws TypeError naming `path` for a value that is not a valid RpcMethodHandler
   */
  #invoker(handler: AnyRpcMethodHandler, path: string): MethodInvoker {
    const own = invokerOf(handler, () => checkMethodHandler(handler, `the handler of ${path}`));
    if (this.#interceptors.length === 0) return own;
    let wrapped = this.#wrapped.get(own);
    if (wrapped === undefined) {
      wrapped = wrapInvoker(own, this.#interceptors);
      this.#wrapped.set(own, wrapped);
    }
    return wrapped;
  }

  /**
   * Takes one admitted call from a transport. The network transport's calls need a started
   * server; in-process calls may come while it is new (there are no ports to wait for).
   */
  #onCall(port: ServerCallPort, inProcess: boolean): void {
    if (this.#state !== STARTED && !(inProcess && this.#state === NEW)) {
      port.finish(StatusCode.UNAVAILABLE, this.#state === NEW ? 'Server not started' : 'Server is shutting down');
      return;
    }
    if (this.#calls.size >= this.#maxRpcs) {
      port.finish(StatusCode.RESOURCE_EXHAUSTED, 'Concurrent RPC limit exceeded');
      return;
    }
    if (this.#compression !== undefined) port.setResponseCompression(this.#compression);
    this.#calls.add(port);
    // Bound, not a closure over this frame: an idle call keeps no context of #onCall alive.
    port.onDone(this.#calls.delete.bind(this.#calls, port));

    const path = port.path;
    const ctx = new ServerContext(port);
    if (this.#resolve === undefined) {
      const inWorker = this.#workerMethods.get(path);
      if (inWorker !== undefined) {
        inWorker.pool.run(port, inWorker.method);
        return;
      }
      const invoker = this.#registered.get(path);
      if (invoker !== undefined) this.#run(port, ctx, invoker);
      else this.#runResolved(port, ctx, this.#lookup({ method: path, get invocationMetadata() { return port.metadata; } }));
      return;
    }
    const details: HandlerCallDetails = { method: path, invocationMetadata: port.metadata };
    let resolved: InterceptedHandler | Promise<InterceptedHandler>;
    try {
      resolved = this.#resolve(details);
    } catch (err) {
      this.#interceptorFailed(port, err);
      return;
    }
    if (isThenable(resolved)) {
      // Any thenable, not only a native Promise; #runResolved never throws, so nothing is left unhandled.
      Promise.resolve(resolved).then((h) => this.#runResolved(port, ctx, h), (err: unknown) => this.#interceptorFailed(port, err));
    } else this.#runResolved(port, ctx, resolved);
  }

  #interceptorFailed(port: ServerCallPort, err: unknown): void {
    // The same table as for handlers (STYLE.md §5); only the generic details differ.
    if (isUnexpectedError(err)) this.#report(err, port.path);
    const status = toRpcError(err, 'Unexpected error in interceptor');
    port.finish(status.code, status.details, status.trailingMetadata.size > 0 ? status.trailingMetadata : undefined);
  }

  #runResolved(port: ServerCallPort, ctx: ServerContext, handler: InterceptedHandler): void {
    if (!port.active) return;
    if (handler === null || handler === undefined) {
      port.finish(StatusCode.UNIMPLEMENTED, `Method not found: ${port.path}`);
      return;
    }
    // interceptService let a worker method through as it was: the worker serves it (interceptCall
    // interceptors wrap main-thread invokers only).
    const inWorker = this.#workerHandlers.get(handler);
    if (inWorker !== undefined) {
      inWorker.pool.run(port, inWorker.method);
      return;
    }
    let invoker: MethodInvoker;
    try {
      invoker = this.#invoker(handler, port.path);
    } catch (err) {
      // A generic handler or an interceptor answered with something that is not a handler.
      this.#report(err, port.path);
      port.finish(StatusCode.INTERNAL, 'Cannot run handler: the handler found for this method is not a valid RpcMethodHandler');
      return;
    }
    this.#run(port, ctx, invoker);
  }

  #run(port: ServerCallPort, ctx: ServerContext, invoker: MethodInvoker): void {
    if (!port.active) return;
    const executor = this.#executor;
    if (executor === undefined) {
      void runCall(port, ctx, invoker, this.#report);
      return;
    }
    if (invoker.requestStreaming) {
      this.#submit(executor, port, ctx, invoker, undefined);
      return;
    }
    // A unary request is read before the RPC takes a worker, so a client trickling its body
    // (a slow loris) holds none; what it can hold is bounded by max_receive_message_length.
    port.readUnary().then(
      (bytes) => this.#submit(executor, port, ctx, invoker, bytes),
      (err: unknown) => failCall(port, ctx, err, this.#report),
    );
  }

  #submit(executor: Executor, port: ServerCallPort, ctx: ServerContext, invoker: MethodInvoker, bytes: Uint8Array | undefined): void {
    if (!port.active) return;
    const withdraw = executor.submit(() => (port.active ? runCall(port, ctx, invoker, this.#report, bytes) : Promise.resolve()));
    if (withdraw === null) {
      port.finish(StatusCode.RESOURCE_EXHAUSTED, 'Cannot run handler: every worker is busy and the queue is full');
      return;
    }
    port.onDone(withdraw);
  }

  #inProcess: InProcessEntry | undefined;

  /** The in-process transport's way in (`inProcessChannel(server)` uses it). */
  get [inProcessSink](): unknown {
    return (this.#inProcess ??= {
      limits: { maxReceiveMessageBytes: this.#options.maxReceiveMessageBytes, maxSendMessageBytes: this.#options.maxSendMessageBytes },
      accept: (port) => {
        try {
          this.#onCall(port, true);
        } catch (err) {
          this.#report(err, port.path);
          port.cancel(new RpcError(StatusCode.INTERNAL, 'Cannot accept call'), true);
        }
      },
    });
  }
}

/** Wraps `onHandlerError` so that its own throw can never break a call or reach the process. */
function safeReporter(report: ErrorReporter): ErrorReporter {
  return (error, method) => {
    try {
      report(error, method);
    } catch (err) {
      process.emitWarning(`grpc-iter: onHandlerError threw while reporting an error of ${method}: ${String(err)}`);
    }
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function';
}

/** The status a client sees when the server stops with calls in flight. */
function shutdownError(): RpcError {
  return new RpcError(StatusCode.UNAVAILABLE, 'Server is shutting down');
}

function lowerCamel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/**
 * Creates a server (grpcio's `grpc.server`).
 *
 * @param config - executor, handlers, interceptors, options, maximumConcurrentRpcs, compression
 * @returns a new, not yet started server
 * @throws TypeError or RangeError for a bad option value
 *
 * @example
 * ```ts
 * const srv = server({ executor: { maxWorkers: 10 }, options: [['grpc.keepalive_time_ms', 30_000]] });
 * srv.addGenericRpcHandlers([greeter]);
 * const port = await srv.addInsecurePort('[::]:50051');
 * await srv.start();
 * process.on('SIGINT', () => void srv.stop(5));
 * await srv.waitForTermination();
 * ```
 */
export function server(config: ServerConfig = {}): Server {
  return Server.create(config);
}
