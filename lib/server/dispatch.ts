import { RpcError, StatusCode, UNEXPECTED_ERROR_DETAILS, errorTrailers, isUnexpectedError, toRpcError } from '../protocol/index.js';
import type { ServerCallPort } from '../transport/index.js';
import { onlyValue } from '../util/index.js';
import type { ServerContext } from './context.js';
import { isThenable, oneMessage, type MethodInvoker, type Responses } from './normalize.js';

/** Called once for each error a handler throws that is not an RpcError. @internal */
export type ErrorReporter = (error: unknown, method: string) => void;

/*
 * One RPC, from the request to the status, over any call port:
 *
 *   requests ──► invoker.invoke(requests, ctx) ──► responses ──► send each, or the one ──► status
 *
 * The unary fast path (both sides unary, DESIGN.md §1) calls the behavior with the request
 * directly and sends headers, message and status together: no iterator on the common case.
 */

/**
 * Runs `invoker` for the call on `port` and sends its status. Never rejects. A unary request
 * already read (by a caller that reads before taking an executor worker) comes as `requestBytes`.
 *
 * The behavior is called through `Reflect.apply`, which V8 does not inline. Inlined into this
 * function (as V8 does when a server, or a worker thread, serves one method), a CPU-bound
 * behavior's hot loop ran about 3× slower on Node 20 (spec/server/cpu-bound-handler.spec.ts).
 * @internal
 */
export async function runCall(port: ServerCallPort, ctx: ServerContext, invoker: MethodInvoker, report: ErrorReporter, requestBytes?: Uint8Array): Promise<void> {
  try {
    const values = port.passesValues === true;
    const decode = values ? passValue : invoker.decode;
    const encode = values ? (passValue as (value: unknown) => Uint8Array) : invoker.encode;
    const unary = invoker.unary;
    if (unary !== undefined) {
      const request = decode(requestBytes ?? (await port.readUnary()));
      const result = Reflect.apply(unary, undefined, [request, ctx]) as unknown;
      await sendOne(port, ctx, encode, oneMessage(isThenable(result) ? await result : result, ctx), report);
      return;
    }
    const requests = invoker.requestStreaming ? port.requests(decode) : oneRequest(port, decode, requestBytes);
    const result = Reflect.apply(invoker.invoke, invoker, [requests, ctx]) as ReturnType<MethodInvoker['invoke']>;
    const responses = isThenable(result) ? await result : result;
    // Handed on, not awaited: a stream waiting for its next response keeps pump's frame only.
    if (invoker.responseStreaming) return pump(port, ctx, encode, responses, report);
    await sendOne(port, ctx, encode, await single(responses), report);
  } catch (err) {
    failCall(port, ctx, err, report);
  }
}

/** A port that passes values hands over what the other side gave: no codec runs. */
function passValue(message: Uint8Array): unknown {
  return message;
}

/** The one request of a unary-request call as a stream of one, read whole by the transport. */
async function* oneRequest(port: ServerCallPort, decode: (bytes: Uint8Array) => unknown, bytes: Uint8Array | undefined): AsyncGenerator<unknown> {
  yield decode(bytes ?? (await port.readUnary()));
}

/** The one response of a unary-response invoker (an interceptor's stream may hold any number). */
function single(responses: Responses): unknown {
  if (Array.isArray(responses) && responses.length === 1) return responses[0];
  return onlyValue(
    responses,
    () => new RpcError(StatusCode.INTERNAL, 'Cannot send response: a unary method produced no response'),
    () => new RpcError(StatusCode.INTERNAL, 'Cannot send response: a unary method produced more than one response'),
  );
}

/**
 * Ends the call with the status for `err` (see {@link finishError}). Never throws: it runs where
 * nothing awaits it, and an escaping error would end the process.
 * @internal
 */
