import { context, type Context } from '@opentelemetry/api';

/** @internal */
export function isIterable(value: unknown): value is Iterable<unknown> | AsyncIterable<unknown> {
  return value !== null && typeof value === 'object' && (Symbol.asyncIterator in value || Symbol.iterator in value);
}

/**
 * `source` as an async iterable whose every step (`next`, `return`, `throw`) runs inside `ctx`.
 * A generator's body runs only when it is stepped, in the context of whoever steps it (the
 * server's pump, outside any span), so entering `ctx` around each step is what keeps the span
 * active between yields. `failed` sees what the source threw.
 * @internal
 */
export function inContext<T>(ctx: Context, source: Iterable<T> | AsyncIterable<T>, failed: (error: unknown) => void): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const isAsync = Symbol.asyncIterator in source;
      const it = isAsync ? (source as AsyncIterable<T>)[Symbol.asyncIterator]() : (source as Iterable<T>)[Symbol.iterator]();
      // A sync iterator's values may be promises, which for-await would have awaited.
      const settle = async (r: IteratorResult<T> | Promise<IteratorResult<T>>): Promise<IteratorResult<T>> => {
        try {
          const step = await r;
          return isAsync || step.done === true ? step : { done: false, value: await step.value };
        } catch (err) {
          failed(err);
          throw err;
        }
      };
      const run = (step: () => IteratorResult<T> | Promise<IteratorResult<T>>): Promise<IteratorResult<T>> => {
        try {
          return settle(context.with(ctx, step));
        } catch (err) {
          failed(err);
          return Promise.reject(err);
        }
      };
      return {
        next: (value?: unknown) => run(() => it.next(value)),
        return: (value?: unknown) => run(() => (it.return === undefined ? { done: true, value: value as T } : it.return(value as T))),
        throw: (error?: unknown) => run(() => {
          if (it.throw === undefined) throw error;
          return it.throw(error);
        }),
      };
    },
  };
}
