import { RpcError, StatusCode, isUnexpectedError, statusCodeName, toRpcError, type Metadata } from '../protocol/index.js';
import type { HandlerCallDetails, ServerInterceptor } from '../server/index.js';
import { observeCall, type RpcOutcome } from './observe.js';

/** One line of the {@link loggingInterceptor}'s log: an RPC that ended. */
export interface RpcLogEntry extends RpcOutcome {
  /** The method's path, `/package.Service/Method`. */
  readonly method: string;
  /** The peer's address, as `context.peer()` gives it; empty for a call refused before any handler ran. */
  readonly peer: string;
  /** Milliseconds from the handler's start to its end. */
  readonly durationMs: number;
}

/** Options of {@link loggingInterceptor}. */
export interface LoggingInterceptorOptions {
  /** Receives each entry; the default prints one line to the console. */
  readonly log?: (entry: RpcLogEntry) => void;
}

function defaultLog(entry: RpcLogEntry): void {
  const status = statusCodeName(entry.code);
  console.log(`${entry.method} ${status}${entry.details !== '' ? ` "${entry.details}"` : ''} ${entry.durationMs.toFixed(1)}ms ${entry.peer}`);
}

/**
 * A server interceptor that logs every RPC when it ends: method, status, duration and peer,
 * including calls a later interceptor refuses and calls to unknown methods.
 *
 * @param options - where entries go
 * @returns the interceptor, for `server({ interceptors })`
 *
 * @example
 * ```ts
 * const srv = server({ interceptors: [loggingInterceptor({ log: (e) => logger.info(e) })] });
 * ```
 */
export function loggingInterceptor(options: LoggingInterceptorOptions = {}): ServerInterceptor {
  const userLog = options.log ?? defaultLog;
  // A logger is a user callback: its throw must never change a call's outcome (DESIGN.md §5).
  const log = (entry: RpcLogEntry): void => {
    try {
      userLog(entry);
    } catch (err) {
      process.emitWarning(`grpc-iter: the loggingInterceptor's log threw: ${String(err)}`);
    }
  };
  return {
    // Sees the calls that never reach a handler, so never reach interceptCall: refused by a
    // later interceptService, or for a method the server does not have.
    async interceptService(continuation, details) {
      const start = performance.now();
      const refused = (code: StatusCode, message: string): void => log({ code, details: message, method: details.method, peer: '', durationMs: performance.now() - start });
      let handler;
      try {
        handler = await continuation(details);
      } catch (err) {
        // The status the server sends for it, by the same table (STYLE.md §5).
        const status = toRpcError(err, 'Unexpected error in interceptor');
        if (isUnexpectedError(err)) log({ code: status.code, details: status.details, error: err, method: details.method, peer: '', durationMs: performance.now() - start });
        else refused(status.code, status.details);
        throw err;
      }
      if (handler === null || handler === undefined) refused(StatusCode.UNIMPLEMENTED, 'Method not found');
      return handler;
    },
    // Every call that has a handler, of any kind, with the status its client was sent.
    interceptCall(_kind, requests, context, next) {
      const start = performance.now();
      return observeCall(requests, context, next, (outcome) => log({ ...outcome, method: context.method, peer: context.peer(), durationMs: performance.now() - start }));
    },
  };
}

/** Options of {@link bearerTokenInterceptor}. */
export interface BearerTokenInterceptorOptions {
  /**
   * Decides whether a token is good; may be async. Its answer is awaited before any handler runs.
   * @param token - the token after `Bearer `
   * @param details - the method and metadata of the call
   */
  readonly verify: (token: string, details: HandlerCallDetails) => boolean | Promise<boolean>;
  /** Methods (full paths) that need no token, e.g. health checks. */
  readonly allow?: readonly string[];
}

function bearerToken(metadata: Metadata): string | undefined {
  const value = metadata.get('authorization');
  if (typeof value !== 'string') return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(value);
  return match?.[1];
}

/**
 * A server interceptor that rejects calls without a valid `authorization: Bearer <token>`
 * header with `UNAUTHENTICATED`, before any handler runs.
 *
 * @param options - how to verify tokens, and which methods are open
 * @returns the interceptor, for `server({ interceptors })`
 * @throws TypeError when `verify` is not a function
 *
 * @example
 * ```ts
 * const srv = server({ interceptors: [bearerTokenInterceptor({ verify: (token) => token === process.env.API_TOKEN })] });
 * ```
 */
export function bearerTokenInterceptor(options: BearerTokenInterceptorOptions): ServerInterceptor {
  if (typeof options?.verify !== 'function') throw new TypeError('Cannot create bearerTokenInterceptor: verify must be a function');
  const open = new Set(options.allow ?? []);
  return {
    async interceptService(continuation, details) {
      if (!open.has(details.method)) {
        const token = bearerToken(details.invocationMetadata);
        if (token === undefined) throw new RpcError(StatusCode.UNAUTHENTICATED, 'Cannot call: missing bearer token');
        if (!(await options.verify(token, details))) throw new RpcError(StatusCode.UNAUTHENTICATED, 'Cannot call: invalid bearer token');
      }
      return continuation(details);
    },
  };
}
