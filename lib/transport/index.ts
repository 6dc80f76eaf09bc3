/**
 * The call ports and the transports that make them: node:http2 server sessions and client
 * connections, gRPC-Web over HTTP/1.1 and HTTP/2 on the same ports, and the in-process
 * transport. Only {@link ConnectivityState}, {@link Address} and {@link AuthContext} are public; the rest is the
 * barrel server/ and client/ import through, in statements tagged internal that stripInternal
 * drops from the published .d.ts.
 * @packageDocumentation
 */
export { type ConnectivityState, type Address } from './client-connection.js';
export { type AuthContext } from './call-port.js';
/** @internal The server call port, what server/ sees of every call. */
export { type ServerCallPort, type ServerCallStatus, type ServerCallLimits, type PeerInfo, type CallSink } from './call-port.js';
/** @internal The node:http2 server call, for the status flush the server's stop waits on. */
export { STATUS_FLUSH_MS } from './http2-server-call.js';
/** @internal The listening sockets, used by server/ only. */
export {
  TransportServer,
  parseListenAddress,
  type TransportServerOptions,
  type TlsServerOptions,
  type TransportErrorListener,
  type ListenTarget,
} from './http2-server.js';
/** @internal gRPC-Web on the server's ports: CORS settings, checked by server(). */
export { resolveCorsPolicy, type CorsPolicy } from './grpc-web-admission.js';
/** @internal The in-process transport. */
export { InProcessTransport, type InProcessEntry } from './in-process.js';
export { inProcessSink, type InProcessServer } from './in-process.js';
/** @internal The client call port and transport, what client/ drives. */
export { type ClientCallPort, type ClientTransport, type ClientCallOptions, type CallStatus } from './call-port.js';
/** @internal The client call over node:http2. */
export { ClientCall, cancelledError } from './client-call.js';
/** @internal The client connection, used by client/ only. */
export { Connection, unavailable, type ClientTlsOptions, type ConnectionOptions } from './client-connection.js';
