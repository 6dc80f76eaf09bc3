import type { ServicerContext } from './context.js';
import type { AnyRpcMethodHandler, HandlerCallDetails } from './handlers.js';
import { isThenable, type MethodInvoker, type Responses } from './normalize.js';

/** What an interceptor returns, or its continuation gives back: a handler, or null for "not serviced". */
export type InterceptedHandler = AnyRpcMethodHandler | null | undefined;

/** Calls the next interceptor (or the handler lookup) for `details`. */
export type Continuation = (details: HandlerCallDetails) => InterceptedHandler | Promise<InterceptedHandler>;

/** The kind of the method a call intercepted by {@link ServerInterceptor.interceptCall} is for. */
export interface ServerCallKind {
  /** Whether the client sends a stream of requests. */
  readonly requestStreaming: boolean;
  /** Whether the server answers with a stream of responses. */
  readonly responseStreaming: boolean;
}

/** Continues an intercepted call: the next interceptor, or the handler. Requests in, responses out. */
export type ServerNext = (requests: AsyncIterable<unknown>) => AsyncIterable<unknown>;

/**
 * A server interceptor. It has one of two forms, or both:
 *
 * - `interceptService` (grpcio's `ServerInterceptor`): sees each RPC before its handler is
 *   chosen and may pass it on (`return continuation(details)`), replace the handler, or reject
 *   the call by throwing an RpcError.
 * - `interceptCall`: wraps the call itself in one shape for every kind — requests in, responses
 *   out, as async iterables of messages (unary calls are streams of one). It may transform
 *   either stream, observe the call, or throw to fail it. Written once, it serves all four kinds.
 *
 * Interceptors run in the order given, first outermost: the `interceptService` forms when the
 * handler is looked up, then the `interceptCall` forms around the handler. A call that an
 * `interceptCall` wraps does not take the unary fast path.
 *
 * @example
 * ```ts
 * const requireToken: ServerInterceptor = {
 *   interceptService(continuation, details) {
 *     if (details.invocationMetadata.get('authorization') !== 'Bearer secret') {
 *       throw new RpcError(StatusCode.UNAUTHENTICATED, 'Cannot call: missing or bad token');
 *     }
 *     return continuation(details);
 *   },
 * };
 * const countMessages: ServerInterceptor = {
 *   async *interceptCall(kind, requests, context, next) {
 *     let sent = 0;
 *     for await (const response of next(requests)) {
 *       sent++;
 *       yield response;
 *     }
 *     console.log(`${context.method}: ${sent} responses`);
 *   },
 * };
 * ```
 */
export interface ServerInterceptor {
  /**
   * Intercepts the arrival of an RPC.
   * @param continuation - gives the handler the rest of the chain would use
   * @param handlerCallDetails - the method and metadata of the RPC
   * @returns the handler to use, or null when the RPC is not serviced (UNIMPLEMENTED)
   */
  interceptService?(continuation: Continuation, handlerCallDetails: HandlerCallDetails): InterceptedHandler | Promise<InterceptedHandler>;
  /**
   * Intercepts a call as requests in, responses out.
   * @param kind - the method's streaming flags
   * @param requests - the call's requests (decoded)
   * @param context - the call's context
   * @param next - runs the rest of the chain and the handler on the requests it is given
   * @returns the responses to send (exactly one for a unary-response method)
   */
  interceptCall?(kind: ServerCallKind, requests: AsyncIterable<unknown>, context: ServicerContext, next: ServerNext): AsyncIterable<unknown>;
}

/**
 * Composes the `interceptService` forms around a handler lookup, first interceptor outermost.
 * @returns undefined when no interceptor has that form
 * @internal
 */
export function composeInterceptors(interceptors: readonly ServerInterceptor[], lookup: Continuation): Continuation | undefined {
  let next: Continuation | undefined;
  for (let i = interceptors.length - 1; i >= 0; i--) {
    const interceptor = interceptors[i]!;
    if (interceptor.interceptService === undefined) continue;
    const continuation = next ?? lookup;
    next = (details) => interceptor.interceptService!(continuation, details);
  }
  return next;
}

/**
 * Wraps an invoker in the `interceptCall` forms, first interceptor outermost; built once per
 * invoker. The result has no unary fast path.
 * @returns `invoker` itself when no interceptor has that form
 * @internal
 */
export function wrapInvoker(invoker: MethodInvoker, interceptors: readonly ServerInterceptor[]): MethodInvoker {
  const kind: ServerCallKind = Object.freeze({ requestStreaming: invoker.requestStreaming, responseStreaming: invoker.responseStreaming });
  let invoke = invoker.invoke;
  let wrapped = false;
  for (let i = interceptors.length - 1; i >= 0; i--) {
    const interceptor = interceptors[i]!;
    if (interceptor.interceptCall === undefined) continue;
    const inner = invoke;
    invoke = (requests, ctx) => interceptor.interceptCall!(kind, requests, ctx, (reqs) => responsesOf(inner(reqs, ctx)));
    wrapped = true;
  }
  return wrapped ? { ...invoker, invoke, unary: undefined } : invoker;
}

/** An inner invoker's responses as the async iterable an interceptor's `next` promises. */
async function* responsesOf(result: Responses | Promise<Responses>): AsyncGenerator<unknown> {
  yield* isThenable(result) ? await result : result;
}

/** @internal */
export function checkInterceptors(value: unknown): ServerInterceptor[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new TypeError('Cannot create server: interceptors must be an array');
  for (const i of value) {
    const candidate = i as Partial<ServerInterceptor> | null;
    const service = candidate?.interceptService;
    const call = candidate?.interceptCall;
    if ((service !== undefined && typeof service !== 'function') || (call !== undefined && typeof call !== 'function') || (service === undefined && call === undefined)) {
      throw new TypeError('Cannot create server: each interceptor needs an interceptService(continuation, details) or interceptCall(kind, requests, context, next) method');
    }
  }
  return value as ServerInterceptor[];
}
