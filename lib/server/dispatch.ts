import { RpcError, StatusCode, UNEXPECTED_ERROR_DETAILS, errorTrailers, isUnexpectedError, toRpcError } from '../protocol/index.js';
import type { ServerCall } from '../transport/index.js';
import type { ServerContext } from './context.js';
import type { RpcMethodHandler } from './handlers.js';
import { checkResponseStream, isStreamResult, wrongResultShape } from './normalize.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyHandler = RpcMethodHandler<any, any>;

/** Called once for each error a handler throws that is not an RpcError. @internal */
export type ErrorReporter = (error: unknown, method: string) => void;

/*
 * One RPC, from the request to the status. The four kinds share one shape — requests in,
 * responses out, then a status — but unary requests are read whole and unary responses sent
 * whole (headers, message and trailers together), so the common case pays for no iterator.
 */

/**
 * Runs `handler` for `call` and sends its status. Never rejects. A unary request already read
 * (by a caller that reads before taking an executor worker) comes as `requestBytes`.
 * @internal
 */
export async function runHandler(call: ServerCall, ctx: ServerContext, handler: AnyHandler, report: ErrorReporter, requestBytes?: Uint8Array): Promise<void> {
  try {
    const deserialize = handler.requestDeserializer;
    if (!handler.requestStreaming) {
      const bytes = requestBytes ?? (await call.readUnary());
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
    failCall(call, ctx, err, report);
  }
}

/**
 * Ends `call` with the status for `err` (see {@link finishError}). Never throws: it runs where
 * nothing awaits it, and an escaping error would end the process.
 * @internal
 */
export function failCall(call: ServerCall, ctx: ServerContext, err: unknown, report: ErrorReporter): void {
  try {
    finishError(call, ctx, err, report);
  } catch (fatal) {
    report(fatal, call.path);
    call.cancel(new RpcError(StatusCode.INTERNAL, 'Cannot finish call'), false);
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
  if (isStreamResult(response)) throw wrongResultShape(call.path, 'a stream (an iterator or async iterable)', 'one response message');
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

/**
 * Sends the status for what a handler threw: {@link toRpcError}'s table (STYLE.md §5), plus
 * grpcio's rule that an unexpected exception after `setCode` sends the code that was set. An
 * unexpected error, or the non-RpcError cause of an INTERNAL one (a serializer that threw, a
 * result of the wrong shape), is reported once.
 */
function finishError(call: ServerCall, ctx: ServerContext, err: unknown, report: ErrorReporter): void {
  if (!call.active) return; // cancelled: the client has its status already, or is gone
  if (isUnexpectedError(err)) {
    if (ctx.statusCode !== undefined && ctx.statusCode !== StatusCode.OK) {
      call.finish(ctx.statusCode, ctx.statusDetails ?? '', ctx.trailers);
      return;
    }
    report(err, call.path);
    call.finish(StatusCode.UNKNOWN, UNEXPECTED_ERROR_DETAILS, ctx.trailers);
    return;
  }
  const status = toRpcError(err);
  if (status.code === StatusCode.INTERNAL && status.cause !== undefined && isUnexpectedError(status.cause)) report(status.cause, call.path);
  call.finish(status.code, status.details, errorTrailers(status, ctx.trailers));
}

/**
 * Writes a handler's responses, pulling the next only when the stream has room, so a fast
 * generator runs at the client's pace. A write error goes back into the generator with
 * `throw`, and then `return` ends it whatever it did with the error, so its `finally` blocks
 * always run (STYLE.md §3); an ended call stops it with `return` too.
 */
async function pump(call: ServerCall, ctx: ServerContext, handler: AnyHandler, result: unknown): Promise<void> {
  const source: unknown = isThenable(result) ? await result : result;
  checkResponseStream(source, call.path);
  if (Symbol.asyncIterator in source) {
    const it = source[Symbol.asyncIterator]();
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
        await endAfterError(it, err);
        throw err;
      }
      if (!call.active) {
        await it.return?.();
        return;
      }
    }
  }
  const it = source[Symbol.iterator]();
  for (;;) {
    const r = it.next();
    if (r.done === true) return;
    try {
      const pending = call.write(serialize(handler, r.value), ctx.takeCompressNext());
      if (pending !== undefined) await pending;
    } catch (err) {
      endSyncAfterError(it, err);
      throw err;
    }
    if (!call.active) {
      it.return?.();
      return;
    }
  }
}

// A generator that catches the write error and yields again would stay suspended for good,
// its `finally` never run (review 2.4): whatever `throw` gives back, `return` ends it. What it
// throws meanwhile is dropped: the status reports the write error.
async function endAfterError(it: AsyncIterator<unknown>, err: unknown): Promise<void> {
  try {
    const r = it.throw === undefined ? undefined : await it.throw(err);
    if (r?.done !== true) await it.return?.();
  } catch {
    // see above
  }
}

function endSyncAfterError(it: Iterator<unknown>, err: unknown): void {
  try {
    const r = it.throw === undefined ? undefined : it.throw(err);
    if (r?.done !== true) it.return?.();
  } catch {
    // see endAfterError
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';
}

function identity(bytes: Uint8Array): Uint8Array {
  return bytes;
}

