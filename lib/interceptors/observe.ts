import { RpcError, StatusCode, isUnexpectedError, toRpcError } from '../protocol/index.js';
import { onCallEnd, type AnyRpcMethodHandler, type RpcMethodHandler, type ServicerContext } from '../server/index.js';

/** How an RPC ended, as a server interceptor observes it. */
export interface RpcOutcome {
  /** The status code sent (or, for a cancelled call, why it was cancelled). */
  readonly code: StatusCode;
  /** The status message. */
  readonly details: string;
  /** What the handler threw, when it threw something other than an RpcError, an abort or a timeout. */
  readonly error?: unknown;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyHandler = RpcMethodHandler<any, any>;

// Only for a context this server did not make (onCallEnd refuses it): the outcome is then
// inferred from what the behavior did, by the same table the server uses.
function outcomeOf(context: ServicerContext, error: unknown): RpcOutcome {
  if (context.signal.aborted && context.signal.reason instanceof RpcError) {
    return { code: context.signal.reason.code, details: context.signal.reason.details };
  }
  if (error === undefined) return { code: context.code() ?? StatusCode.OK, details: context.details() ?? '' };
  const status = toRpcError(error);
  return isUnexpectedError(error) ? { code: status.code, details: status.details, error } : { code: status.code, details: status.details };
}

async function* observeStream<T>(source: Iterable<T> | AsyncIterable<T>, failed: (error: unknown) => void): AsyncGenerator<T> {
  try {
    yield* source;
  } catch (err) {
    failed(err);
    throw err;
  }
}

function isIterable(value: unknown): value is Iterable<unknown> | AsyncIterable<unknown> {
  return value !== null && typeof value === 'object' && (Symbol.asyncIterator in value || Symbol.iterator in value);
}

// A result that is not iterable is passed through untouched, so the server refuses it as it
// would without the interceptor (INTERNAL, reported with the method's name).
function observeResult(result: unknown, failed: (error: unknown) => void): unknown {
  if (isIterable(result)) return observeStream(result, failed);
  if (result === null || typeof result !== 'object' || typeof (result as PromiseLike<unknown>).then !== 'function') return result;
  return Promise.resolve(result as PromiseLike<unknown>).then(
    (source) => (isIterable(source) ? observeStream(source, failed) : source),
    (err: unknown) => {
      failed(err);
      throw err;
    },
  );
}

/**
 * Watches one call: `onEnd` runs once, when the call has ended, with the status the client
 * was sent (so a response that fails to serialize logs INTERNAL, not OK). `onEnd` runs outside
 * the call: if it throws, the call's status is already out and the error becomes a warning.
 */
function watch(context: ServicerContext, onEnd: (outcome: RpcOutcome, context: ServicerContext) => void): (error: unknown) => void {
  let error: unknown;
  const end = (outcome: RpcOutcome): void => {
    try {
      onEnd(outcome, context);
    } catch (err) {
      process.emitWarning(`grpc-iter: an interceptor's end-of-call observer threw: ${String(err)}`);
    }
  };
  const observed = onCallEnd(context, (status) => end(error === undefined ? status : { ...status, error }));
  if (!observed) context.addCallback(() => end(outcomeOf(context, error)));
  return (err) => {
    if (isUnexpectedError(err)) error = err;
  };
}

/**
 * Wraps a method handler so that `onEnd` runs once when its call ends, with the outcome the
 * client saw. The handler's kind, codecs and behavior are otherwise unchanged.
 * @internal
 */
export function observeHandler(erased: AnyRpcMethodHandler, onEnd: (outcome: RpcOutcome, context: ServicerContext) => void): AnyRpcMethodHandler {
  const handler = erased as AnyHandler; // its behaviors only ever get what its own codecs made
  const unary =
    <In>(behavior: ((input: In, context: ServicerContext) => unknown) | undefined) =>
    behavior === undefined
      ? undefined
      : async (input: In, context: ServicerContext): Promise<unknown> => {
          const failed = watch(context, onEnd);
          try {
            return await behavior(input, context);
          } catch (err) {
            failed(err);
            throw err;
          }
        };
  const streaming =
    <In>(behavior: ((input: In, context: ServicerContext) => Iterable<unknown> | AsyncIterable<unknown> | PromiseLike<Iterable<unknown> | AsyncIterable<unknown>>) | undefined) =>
    behavior === undefined
      ? undefined
      : (input: In, context: ServicerContext): unknown => {
          const failed = watch(context, onEnd);
          let result: unknown;
          try {
            result = behavior(input, context);
          } catch (err) {
            failed(err);
            throw err;
          }
          return observeResult(result, failed);
        };
  return {
    ...handler,
    unaryUnary: unary(handler.unaryUnary),
    streamUnary: unary(handler.streamUnary),
    unaryStream: streaming(handler.unaryStream),
    streamStream: streaming(handler.streamStream),
  };
}
