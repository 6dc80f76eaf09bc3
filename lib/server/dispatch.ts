import { RpcError, StatusCode } from '../protocol/index.js';
import type { ServerCall } from '../transport/index.js';
import type { ServerContext } from './context.js';
import type { RpcMethodHandler } from './handlers.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyHandler = RpcMethodHandler<any, any>;

/** Called once for each error a handler throws that is not an RpcError. @internal */
export type ErrorReporter = (error: unknown, method: string) => void;

/*
 * One RPC, from the request to the status. The four kinds share one shape — requests in,
 * responses out, then a status — but unary requests are read whole and unary responses sent
 * whole (headers, message and trailers together), so the common case pays for no iterator.
 */

/** Runs `handler` for `call` and sends its status. Never rejects. @internal */
export async function runHandler(call: ServerCall, ctx: ServerContext, handler: AnyHandler, report: ErrorReporter): Promise<void> {
  try {
    const deserialize = handler.requestDeserializer;
    if (!handler.requestStreaming) {
      const bytes = await call.readUnary();
      const request = deserialize === undefined ? bytes : decodeRequest(deserialize, bytes);
      if (!handler.responseStreaming) {
        const result = handler.unaryUnary!(request, ctx);
        const response: unknown = isThenable(result) ? await result : result;
        await finishUnary(call, ctx, handler, response, report);
      } else {
        await pump(call, ctx, handler, handler.unaryStream!(request, ctx));
        finishOk(call, ctx);
      }
    } else {
      const requests = call.readMessages(deserialize ?? identity);
      if (!handler.responseStreaming) {
        const result = handler.streamUnary!(requests, ctx);
        const response: unknown = isThenable(result) ? await result : result;
        await finishUnary(call, ctx, handler, response, report);
      } else {
        await pump(call, ctx, handler, handler.streamStream!(requests, ctx));
        finishOk(call, ctx);
      }
    }
  } catch (err) {
    try {
      finishError(call, ctx, err, report);
    } catch (fatal) {
      // Nothing may escape: this promise is not awaited, and a rejection would end the process.
      report(fatal, call.path);
      call.cancel(new RpcError(StatusCode.INTERNAL, 'Cannot finish call'), false);
    }
  }
}

function decodeRequest(deserialize: (bytes: Uint8Array) => unknown, bytes: Uint8Array): unknown {
  try {
    return deserialize(bytes);
  } catch (err) {
    throw new RpcError(StatusCode.INTERNAL, 'Cannot deserialize request', { cause: err });
  }
}

function serialize(handler: AnyHandler, value: unknown): Uint8Array {
  const serializer = handler.responseSerializer;
  if (serializer === undefined) {
    if (value instanceof Uint8Array) return value;
    throw new RpcError(StatusCode.INTERNAL, 'Cannot serialize response: no responseSerializer and the response is not a Uint8Array');
  }
  try {
    return serializer(value);
  } catch (err) {
    throw new RpcError(StatusCode.INTERNAL, 'Cannot serialize response', { cause: err });
  }
}

async function finishUnary(call: ServerCall, ctx: ServerContext, handler: AnyHandler, response: unknown, report: ErrorReporter): Promise<void> {
  if (!call.active) return;
  const code = ctx.statusCode ?? StatusCode.OK;
  if (code !== StatusCode.OK) {
    // grpcio: a handler that sets a non-OK code sends that status, not its response.
    call.finish(code, ctx.statusDetails ?? '', ctx.trailers);
    return;
  }
  let bytes: Uint8Array;
  try {
    bytes = serialize(handler, response);
  } catch (err) {
    finishError(call, ctx, err, report);
    return;
  }
  const pending = call.finishUnary(bytes, ctx.takeCompressNext(), ctx.trailers, undefined, ctx.statusDetails ?? '');
  if (pending !== undefined) await pending;
}

function finishOk(call: ServerCall, ctx: ServerContext): void {
  call.finish(ctx.statusCode ?? StatusCode.OK, ctx.statusDetails ?? '', ctx.trailers);
}

/** Maps what a handler threw to the status sent (STYLE.md §5's table). */
function finishError(call: ServerCall, ctx: ServerContext, err: unknown, report: ErrorReporter): void {
  if (!call.active) return; // cancelled: the client has its status already, or is gone
  if (err instanceof RpcError) {
    if (err.code === StatusCode.INTERNAL && err.cause !== undefined && !(err.cause instanceof RpcError)) report(err.cause, call.path);
    const trailers = err.trailingMetadata.size > 0 ? err.trailingMetadata : ctx.trailers;
    call.finish(err.code === StatusCode.OK ? StatusCode.UNKNOWN : err.code, err.details, trailers);
    return;
  }
  if (err instanceof Error && err.name === 'AbortError') {
    const reason = (err as { cause?: unknown }).cause;
    if (reason instanceof RpcError) call.finish(reason.code, reason.details, ctx.trailers);
    else call.finish(StatusCode.CANCELLED, 'Call cancelled', ctx.trailers);
    return;
  }
  if (ctx.statusCode !== undefined && ctx.statusCode !== StatusCode.OK) {
    // grpcio: an exception after set_code sends the code that was set.
    call.finish(ctx.statusCode, ctx.statusDetails ?? '', ctx.trailers);
    return;
  }
  report(err, call.path);
  call.finish(StatusCode.UNKNOWN, 'Unexpected error in handler', ctx.trailers);
}

/**
 * Writes a handler's responses, pulling the next only when the stream has room, so a fast
 * generator runs at the client's pace. A write error goes back into the generator with
 * `throw`, and an ended call stops it with `return`, so its `finally` blocks run.
 */
async function pump(call: ServerCall, ctx: ServerContext, handler: AnyHandler, result: unknown): Promise<void> {
  const source: unknown = isThenable(result) ? await result : result;
  if (source !== null && typeof source === 'object' && Symbol.asyncIterator in source) {
    const it = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    for (;;) {
      const r = await it.next();
      if (r.done === true) return;
      if (!call.active) {
        await it.return?.();
        return;
      }
      try {
        const pending = call.write(serialize(handler, r.value), ctx.takeCompressNext());
        if (pending !== undefined) await pending;
      } catch (err) {
        await it.throw?.(err).catch(noop);
        throw err;
      }
      if (!call.active) {
        await it.return?.();
        return;
      }
    }
  }
  if (source !== null && typeof source === 'object' && Symbol.iterator in source) {
    const it = (source as Iterable<unknown>)[Symbol.iterator]();
    for (;;) {
      const r = it.next();
      if (r.done === true) return;
      try {
        const pending = call.write(serialize(handler, r.value), ctx.takeCompressNext());
        if (pending !== undefined) await pending;
      } catch (err) {
        try {
          it.throw?.(err);
        } catch {
          // the generator rethrew: the status below reports the original error
        }
        throw err;
      }
      if (!call.active) {
        it.return?.();
        return;
      }
    }
  }
  throw new TypeError(`Cannot send responses of ${call.path}: the handler returned neither an iterable nor an async iterable`);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';
}

function identity(bytes: Uint8Array): Uint8Array {
  return bytes;
}

function noop(): void {}
