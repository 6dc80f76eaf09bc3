import type { Metadata } from '../protocol/index.js';
import type { ServicerContext } from './context.js';
import { checkBehaviorShape } from './normalize.js';

/** Something a streaming handler may return: any iterable or async iterable, or a promise of one. */
export type ResponseStream<Res> = Iterable<Res> | AsyncIterable<Res> | PromiseLike<Iterable<Res> | AsyncIterable<Res>>;

/** A unary-unary behavior: one request in, one response out (sync or async). */
export type UnaryUnaryBehavior<Req, Res> = (request: Req, context: ServicerContext) => Res | PromiseLike<Res>;
/** A unary-stream behavior: one request in, a stream out (`function*`, `async function*`, or any iterable). */
export type UnaryStreamBehavior<Req, Res> = (request: Req, context: ServicerContext) => ResponseStream<Res>;
/** A stream-unary behavior: an async iterable of requests in, one response out. */
export type StreamUnaryBehavior<Req, Res> = (requests: AsyncIterable<Req>, context: ServicerContext) => Res | PromiseLike<Res>;
/** A stream-stream behavior: an async iterable of requests in, a stream out. */
export type StreamStreamBehavior<Req, Res> = (requests: AsyncIterable<Req>, context: ServicerContext) => ResponseStream<Res>;

/** Turns request bytes into a request value. */
export type Deserializer<T> = (bytes: Uint8Array) => T;
/** Turns a response value into bytes. */
export type Serializer<T> = (value: T) => Uint8Array;

/**
 * An implementation of a single RPC method (grpcio's `RpcMethodHandler`): its streaming flags,
 * its codecs, and exactly one behavior, the one matching its kind.
 *
 * Make one with {@link unaryUnaryRpcMethodHandler} and its three siblings.
 */
export interface RpcMethodHandler<Req = unknown, Res = unknown> {
  /** Whether the client sends a stream of requests. */
  readonly requestStreaming: boolean;
  /** Whether the server answers with a stream of responses. */
  readonly responseStreaming: boolean;
  /** Decodes a request; without one the behavior receives the raw bytes. */
  readonly requestDeserializer: Deserializer<Req> | undefined;
  /** Encodes a response; without one the behavior must produce `Uint8Array`s. */
  readonly responseSerializer: Serializer<Res> | undefined;
  /** The behavior of a unary-unary method. */
  readonly unaryUnary: UnaryUnaryBehavior<Req, Res> | undefined;
  /** The behavior of a unary-stream method. */
  readonly unaryStream: UnaryStreamBehavior<Req, Res> | undefined;
  /** The behavior of a stream-unary method. */
  readonly streamUnary: StreamUnaryBehavior<Req, Res> | undefined;
  /** The behavior of a stream-stream method. */
  readonly streamStream: StreamStreamBehavior<Req, Res> | undefined;
}

/**
 * A method handler with its message types erased: every `RpcMethodHandler<Req, Res>` is one.
 * Collections of handlers for unrelated messages (generic handlers, interceptors) use it.
 */
export interface AnyRpcMethodHandler {
  /** Whether the client sends a stream of requests. */
  readonly requestStreaming: boolean;
  /** Whether the server answers with a stream of responses. */
  readonly responseStreaming: boolean;
  /** Decodes a request. */
  readonly requestDeserializer: ((bytes: Uint8Array) => unknown) | undefined;
  /** Encodes a response. */
  readonly responseSerializer: ((value: never) => Uint8Array) | undefined;
  /** The behavior of a unary-unary method. */
  readonly unaryUnary: ((request: never, context: ServicerContext) => unknown) | undefined;
  /** The behavior of a unary-stream method. */
  readonly unaryStream: ((request: never, context: ServicerContext) => unknown) | undefined;
  /** The behavior of a stream-unary method. */
  readonly streamUnary: ((requests: never, context: ServicerContext) => unknown) | undefined;
  /** The behavior of a stream-stream method. */
  readonly streamStream: ((requests: never, context: ServicerContext) => unknown) | undefined;
}

/** Describes an RPC that has just arrived (grpcio's `HandlerCallDetails`). */
export interface HandlerCallDetails {
  /** The method's full path, `/package.Service/Method`. */
  readonly method: string;
  /** The metadata the client sent. */
  readonly invocationMetadata: Metadata;
}

