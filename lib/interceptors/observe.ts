import { RpcError, StatusCode, isUnexpectedError, toRpcError } from '../protocol/index.js';
import { onCallEnd, type ServerNext, type ServicerContext } from '../server/index.js';

/** How an RPC ended, as a server interceptor observes it. */
export interface RpcOutcome {
  /** The status code sent (or, for a cancelled call, why it was cancelled). */
  readonly code: StatusCode;
  /** The status message. */
  readonly details: string;
  /** What the handler threw, when it threw something other than an RpcError, an abort or a timeout. */
  readonly error?: unknown;
}

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

/**
 * Watches one call: `onEnd` runs once, when the call has ended, with the status the client
 * was sent (so a response that fails to serialize logs INTERNAL, not OK). `onEnd` runs outside
 * the call: if it throws, the call's status is already out and the error becomes a warning.
 */
function watch(context: ServicerContext, onEnd: (outcome: RpcOutcome) => void): (error: unknown) => void {
  let error: unknown;
  const end = (outcome: RpcOutcome): void => {
    try {
      onEnd(outcome);
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
 * The body of an `interceptCall` that watches the call: `onEnd` runs once, when the call has
 * ended, with the outcome the client saw. Written once for all four kinds: the responses pass
 * through untouched, and what the rest of the chain or the handler throws while they are pulled
 * is noted (the `error` of an unexpected one) and thrown on.
 * @param requests - the call's requests, handed to `next` as they are
 * @param context - the call's context
 * @param next - the rest of the chain
 * @param onEnd - runs once when the call has ended
 * @returns the responses of `next`
 * @internal
 */
export function observeCall(requests: AsyncIterable<unknown>, context: ServicerContext, next: ServerNext, onEnd: (outcome: RpcOutcome) => void): AsyncIterable<unknown> {
  return passThrough(requests, next, watch(context, onEnd));
}

// A generator, so a `next` that throws at once is noted like one that throws later. `yield*`
// hands every step (next, return, throw) straight to the inner iterator: the server's `return`
// on cancellation and `throw` after a failed write reach the handler, whose `finally` runs.
async function* passThrough(requests: AsyncIterable<unknown>, next: ServerNext, failed: (error: unknown) => void): AsyncGenerator<unknown> {
  try {
    yield* next(requests);
  } catch (err) {
    failed(err);
    throw err;
  }
}
