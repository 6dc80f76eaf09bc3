import { RpcError, StatusCode } from '../protocol/index.js';
import type { AnyRpcMethodHandler, RpcMethodHandler, ServicerContext } from '../server/index.js';

/** How an RPC ended, as a server interceptor observes it. */
export interface RpcOutcome {
  /** The status code sent (or, for a cancelled call, why it was cancelled). */
  readonly code: StatusCode;
  /** The status message. */
  readonly details: string;
  /** What the handler threw, when it threw something other than an RpcError. */
  readonly error?: unknown;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyHandler = RpcMethodHandler<any, any>;

function outcomeOf(context: ServicerContext, error: unknown): RpcOutcome {
  if (context.signal.aborted && context.signal.reason instanceof RpcError) {
    return { code: context.signal.reason.code, details: context.signal.reason.details };
  }
  if (error === undefined) return { code: context.code() ?? StatusCode.OK, details: context.details() ?? '' };
  if (error instanceof RpcError) return { code: error.code, details: error.details };
  const set = context.code();
  if (set !== undefined && set !== StatusCode.OK) return { code: set, details: context.details() ?? '', error };
  return { code: StatusCode.UNKNOWN, details: 'Unexpected error in handler', error };
}

async function* observeStream<T>(source: Iterable<T> | AsyncIterable<T> | PromiseLike<Iterable<T> | AsyncIterable<T>>, done: (error: unknown) => void): AsyncGenerator<T> {
  try {
    yield* await source;
  } catch (err) {
    done(err);
    throw err;
  }
  done(undefined);
}

/**
 * Wraps a method handler so that `onEnd` runs once when its behavior finishes, with the
 * outcome the client will see. The handler's kind, codecs and behavior are otherwise unchanged.
 * @internal
 */
export function observeHandler(erased: AnyRpcMethodHandler, onEnd: (outcome: RpcOutcome, context: ServicerContext) => void): AnyRpcMethodHandler {
  const handler = erased as AnyHandler; // its behaviors only ever get what its own codecs made
  const report = (context: ServicerContext) => {
    let reported = false;
    return (error: unknown): void => {
      if (reported) return;
      reported = true;
      onEnd(outcomeOf(context, error), context);
    };
  };
  const unary =
    <In>(behavior: ((input: In, context: ServicerContext) => unknown) | undefined) =>
    behavior === undefined
      ? undefined
      : async (input: In, context: ServicerContext): Promise<unknown> => {
          const done = report(context);
          try {
            const response = await behavior(input, context);
            done(undefined);
            return response;
          } catch (err) {
            done(err);
            throw err;
          }
        };
  const streaming =
    <In>(behavior: ((input: In, context: ServicerContext) => Iterable<unknown> | AsyncIterable<unknown> | PromiseLike<Iterable<unknown> | AsyncIterable<unknown>>) | undefined) =>
    behavior === undefined
      ? undefined
      : (input: In, context: ServicerContext): AsyncIterable<unknown> => {
          const done = report(context);
          context.addCallback(() => done(undefined)); // a call cancelled mid-stream still reports
          return observeStream(behavior(input, context), done);
        };
  return {
    ...handler,
    unaryUnary: unary(handler.unaryUnary),
    streamUnary: unary(handler.streamUnary),
    unaryStream: streaming(handler.unaryStream),
    streamStream: streaming(handler.streamStream),
  };
}