export function failCall(port: ServerCallPort, ctx: ServerContext, err: unknown, report: ErrorReporter): void {
  try {
    finishError(port, ctx, err, report);
  } catch (fatal) {
    report(fatal, port.path);
    port.cancel(new RpcError(StatusCode.INTERNAL, 'Cannot finish call'), false);
  }
}

async function sendOne(port: ServerCallPort, ctx: ServerContext, encode: (value: unknown) => Uint8Array, response: unknown, report: ErrorReporter): Promise<void> {
  if (!port.active) return;
  const code = ctx.statusCode ?? StatusCode.OK;
  if (code !== StatusCode.OK) {
    // grpcio: a handler that sets a non-OK code sends that status, not its response.
    port.finish(code, ctx.statusDetails ?? '', ctx.trailers);
    return;
  }
  let bytes: Uint8Array;
  try {
    bytes = encode(response);
  } catch (err) {
    finishError(port, ctx, err, report);
    return;
  }
  const pending = port.sendUnary(bytes, ctx.takeCompressNext(), ctx.trailers, ctx.statusDetails ?? '');
  if (pending !== undefined) await pending;
}

/**
 * Sends the status for what a handler threw: {@link toRpcError}'s table (STYLE.md §5), plus
 * grpcio's rule that an unexpected exception after `setCode` sends the code that was set. An
 * unexpected error, or the non-RpcError cause of an INTERNAL one (a serializer that threw, a
 * result of the wrong shape), is reported once.
 */
function finishError(port: ServerCallPort, ctx: ServerContext, err: unknown, report: ErrorReporter): void {
  if (!port.active) return; // cancelled: the client has its status already, or is gone
  if (isUnexpectedError(err)) {
    if (ctx.statusCode !== undefined && ctx.statusCode !== StatusCode.OK) {
      port.finish(ctx.statusCode, ctx.statusDetails ?? '', ctx.trailers);
      return;
    }
    report(err, port.path);
    port.finish(StatusCode.UNKNOWN, UNEXPECTED_ERROR_DETAILS, ctx.trailers);
    return;
  }
  const status = toRpcError(err);
  if (status.code === StatusCode.INTERNAL && status.cause !== undefined && isUnexpectedError(status.cause)) report(status.cause, port.path);
  port.finish(status.code, status.details, errorTrailers(status, ctx.trailers));
}

/**
 * Writes a handler's responses, pulling the next only when the port has room, so a fast
 * generator runs at the client's pace: one plain loop per message. A write error goes back into
 * the generator with `throw`, and then `return` ends it whatever it did with the error, so its
 * `finally` blocks always run (STYLE.md §3); an ended call stops it with `return` too. Then the
 * status (see {@link failCall} for an error). Never rejects.
 */
async function pump(port: ServerCallPort, ctx: ServerContext, encode: (value: unknown) => Uint8Array, source: Responses, report: ErrorReporter): Promise<void> {
  try {
    if (Symbol.asyncIterator in source) {
      const it = source[Symbol.asyncIterator]();
      for (;;) {
        const r = await it.next();
        if (r.done === true) break;
        if (!port.active) {
          await it.return?.();
          break;
        }
        try {
          const pending = port.send(encode(r.value), ctx.takeCompressNext());
          if (pending !== undefined) await pending;
        } catch (err) {
          await endAfterError(it, err);
          throw err;
        }
        if (!port.active) {
          await it.return?.();
          break;
        }
      }
    } else {
      const it = source[Symbol.iterator]();
      for (;;) {
        const r = it.next();
        if (r.done === true) break;
        try {
          const pending = port.send(encode(r.value), ctx.takeCompressNext());
          if (pending !== undefined) await pending;
        } catch (err) {
          endSyncAfterError(it, err);
          throw err;
        }
        if (!port.active) {
          it.return?.();
          break;
        }
      }
    }
    port.finish(ctx.statusCode ?? StatusCode.OK, ctx.statusDetails ?? '', ctx.trailers);
  } catch (err) {
    failCall(port, ctx, err, report);
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
