import { Metadata, RpcError, StatusCode } from '../protocol/core.js';
import type { CallStatus, ClientCallPort } from '../transport/index.js';
import {
  compressible,
  decodeResponse,
  encodeRequest,
  identityBytes,
  sizedDeserializer,
  sizedSerializer,
  type CallOptions,
  type CallResult,
  type RequestSerializer,
  type ResponseDeserializer,
  type StreamStreamMultiCallable,
  type StreamUnaryMultiCallable,
  type UnaryStreamMultiCallable,
  type UnaryUnaryMultiCallable,
} from './call-options.js';
import type { CallStarter } from './call-starter.js';
import { responseStream } from './response-stream.js';

/*
 * The four multi-callables of a channel (grpcio's `UnaryUnaryMultiCallable` and the others):
 * each call is prepared, its attempts started, and its result read the way its kind needs.
 * Unary responses wait for the status; streaming ones are handed to the caller as they come.
 */

/** The callable of a unary-unary method, with `withCall`. @internal */
export function unaryUnaryCallable<Req, Res>(calls: CallStarter, method: string, requestSerializer: RequestSerializer<Req> | undefined, responseDeserializer: ResponseDeserializer<Res> | undefined): UnaryUnaryMultiCallable<Req, Res> {
  const serialize = (requestSerializer ?? identityBytes) as RequestSerializer<Req>;
  const deserialize = (responseDeserializer ?? identityBytes) as ResponseDeserializer<Res>;
  // One path for both forms; the plain call builds no result object and adds no promise layer.
  const invoke = async <T>(request: Req, options: CallOptions | undefined, result: (response: Res, call: ClientCallPort, status: CallStatus) => T): Promise<T> => {
    const prepared = calls.prepare(method, options);
    try {
      const call = await calls.unaryAttempts(prepared, encodeRequest(sizedSerializer(options, serialize), request), compressible(request), true);
      const status = call.statusNow!;
      if (status.code !== StatusCode.OK) throw new RpcError(status.code, status.details, { trailingMetadata: status.metadata });
      return result(decodeResponse(sizedDeserializer(options, deserialize), call.responseNow() ?? (await call.response())), call, status);
    } finally {
      prepared.dispose();
    }
  };
  const withCall = (request: Req, options?: CallOptions): Promise<CallResult<Res>> =>
    invoke(request, options, (response, call, status) => ({
      response,
      initialMetadata: call.initialMetadataNow ?? new Metadata(),
      trailingMetadata: status.metadata,
      code: status.code,
      details: status.details,
      responseCompressed: call.lastResponseCompressed,
    }));
  const callable = (request: Req, options?: CallOptions): Promise<Res> => invoke(request, options, responseOnly);
  return Object.assign(callable, { withCall });
}

/** The callable of a stream-unary method, with `withCall`. @internal */
export function streamUnaryCallable<Req, Res>(calls: CallStarter, method: string, requestSerializer: RequestSerializer<Req> | undefined, responseDeserializer: ResponseDeserializer<Res> | undefined): StreamUnaryMultiCallable<Req, Res> {
  const serialize = (requestSerializer ?? identityBytes) as RequestSerializer<Req>;
  const deserialize = (responseDeserializer ?? identityBytes) as ResponseDeserializer<Res>;
  const withCall = async (requests: Iterable<Req> | AsyncIterable<Req>, options?: CallOptions): Promise<CallResult<Res>> => {
    const prepared = calls.prepare(method, options);
    try {
      const call = await calls.streamingAttempts(prepared, requests, sizedSerializer(options, serialize), true);
      const status = await call.status();
      if (status.code !== StatusCode.OK) throw new RpcError(status.code, status.details, { trailingMetadata: status.metadata });
      const response = decodeResponse(sizedDeserializer(options, deserialize), await call.response());
      return {
        response,
        initialMetadata: await call.initialMetadata(),
        trailingMetadata: status.metadata,
        code: status.code,
        details: status.details,
        responseCompressed: call.lastResponseCompressed,
      };
    } finally {
      prepared.dispose();
    }
  };
  const callable = async (requests: Iterable<Req> | AsyncIterable<Req>, options?: CallOptions): Promise<Res> => (await withCall(requests, options)).response;
  return Object.assign(callable, { withCall });
}

/** The callable of a unary-stream method. @internal */
export function unaryStreamCallable<Req, Res>(calls: CallStarter, method: string, requestSerializer: RequestSerializer<Req> | undefined, responseDeserializer: ResponseDeserializer<Res> | undefined): UnaryStreamMultiCallable<Req, Res> {
  const serialize = (requestSerializer ?? identityBytes) as RequestSerializer<Req>;
  const deserialize = (responseDeserializer ?? identityBytes) as ResponseDeserializer<Res>;
  return (request, options) => {
    const prepared = calls.prepare(method, options);
    let started: Promise<ClientCallPort>;
    try {
      started = calls.unaryAttempts(prepared, encodeRequest(sizedSerializer(options, serialize), request), compressible(request), false);
    } catch (err) {
      started = Promise.reject(err as RpcError);
    }
    return responseStream(started, sizedDeserializer(options, deserialize), prepared.dispose);
  };
}

/** The callable of a stream-stream method. @internal */
export function streamStreamCallable<Req, Res>(calls: CallStarter, method: string, requestSerializer: RequestSerializer<Req> | undefined, responseDeserializer: ResponseDeserializer<Res> | undefined): StreamStreamMultiCallable<Req, Res> {
  const serialize = (requestSerializer ?? identityBytes) as RequestSerializer<Req>;
  const deserialize = (responseDeserializer ?? identityBytes) as ResponseDeserializer<Res>;
  return (requests, options) => {
    const prepared = calls.prepare(method, options);
    return responseStream(calls.streamingAttempts(prepared, requests, sizedSerializer(options, serialize), false), sizedDeserializer(options, deserialize), prepared.dispose);
  };
}

function responseOnly<Res>(response: Res): Res {
  return response;
}