/** An implementation of arbitrarily many RPC methods (grpcio's `GenericRpcHandler`). */
export interface GenericRpcHandler {
  /**
   * Returns the handler for an RPC, or null (or undefined) when this implementation does not
   * service it.
   * @param handlerCallDetails - the method and metadata of the RPC
   */
  service(handlerCallDetails: HandlerCallDetails): AnyRpcMethodHandler | null | undefined;
}

/** A GenericRpcHandler for the methods of one service (grpcio's `ServiceRpcHandler`). */
export interface ServiceRpcHandler extends GenericRpcHandler {
  /** @returns the service's full name, e.g. `'helloworld.Greeter'` */
  serviceName(): string;
}

// Inside the server a handler's messages are whatever its codecs produce; dispatch calls the
// behaviors with exactly those values, so the internal view uses `any` for them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyHandler = RpcMethodHandler<any, any>;

function checkBehavior(behavior: unknown, factory: string): void {
  if (typeof behavior !== 'function') throw new TypeError(`Cannot create handler with ${factory}: behavior must be a function`);
}

function checkCodec(codec: unknown, factory: string, what: string): void {
  if (codec !== undefined && codec !== null && typeof codec !== 'function') {
    throw new TypeError(`Cannot create handler with ${factory}: ${what} must be a function`);
  }
}

function make<Req, Res>(
  factory: string,
  requestStreaming: boolean,
  responseStreaming: boolean,
  behavior: unknown,
  requestDeserializer: Deserializer<Req> | undefined | null,
  responseSerializer: Serializer<Res> | undefined | null,
): RpcMethodHandler<Req, Res> {
  checkBehavior(behavior, factory);
  checkCodec(requestDeserializer, factory, 'requestDeserializer');
  checkCodec(responseSerializer, factory, 'responseSerializer');
  const key = requestStreaming ? (responseStreaming ? 'streamStream' : 'streamUnary') : responseStreaming ? 'unaryStream' : 'unaryUnary';
  return Object.freeze({
    requestStreaming,
    responseStreaming,
    requestDeserializer: requestDeserializer ?? undefined,
    responseSerializer: responseSerializer ?? undefined,
    unaryUnary: undefined,
    unaryStream: undefined,
    streamUnary: undefined,
    streamStream: undefined,
    [key]: behavior,
  }) as RpcMethodHandler<Req, Res>;
}

/**
 * Creates the handler of a unary-unary method.
 *
 * @param behavior - `(request, context) => response`, sync or async
 * @param requestDeserializer - decodes request bytes; omitted, the behavior gets the bytes
 * @param responseSerializer - encodes the response; omitted, the behavior returns bytes
 * @returns the method handler
 * @throws TypeError when `behavior` is not a function
 *
 * @example
 * ```ts
 * const sayHello = unaryUnaryRpcMethodHandler(
 *   (request: { name: string }) => ({ message: `Hello ${request.name}` }),
 *   (bytes) => JSON.parse(Buffer.from(bytes).toString()),
 *   (reply) => Buffer.from(JSON.stringify(reply)),
 * );
 * ```
 */
export function unaryUnaryRpcMethodHandler<Req, Res>(
  behavior: UnaryUnaryBehavior<Req, Res>,
  requestDeserializer?: Deserializer<Req> | null,
  responseSerializer?: Serializer<Res> | null,
): RpcMethodHandler<Req, Res> {
  return make('unaryUnaryRpcMethodHandler', false, false, behavior, requestDeserializer, responseSerializer);
}

/**
 * Creates the handler of a unary-stream (server-streaming) method.
 *
 * @param behavior - `function*`, `async function*`, or a function returning any (async) iterable
 * @param requestDeserializer - decodes request bytes
 * @param responseSerializer - encodes each response
 * @returns the method handler
 * @throws TypeError when `behavior` is not a function
 *
 * @example
 * ```ts
 * const countTo = unaryStreamRpcMethodHandler(async function* (request: number, context) {
 *   for (let i = 1; i <= request; i++) {
 *     await delay(context.signal, 100);
 *     yield i;
 *   }
 * }, decodeNumber, encodeNumber);
 * ```
 */
export function unaryStreamRpcMethodHandler<Req, Res>(
  behavior: UnaryStreamBehavior<Req, Res>,
  requestDeserializer?: Deserializer<Req> | null,
  responseSerializer?: Serializer<Res> | null,
): RpcMethodHandler<Req, Res> {
  return make('unaryStreamRpcMethodHandler', false, true, behavior, requestDeserializer, responseSerializer);
}

