/**
 * The node:http2 layer: server sessions and streams adapted into calls, client connections.
 * Only {@link ConnectivityState} is public; the rest is the barrel server/ and client/ import
 * through, in statements tagged internal that stripInternal drops from the published .d.ts.
 * @packageDocumentation
 */
export { type ConnectivityState } from './client-connection.js';
/** @internal The server call, used by server/ only. */
export { ServerCall, STATUS_FLUSH_MS, shutdownError, headerString, type ServerCallStatus, type ServerCallLimits } from './server-call.js';
/** @internal The listening sockets, used by server/ only. */
export {
  TransportServer,
  parseListenAddress,
  tlsSocketOf,
  type TransportServerOptions,
  type TlsServerOptions,
  type StreamListener,
  type ListenTarget,
} from './http2-server.js';
/** @internal The client call port and transport, what client/ drives. */
export { type ClientCallPort, type ClientTransport, type ClientCallOptions, type CallStatus } from './call-port.js';
/** @internal The client call over node:http2. */
export { ClientCall, cancelledError } from './client-call.js';
/** @internal The node:http2 client transport, used by client/ only. */
export { Http2ClientTransport } from './http2-client.js';
/** @internal The client connection, used by client/ only. */
export { Connection, unavailable, type Address, type ClientTlsOptions, type ConnectionOptions } from './client-connection.js';
