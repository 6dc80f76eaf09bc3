import { RpcError, StatusCode } from '../protocol/index.js';

/*
 * Handler shapes, checked once when a handler is registered and, for what only a call can
 * show (the value a plain function returns), by a cheap test on that value. DESIGN.md §1: the
 * four kinds reduce to one form built here; for now this holds the checks every kind shares.
 *
 *   kind            behavior refused at registration     result refused per call
 *   unary response  function*, async function*            an iterator or async iterable
 *   stream response —                                     anything not (async) iterable
 */

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

/**
 * Whether a unary behavior's result is a stream instead of a message: a (sync or async)
 * iterator, or an async iterable. Arrays and byte arrays are iterable but are messages.
 * @internal
 */
export function isStreamResult(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Symbol.asyncIterator in value) return true;
  return Symbol.iterator in value && typeof (value as { next?: unknown }).next === 'function';
}

/**
 * The status for a behavior whose result does not fit its method's kind: INTERNAL for the
 * client, with a TypeError naming the method as `cause`, reported once to `onHandlerError`.
 * @param method - the method's path
 * @param got - what the behavior returned, described
 * @param wanted - what the kind needs
 * @internal
 */
export function wrongResultShape(method: string, got: string, wanted: string): RpcError {
  const cause = new TypeError(`Cannot send the response of ${method}: the behavior returned ${got}, but its method needs ${wanted}`);
  return new RpcError(StatusCode.INTERNAL, 'Cannot send response: the handler result does not fit its method kind', { cause });
}

/**
 * Checks a streaming behavior's (awaited) result before its first response is pulled.
 * @throws RpcError INTERNAL (see {@link wrongResultShape}) when `source` is not iterable
 * @internal
 */
export function checkResponseStream(source: unknown, method: string): asserts source is AsyncIterable<unknown> | Iterable<unknown> {
  if (source !== null && typeof source === 'object' && (Symbol.asyncIterator in source || Symbol.iterator in source)) return;
  throw wrongResultShape(method, source === null ? 'null' : typeof source, 'an iterable or async iterable of responses');
}
