/**
 * The server: `server()`, `Server`, handler factories, `ServicerContext`, interceptors.
 * @packageDocumentation
 */
export { server, Server, type ServerConfig, type ServiceImplementation } from './server.js';
export { type ServicerContext, type AuthContext } from './context.js';
/** @internal For ready-made interceptors that report how a call ended. */
export { onCallEnd, serverAuthorityOf } from './context.js';
export {
  unaryUnaryRpcMethodHandler,
  unaryStreamRpcMethodHandler,
  streamUnaryRpcMethodHandler,
  streamStreamRpcMethodHandler,
  methodHandlersGenericHandler,
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
} from './handlers.js';
export { type ServerInterceptor, type Continuation, type InterceptedHandler, type ServerCallKind, type ServerNext } from './interceptors.js';
export { type ExecutorOptions } from './executor.js';
export { type WorkerPoolOptions } from './worker-pool.js';
export { type WorkerServices, type WorkerService } from './worker-module.js';
export { type ServerOptions, type ServerOptionsInit } from './options.js';
export {
  sslServerCredentials,
  insecureServerCredentials,
  type ServerCredentials,
  type PrivateKeyCertificateChainPair,
  type SslServerCredentialsOptions,
} from './credentials.js';
