/**
 * The client: channels, multi-callables, credentials, typed clients.
 * @packageDocumentation
 */
export { Channel } from './channel.js';
export { insecureChannel, secureChannel } from './network-channel.js';
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
/** @internal The per-call message size hook opentelemetry/ reads. */
export { messageSizes, type MessageSizeObserver } from './call-options.js';
export {
  sslChannelCredentials,
  metadataCallCredentials,
  accessTokenCallCredentials,
  compositeCallCredentials,
  compositeChannelCredentials,
  type CallCredentials,
  type ChannelCredentials,
  type CallCredentialsContext,
} from './credentials.js';
export { inProcessChannel, type InProcessChannelOptions } from './in-process-channel.js';
export { createClient, type TypedClient, type ClientMethod, type MethodKind, type RequestOf, type ResponseOf } from './create-client.js';
export { type ChannelOptions, type ChannelOptionsInit } from './options.js';
export { interceptChannel, InterceptedChannel, type ClientInterceptor, type ClientCallDetails, type ClientNext, type Invoker } from './interceptors.js';