/**
 * Creates the handler of a stream-unary (client-streaming) method.
 *
 * @param behavior - `(requests: AsyncIterable, context) => response`, sync or async
 * @param requestDeserializer - decodes each request
 * @param responseSerializer - encodes the response
 * @returns the method handler
 * @throws TypeError when `behavior` is not a function
 *
 * @example
 * ```ts
 * const sum = streamUnaryRpcMethodHandler(async (requests: AsyncIterable<number>) => {
 *   let total = 0;
 *   for await (const n of requests) total += n;
 *   return total;
 * }, decodeNumber, encodeNumber);
 * ```
 */
export function streamUnaryRpcMethodHandler<Req, Res>(
  behavior: StreamUnaryBehavior<Req, Res>,
  requestDeserializer?: Deserializer<Req> | null,
  responseSerializer?: Serializer<Res> | null,
): RpcMethodHandler<Req, Res> {
  return make('streamUnaryRpcMethodHandler', true, false, behavior, requestDeserializer, responseSerializer);
}

/**
 * Creates the handler of a stream-stream (bidirectional) method.
 *
 * @param behavior - `async function* (requests, context)`, `function*`, or a function returning any (async) iterable
 * @param requestDeserializer - decodes each request
 * @param responseSerializer - encodes each response
 * @returns the method handler
 * @throws TypeError when `behavior` is not a function
 *
 * @example
 * ```ts
 * const echo = streamStreamRpcMethodHandler(async function* (requests: AsyncIterable<Uint8Array>) {
 *   for await (const message of requests) yield message;
 * });
 * ```
 */
export function streamStreamRpcMethodHandler<Req, Res>(
  behavior: StreamStreamBehavior<Req, Res>,
  requestDeserializer?: Deserializer<Req> | null,
  responseSerializer?: Serializer<Res> | null,
): RpcMethodHandler<Req, Res> {
  return make('streamStreamRpcMethodHandler', true, true, behavior, requestDeserializer, responseSerializer);
}

/**
 * Checks that `handler` is a well-formed RpcMethodHandler: the behavior its flags name, of a
 * shape that can serve its kind (no generator function for a unary response).
 * @internal
 * @throws TypeError naming `where`
 */
export function checkMethodHandler(handler: unknown, where: string): AnyHandler {
  const h = handler as Partial<RpcMethodHandler> | null;
  if (typeof h !== 'object' || h === null || typeof h.requestStreaming !== 'boolean' || typeof h.responseStreaming !== 'boolean') {
    throw new TypeError(`Cannot register ${where}: expected an RpcMethodHandler (use unaryUnaryRpcMethodHandler and friends)`);
  }
  const key = h.requestStreaming ? (h.responseStreaming ? 'streamStream' : 'streamUnary') : h.responseStreaming ? 'unaryStream' : 'unaryUnary';
  if (typeof h[key] !== 'function') throw new TypeError(`Cannot register ${where}: a ${kindName(h)} handler needs a "${key}" behavior`);
  checkBehaviorShape(h[key], h.responseStreaming, where);
  return h as AnyHandler;
}

function kindName(h: Partial<RpcMethodHandler>): string {
  return `${h.requestStreaming ? 'stream' : 'unary'}-${h.responseStreaming ? 'stream' : 'unary'}`;
}

/**
 * Creates a GenericRpcHandler serving the methods of one service (grpcio's
 * `method_handlers_generic_handler`).
 *
 * @param service - the full service name, e.g. `'helloworld.Greeter'`
 * @param methodHandlers - the method handlers by method name
 * @returns a ServiceRpcHandler for `addGenericRpcHandlers`
 * @throws TypeError for a value that is not an RpcMethodHandler
 *
 * @example
 * ```ts
 * srv.addGenericRpcHandlers([methodHandlersGenericHandler('demo.Echo', { Echo: echo })]);
 * ```
 */
export function methodHandlersGenericHandler(service: string, methodHandlers: Readonly<Record<string, AnyRpcMethodHandler>>): ServiceRpcHandler {
  if (typeof service !== 'string' || service === '') throw new TypeError('Cannot create generic handler: service name must be a non-empty string');
  const byPath = new Map<string, AnyHandler>();
  for (const [method, handler] of Object.entries(methodHandlers)) {
    byPath.set(`/${service}/${method}`, checkMethodHandler(handler, `method "${service}/${method}"`));
  }
  return {
    service: (details) => byPath.get(details.method) ?? null,
    serviceName: () => service,
  };
}
