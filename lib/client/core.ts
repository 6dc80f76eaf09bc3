/**
 * The part of client/ that runs anywhere: `Channel` over any transport, call options,
 * multi-callables, typed clients, client interceptors, call credentials and retries, importing
 * no node:* module (through protocol/core.ts and util/). The browser client (web/) builds its
 * channel on it; index.ts adds the node:http2 and in-process channels.
 * @packageDocumentation
 */
export { Channel } from './channel.js';
export {
  uncompressed,
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
} from './call-options.js';
export {
  metadataCallCredentials,
  accessTokenCallCredentials,
  compositeCallCredentials,
  type CallCredentials,
  type CallCredentialsContext,
} from './credentials.js';
export { createClient, type TypedClient, type ClientMethod, type MethodKind, type RequestOf, type ResponseOf } from './create-client.js';
export { type ChannelOptions, type ChannelOptionsInit } from './options.js';
/** @internal Resolving channel options once, for transports that need them (web/). */
export { resolveChannelOptions, type ResolvedChannelOptions } from './options.js';
export { interceptChannel, InterceptedChannel, type ClientInterceptor, type ClientCallDetails, type ClientNext, type Invoker } from './interceptors.js';
/** @internal The call port and transport types a transport built outside transport/ implements (web/); type-only, so no transport code comes along. */
export type { ClientTransport, ClientCallPort, ClientCallOptions, CallStatus } from '../transport/index.js';
export type { ConnectivityState } from '../transport/index.js';
