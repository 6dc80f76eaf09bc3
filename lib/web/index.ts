/**
 * The gRPC-Web client, `grpc-iter/web`: a {@link Channel} whose calls go over `fetch`
 * (grpc/grpc doc/PROTOCOL-WEB.md), for browsers and any runtime with `fetch`. Its module graph
 * imports no `node:*` module and uses no `Buffer` or `process`, so a bundler can ship it.
 * Unary and server-streaming calls work as over HTTP/2 (metadata, `timeout`/deadline,
 * `signal`, `RpcError` with trailers and error details, retries, interceptors); client-streaming
 * and bidi calls fail with `UNIMPLEMENTED`, since a fetch sends one request body.
 * @packageDocumentation
 */
import { Channel, resolveChannelOptions, type ChannelOptionsInit } from '../client/core.js';
import { FetchTransport } from './fetch-transport.js';

/** Options of {@link grpcWebChannel}. */
export interface GrpcWebChannelOptions {
  /**
   * The body format: `'binary'` (`application/grpc-web+proto`) or `'text'`
   * (`application/grpc-web-text+proto`, base64; what proxies and servers that cannot stream
   * binary bodies accept). Streaming responses are read incrementally in both.
   * @default 'binary'
   */
  readonly format?: 'binary' | 'text';
  /** The `fetch` to use, e.g. one that adds headers or a test double. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Channel arguments, as for `insecureChannel` (the message size limits, user agent, retries, service config). */
  readonly options?: ChannelOptionsInit;
  /**
   * The requests' `credentials` mode: `'include'` sends cookies to another origin (the server's
   * CORS answer must allow credentials then). @default the fetch default, 'same-origin'
   */
  readonly credentials?: RequestInit['credentials'];
}

/**
 * A channel that calls a gRPC-Web server (grpc-iter's own, Envoy, connect, ...) with `fetch`.
 * Use it like any channel: with `createClient`, generated clients, `interceptChannel`, or its
 * `unaryUnary` / `unaryStream` methods. Its state is always READY (fetch has no connection
 * state); `close()` cancels the calls in flight.
 *
 * @param baseUrl - the server's URL, e.g. `https://api.example.com` or `/grpc` in a page (the
 *   method's path `/package.Service/Method` is appended)
 * @param init - the format, fetch, channel options and credentials mode
 * @returns the channel
 * @throws TypeError for a format or option it cannot use, or when there is no fetch
 *
 * @example
 * ```ts
 * import { createClient } from 'grpc-iter';
 * import { grpcWebChannel } from 'grpc-iter/web';
 * import { Greeter } from './gen/greeter.js';
 *
 * const client = createClient(Greeter, grpcWebChannel('https://api.example.com'));
 * const reply = await client.sayHello({ name: 'you' }, { timeout: 5 });
 * ```
 */
export function grpcWebChannel(baseUrl: string, init: GrpcWebChannelOptions = {}): Channel {
  if (typeof baseUrl !== 'string') throw new TypeError('Cannot create gRPC-Web channel: baseUrl must be a string');
  const format = init.format ?? 'binary';
  if (format !== 'binary' && format !== 'text') throw new TypeError(`Cannot create gRPC-Web channel: format must be "binary" or "text", got ${String(format)}`);
  const fetchImpl = init.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw new TypeError('Cannot create gRPC-Web channel: there is no fetch (pass one as the fetch option)');
  const options = resolveChannelOptions(init.options);
  const base = baseUrl.endsWith('/') ? baseUrl.slice(0, -1) : baseUrl;
  const transport = new FetchTransport({ baseUrl: base, text: format === 'text', fetch: fetchImpl, credentials: init.credentials });
  return Channel.withOptions(transport, authorityOf(base), options, undefined);
}

/** The host (and port) of a base URL, for call credentials' service URL; '' for a relative one. */
function authorityOf(baseUrl: string): string {
  const match = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(baseUrl);
  return match?.[1] ?? '';
}

export {
  Channel,
  createClient,
  interceptChannel,
  InterceptedChannel,
  uncompressed,
  metadataCallCredentials,
  accessTokenCallCredentials,
  compositeCallCredentials,
  type ChannelOptions,
  type ChannelOptionsInit,
  type CallOptions,
  type ParentCall,
  type CallResult,
  type UnaryUnaryMultiCallable,
  type UnaryStreamMultiCallable,
  type StreamUnaryMultiCallable,
  type StreamStreamMultiCallable,
  type StreamingCall,
  type RequestSerializer,
  type ResponseDeserializer,
  type CallCredentials,
  type CallCredentialsContext,
  type TypedClient,
  type ClientMethod,
  type MethodKind,
  type RequestOf,
  type ResponseOf,
  type ClientInterceptor,
  type ClientCallDetails,
  type ClientNext,
  type Invoker,
} from '../client/core.js';
export { Metadata, RpcError, StatusCode, statusCodeName, findDetails, type MetadataValue, type MetadataInit, type Status } from '../protocol/core.js';
