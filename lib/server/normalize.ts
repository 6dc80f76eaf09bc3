import { RpcError, StatusCode } from '../protocol/index.js';
import { onlyValue } from '../util/index.js';
import type { ServicerContext } from './context.js';
import type { AnyRpcMethodHandler, RpcMethodHandler } from './handlers.js';

/*
 * Every handler, of every kind and form, becomes one MethodInvoker when it is registered (or,
 * for a generic handler or an interceptor's replacement, when it is first seen): DESIGN.md §1.
 *
 *   kind            invoke(requests, ctx) gives            also            refused at registration
 *   unary-unary     [response]                             unary(req, ctx)  function*, async function*
 *   unary-stream    the behavior's (async) iterable
 *   stream-unary    [response]                                              function*, async function*
 *   stream-stream   the behavior's (async) iterable
 *
 * Unary requests are taken from the stream of requests with the exactly-one rule below. What
 * only a call can show (the value a plain function returns) is checked on that value: a stream
 * where one message belongs, or a non-iterable where a stream belongs, is INTERNAL.
 */

/** What a handler's responses may be: any iterable or async iterable. @internal */
export type Responses = Iterable<unknown> | AsyncIterable<unknown>;

/** One method's handler in its one internal form. @internal */
export interface MethodInvoker {
  /** Whether the client sends a stream of requests. */
  readonly requestStreaming: boolean;
  /** Whether the server answers with a stream of responses. */
  readonly responseStreaming: boolean;
  /**
   * Decodes one request message.
   * @throws RpcError INTERNAL when the deserializer throws
   */
  readonly decode: (bytes: Uint8Array) => unknown;
  /**
   * Encodes one response message.
   * @throws RpcError INTERNAL when the serializer throws, or there is none and the value is not bytes
   */
  readonly encode: (value: unknown) => Uint8Array;
  /**
   * The general form, for every kind: requests in, responses out. A unary response kind gives
   * exactly one.
   */
  readonly invoke: (requests: AsyncIterable<unknown>, context: ServicerContext) => Responses | Promise<Responses>;
  /** The unary fast path, only when both sides are unary: the behavior itself, one request in. */
  readonly unary: ((request: unknown, context: ServicerContext) => unknown) | undefined;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyHandler = RpcMethodHandler<any, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyBehavior = (input: any, context: ServicerContext) => unknown;

const GENERATOR_TAGS: ReadonlySet<string> = new Set(['[object GeneratorFunction]', '[object AsyncGeneratorFunction]']);

/** Whether `fn` is a `function*` or `async function*` (bound functions lose the tag; check before binding). @internal */
export function isGeneratorFunction(fn: unknown): boolean {
  return typeof fn === 'function' && GENERATOR_TAGS.has(Object.prototype.toString.call(fn));
}

/**
 * Refuses a behavior whose shape cannot serve its kind: a generator function for a unary
 * response would answer with a generator object, which serializes to an empty message.
 * @param behavior - the behavior function
 * @param responseStreaming - whether the method streams its responses
 * @param where - names the method in the error, e.g. `method "pkg.Svc/Say"`
 * @throws TypeError naming `where`
 * @internal
 */
export function checkBehaviorShape(behavior: unknown, responseStreaming: boolean, where: string): void {
  if (!responseStreaming && isGeneratorFunction(behavior)) {
    throw new TypeError(
      `Cannot register ${where}: its response is unary, but the behavior is a generator function (use unaryStreamRpcMethodHandler or streamStreamRpcMethodHandler for a streaming response)`,
    );
  }
}

const invokers = new WeakMap<AnyRpcMethodHandler, MethodInvoker>();

/**
 * The invoker of `handler`, built on first use and kept with the handler object, so a
 * generic handler that answers with the same object each time costs one lookup per call.
 * @param handler - the method handler
 * @param check - runs once, before the invoker is built (it throws for a malformed handler)
 * @internal
 */
export function invokerOf(handler: AnyRpcMethodHandler, check: () => void): MethodInvoker {
  let invoker = invokers.get(handler);
  if (invoker === undefined) {
    check();
    invoker = buildInvoker(handler as AnyHandler);
    invokers.set(handler, invoker);
  }
  return invoker;
}

function buildInvoker(handler: AnyHandler): MethodInvoker {
  const { requestStreaming, responseStreaming } = handler;
  const decode = decoder(handler.requestDeserializer);
  const encode = encoder(handler.responseSerializer);
  let invoke: MethodInvoker['invoke'];
  let unary: MethodInvoker['unary'];
  if (!requestStreaming && !responseStreaming) {
    const behavior = handler.unaryUnary as AnyBehavior;
    unary = behavior;
    invoke = async (requests, ctx) => [oneMessage(await behavior(await exactlyOne(requests, ctx), ctx), ctx)];
  } else if (!requestStreaming) {
    const behavior = handler.unaryStream as AnyBehavior;
    invoke = async (requests, ctx) => responseStream(await behavior(await exactlyOne(requests, ctx), ctx), ctx);
  } else if (!responseStreaming) {
    const behavior = handler.streamUnary as AnyBehavior;
    invoke = async (requests, ctx) => [oneMessage(await behavior(requests, ctx), ctx)];
  } else {
    const behavior = handler.streamStream as AnyBehavior;
    invoke = (requests, ctx) => {
      const result = behavior(requests, ctx);
      return isThenable(result) ? Promise.resolve(result).then((r) => responseStream(r, ctx)) : responseStream(result, ctx);
    };
  }
  return { requestStreaming, responseStreaming, decode, encode, invoke, unary };
}

function decoder(deserialize: ((bytes: Uint8Array) => unknown) | undefined): (bytes: Uint8Array) => unknown {
  if (deserialize === undefined) return identity;
  return (bytes) => {
    try {
      return deserialize(bytes);
    } catch (err) {
      throw new RpcError(StatusCode.INTERNAL, 'Cannot deserialize request', { cause: err });
    }
  };
}

function encoder(serialize: ((value: unknown) => Uint8Array) | undefined): (value: unknown) => Uint8Array {
  if (serialize === undefined) {
    return (value) => {
      if (value instanceof Uint8Array) return value;
      throw new RpcError(StatusCode.INTERNAL, 'Cannot serialize response: no responseSerializer and the response is not a Uint8Array');
    };
  }
  return (value) => {
    try {
      return serialize(value);
    } catch (err) {
      throw new RpcError(StatusCode.INTERNAL, 'Cannot serialize response', { cause: err });
    }
  };
}

/**
 * The one request of a unary-request method: exactly one message, then the end. Transports
 * check this as they read (the node:http2 one before buffering a second message); this is the
 * rule itself, for requests from anywhere.
 * @throws RpcError INTERNAL for none or several
 * @internal
 */
export function exactlyOne(requests: AsyncIterable<unknown>, ctx: ServicerContext): Promise<unknown> {
  return onlyValue(
    requests,
    () => new RpcError(StatusCode.INTERNAL, `Cannot accept request: ${ctx.method} got no request message`),
    () => new RpcError(StatusCode.INTERNAL, `Cannot accept request: ${ctx.method} got more than one request message`),
  );
}

/**
 * Checks a unary behavior's result: a message, not a stream (a sync or async iterator, or an
 * async iterable; arrays and byte arrays are iterable but are messages).
 * @throws RpcError INTERNAL (see {@link wrongResultShape})
 * @internal
 */
export function oneMessage(value: unknown, ctx: ServicerContext): unknown {
  if (isStreamResult(value)) throw wrongResultShape(ctx.method, 'a stream (an iterator or async iterable)', 'one response message');
  return value;
}

function isStreamResult(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Symbol.asyncIterator in value) return true;
  return Symbol.iterator in value && typeof (value as { next?: unknown }).next === 'function';
}

function responseStream(source: unknown, ctx: ServicerContext): Responses {
  if (source !== null && typeof source === 'object' && (Symbol.asyncIterator in source || Symbol.iterator in source)) return source as Responses;
  throw wrongResultShape(ctx.method, source === null ? 'null' : typeof source, 'an iterable or async iterable of responses');
}

/**
 * The status for a behavior whose result does not fit its method's kind: INTERNAL for the
 * client, with a TypeError naming the method as `cause`, reported once to `onHandlerError`.
 */
function wrongResultShape(method: string, got: string, wanted: string): RpcError {
  const cause = new TypeError(`Cannot send the response of ${method}: the behavior returned ${got}, but its method needs ${wanted}`);
  return new RpcError(StatusCode.INTERNAL, 'Cannot send response: the handler result does not fit its method kind', { cause });
}

/** @internal */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';
}

function identity(bytes: Uint8Array): Uint8Array {
  return bytes;
}
