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
  // A call that failed to start still reports its status through the same methods.
  const settled: Promise<{ call?: ClientCallPort; error?: RpcError }> = started.then(
    (call) => {
      if (cancelled) call.cancel();
      return { call };
    },
    (err: unknown) => ({ error: err instanceof RpcError ? err : new RpcError(StatusCode.INTERNAL, String(err)) }),
  );
  const status = (): Promise<CallStatus> =>
    settled.then(({ call, error }) => (call !== undefined ? call.status() : { code: error!.code, details: error!.details, metadata: error!.trailingMetadata }));
  void status().then(dispose);
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
        async next(): Promise<IteratorResult<Res>> {
          const { call, error } = await settled;
          if (error !== undefined) throw error;
          const bytes = await call!.next();
          if (bytes === undefined) return { done: true, value: undefined };
          lastCompressed = call!.lastResponseCompressed;
          return { done: false, value: decodeResponse(deserialize, bytes) };
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
