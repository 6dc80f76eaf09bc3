/**
 * The node:http2 layer: server sessions and streams adapted into calls, client connections.
 * @packageDocumentation
 */
export { ServerCall, shutdownError, headerString, type ServerCallLimits } from './server-call.js';
export {
  TransportServer,
  parseListenAddress,
  tlsSocketOf,
  type TransportServerOptions,
  type TlsServerOptions,
  type StreamListener,
  type ListenTarget,
} from './http2-server.js';
