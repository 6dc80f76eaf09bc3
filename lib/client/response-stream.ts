import { Metadata, RpcError, StatusCode } from '../protocol/core.js';
import type { CallStatus, ClientCallPort } from '../transport/index.js';
import { decodeResponse, type ResponseDeserializer, type StreamingCall } from './call-options.js';

/**
 * The streaming side of a call, as the caller iterates it: `started` is the attempt that
 * committed (or the error that kept the call from starting, reported as its status);
 * `dispose` runs once the call has ended.
 * @internal
 */
export function responseStream<Res>(started: Promise<ClientCallPort>, deserialize: ResponseDeserializer<Res>, dispose: () => void): StreamingCall<Res> {
  let cancelled = false;
  let lastCompressed = false;
  // The started call, for reads that need no promise of their own; reads waiting in `read`.
  let ready: ClientCallPort | undefined;
  let waiting = 0;
  // A call that failed to start still reports its status through the same methods.
  const settled: Promise<{ call?: ClientCallPort; error?: RpcError }> = started.then(
    (call) => {
      if (cancelled) call.cancel();
      ready = call;
      return { call };
    },
    (err: unknown) => ({ error: err instanceof RpcError ? err : new RpcError(StatusCode.INTERNAL, String(err)) }),
  );
  const status = (): Promise<CallStatus> =>
    settled.then(({ call, error }) => (call !== undefined ? call.status() : { code: error!.code, details: error!.details, metadata: error!.trailingMetadata }));
  void status().then(dispose);
  const read = async (): Promise<IteratorResult<Res>> => {
    waiting++;
    let bytes: Uint8Array | undefined;
    let call: ClientCallPort | undefined;
    try {
      const s = await settled;
      if (s.error !== undefined) throw s.error;
      call = s.call!;
      bytes = await call.next();
    } finally {
      waiting--;
    }
    if (bytes === undefined) return { done: true, value: undefined };
    lastCompressed = call.lastResponseCompressed;
    return { done: false, value: decodeResponse(deserialize, bytes) };
  };
  return {
    initialMetadata: () => settled.then(({ call }) => call?.initialMetadata() ?? new Metadata()),
    trailingMetadata: async () => (await status()).metadata,
    code: async () => (await status()).code,
    details: async () => (await status()).details,
    cancel() {
      cancelled = true;
      void settled.then(({ call }) => call?.cancel());
    },
    responseCompressed: () => lastCompressed,
    [Symbol.asyncIterator](): AsyncIterator<Res> {
      return {
        next(): Promise<IteratorResult<Res>> {
          // A message already queued is taken at once: one promise per message, not one per
          // await on the way. Never while an earlier read waits, so reads keep their order.
          const bytes = waiting === 0 ? ready?.nextNow?.() : undefined;
          if (bytes === undefined) return read();
          lastCompressed = false;
          try {
            return Promise.resolve({ done: false, value: decodeResponse(deserialize, bytes) });
          } catch (err) {
            return Promise.reject(err as Error);
          }
        },
        async return(): Promise<IteratorResult<Res>> {
          // Leaving a for-await loop early cancels the call.
          cancelled = true;
          const { call } = await settled;
          call?.cancel();
          return { done: true, value: undefined };
        },
      };
    },
  };
}
