/**
 * The node:http2 layer: server sessions and streams adapted into calls, client connections.
 * @packageDocumentation
 */
export { ServerCall, STATUS_FLUSH_MS, shutdownError, headerString, type ServerCallStatus, type ServerCallLimits } from './server-call.js';
export {
  TransportServer,
  parseListenAddress,
  tlsSocketOf,
  type TransportServerOptions,
  type TlsServerOptions,
  type StreamListener,
  type ListenTarget,
} from './http2-server.js';
export { ClientCall, cancelledError, type ClientCallOptions, type CallStatus } from './client-call.js';
export {
  Connection,
  unavailable,
  type ConnectivityState,
  type Address,
  type ClientTlsOptions,
  type ConnectionOptions,
} from './client-connection.js';
