import type { AnyRpcMethodHandler, HandlerCallDetails } from './handlers.js';

/** What an interceptor returns, or its continuation gives back: a handler, or null for "not serviced". */
export type InterceptedHandler = AnyRpcMethodHandler | null | undefined;

/** Calls the next interceptor (or the handler lookup) for `details`. */
export type Continuation = (details: HandlerCallDetails) => InterceptedHandler | Promise<InterceptedHandler>;

/**
 * A server interceptor (grpcio's `ServerInterceptor`). It sees each RPC before its handler is
 * chosen and may pass it on (`return continuation(details)`), replace the handler, wrap it
 * (including a streaming handler's request and response iterables), or reject the call by
 * throwing an RpcError (or returning a handler that aborts). Interceptors run in the order given.
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
 * ```
 */
export interface ServerInterceptor {
  /**
   * Intercepts the arrival of an RPC.
   * @param continuation - gives the handler the rest of the chain would use
   * @param handlerCallDetails - the method and metadata of the RPC
   * @returns the handler to use, or null when the RPC is not serviced (UNIMPLEMENTED)
   */
  interceptService(continuation: Continuation, handlerCallDetails: HandlerCallDetails): InterceptedHandler | Promise<InterceptedHandler>;
}

/**
 * Composes interceptors around a handler lookup, first interceptor outermost.
 * @internal
 */
export function composeInterceptors(interceptors: readonly ServerInterceptor[], lookup: Continuation): Continuation {
  let next = lookup;
  for (let i = interceptors.length - 1; i >= 0; i--) {
    const interceptor = interceptors[i]!;
    const continuation = next;
    next = (details) => interceptor.interceptService(continuation, details);
  }
  return next;
}

/** @internal */
export function checkInterceptors(value: unknown): ServerInterceptor[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new TypeError('Cannot create server: interceptors must be an array');
  for (const i of value) {
    if (typeof (i as Partial<ServerInterceptor> | null)?.interceptService !== 'function') {
      throw new TypeError('Cannot create server: each interceptor needs an interceptService(continuation, details) method');
    }
  }
  return value as ServerInterceptor[];
}
