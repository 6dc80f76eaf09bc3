/**
 * grpc-iter: gRPC for Node.js where every RPC is an async iterable flowing through an async
 * function. The API mirrors Python grpcio's, in camelCase.
 *
 * @example
 * ```ts
 * import { server, methodHandlersGenericHandler, unaryUnaryRpcMethodHandler } from 'grpc-iter';
 *
 * const srv = server();
 * srv.addGenericRpcHandlers([
 *   methodHandlersGenericHandler('demo.Echo', {
 *     Echo: unaryUnaryRpcMethodHandler((request: Uint8Array) => request),
 *   }),
 * ]);
 * await srv.addInsecurePort('127.0.0.1:50051');
 * await srv.start();
 * ```
 * @packageDocumentation
 */

// protocol
export {
  StatusCode,
  statusCodeName,
  RpcError,
  Metadata,
  Compression,
  type Status,
  type RpcErrorOptions,
  type MetadataValue,
  type MetadataInit,
  type MethodDefinition,
  type AnyMethodDefinition,
  type ServiceDefinition,
} from './protocol/index.js';

// rich error details (google.rpc.Status in grpc-status-details-bin)
export {
  packDetail,
  unpackDetail,
  findDetails,
  encodeRpcStatus,
  decodeRpcStatus,
  ErrorInfo,
  RetryInfo,
  DebugInfo,
  QuotaFailure,
  PreconditionFailure,
  BadRequest,
  RequestInfo,
  ResourceInfo,
  Help,
  LocalizedMessage,
  type Any,
  type DetailType,
  type MessageWriter,
  type RpcStatus,
  type ErrorDetail,
  type KnownErrorDetail,
  type UnknownErrorDetail,
  type Duration,
  type QuotaViolation,
  type PreconditionViolation,
  type FieldViolation,
  type HelpLink,
} from './protocol/index.js';

// server
export {
  server,
  Server,
  unaryUnaryRpcMethodHandler,
  unaryStreamRpcMethodHandler,
  streamUnaryRpcMethodHandler,
  streamStreamRpcMethodHandler,
  methodHandlersGenericHandler,
  sslServerCredentials,
  insecureServerCredentials,
  type ServerConfig,
  type ServiceImplementation,
  type ServicerContext,
  type AuthContext,
  type RpcMethodHandler,
  type AnyRpcMethodHandler,
  type HandlerCallDetails,
  type GenericRpcHandler,
  type ServiceRpcHandler,
  type ResponseStream,
  type UnaryUnaryBehavior,
  type UnaryStreamBehavior,
  type StreamUnaryBehavior,
  type StreamStreamBehavior,
  type Serializer,
  type Deserializer,
  type ServerInterceptor,
  type Continuation,
  type InterceptedHandler,
  type ServerCallKind,
  type ServerNext,
  type ExecutorOptions,
  type WorkerPoolOptions,
  type WorkerServices,
  type WorkerService,
  type ServerOptions,
  type ServerOptionsInit,
  type ServerCredentials,
  type PrivateKeyCertificateChainPair,
  type SslServerCredentialsOptions,
} from './server/index.js';

// client
export {
  Channel,
  insecureChannel,
  secureChannel,
  inProcessChannel,
  uncompressed,
  sslChannelCredentials,
  metadataCallCredentials,
  accessTokenCallCredentials,
  compositeCallCredentials,
  compositeChannelCredentials,
  createClient,
  interceptChannel,
  InterceptedChannel,
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
  type ChannelCredentials,
  type CallCredentialsContext,
  type TypedClient,
  type ClientMethod,
  type MethodKind,
  type RequestOf,
  type ResponseOf,
  type ChannelOptions,
  type ChannelOptionsInit,
  type ClientInterceptor,
  type ClientCallDetails,
  type ClientNext,
  type Invoker,
  type InProcessChannelOptions,
  registerResolver,
  type Resolver,
  type ResolverListener,
  type ResolverOptions,
  type ResolverProvider,
  type ResolvedAuthority,
  type TargetUri,
  registerLoadBalancer,
  type LoadBalancer,
  type LoadBalancerHelper,
  type LoadBalancerProvider,
  type Pick,
  type Picker,
  type Subchannel,
} from './client/index.js';
export { type ConnectivityState, type Address, type InProcessServer, inProcessSink } from './transport/index.js';
