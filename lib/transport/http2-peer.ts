import type { ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { AuthContext, PeerInfo } from './call-port.js';

// Worked out once per connection: every call on it has the same peer.
const peerCache = new WeakMap<ServerHttp2Session | Socket, PeerInfo>();

/**
 * The peer of a node:http2 server session, with grpcio's auth properties.
 * @internal
 */
export function peerOfSession(session: ServerHttp2Session): PeerInfo {
  let info = peerCache.get(session);
  if (info === undefined) {
    info = describeSocket(session.socket);
    peerCache.set(session, info);
  }
  return info;
}

/**
 * The peer of a connection without an HTTP/2 session (gRPC-Web over HTTP/1.1), as
 * {@link peerOfSession} describes it.
 * @internal
 */
export function peerOfSocket(socket: Socket): PeerInfo {
  let info = peerCache.get(socket);
  if (info === undefined) {
    info = describeSocket(socket);
    peerCache.set(socket, info);
  }
  return info;
}

/** The host (and port) a socket arrived on; undefined on a unix socket. @internal */
export function localAuthorityOfSocket(socket: Socket | undefined): string | undefined {
  const address = socket?.localAddress;
  if (socket === undefined || address === undefined) return undefined;
  return `${socket.localFamily === 'IPv6' ? `[${address}]` : address}:${socket.localPort}`;
}

/**
 * The host (and port) a connection arrived on, as `:authority` would name it; undefined on a
 * unix socket.
 * @internal
 */
export function localAuthorityOf(session: ServerHttp2Session): string | undefined {
  return localAuthorityOfSocket(session.socket as Socket | undefined);
}

function describeSocket(socket: Socket | undefined): PeerInfo {
  const address = socket?.remoteAddress;
  let peer: string;
  // A unix socket has no remote address; grpc-core reports such peers as "unix:".
  if (socket === undefined || address === undefined) peer = 'unix:';
  else if (socket.remoteFamily === 'IPv6' && !address.toLowerCase().startsWith('::ffff:')) peer = `ipv6:[${address}]:${socket.remotePort}`;
  // An IPv4 client on a dual-stack ("[::]") listener arrives as an IPv4-mapped IPv6 address;
  // C-core reports it as the IPv4 address it is.
  else if (socket.remoteFamily === 'IPv6') peer = `ipv4:${address.slice(7)}:${socket.remotePort}`;
  else peer = `ipv4:${address}:${socket.remotePort}`;
  const tls = socket !== undefined && 'encrypted' in socket && socket.encrypted === true ? (socket as TLSSocket) : undefined;
  if (tls === undefined) return { peer, auth: { transport_security_type: [bytes('insecure')], security_level: [bytes('TSI_SECURITY_NONE')] }, identityKey: null };
  return { peer, ...tlsAuth(tls) };
}

/** The TLS peer of a session, for the auth context. @internal */
export function tlsSocketOf(session: ServerHttp2Session): TLSSocket | undefined {
  const socket = session.socket as TLSSocket | undefined;
  return socket !== undefined && 'encrypted' in socket && socket.encrypted ? socket : undefined;
}

/** The auth context of a TLS connection, with grpcio's property names. */
function tlsAuth(tls: TLSSocket): { auth: AuthContext; identityKey: string | null } {
  const auth: AuthContext = {
    transport_security_type: [bytes('ssl')],
    security_level: [bytes('TSI_PRIVACY_AND_INTEGRITY')],
    ssl_session_reused: [bytes(tls.isSessionReused() ? 'true' : 'false')],
  };
  const cert = tls.authorized ? tls.getPeerCertificate() : undefined;
  if (cert === undefined || cert === null || Object.keys(cert).length === 0) return { auth, identityKey: null };
  const cn = cert.subject?.CN;
  const commonNames = Array.isArray(cn) ? cn : cn !== undefined ? [cn] : [];
  if (commonNames.length > 0) auth.x509_common_name = commonNames.map(bytes);
  const sans = (cert.subjectaltname ?? '')
    .split(', ')
    .filter((s) => s !== '')
    .map((s) => s.slice(s.indexOf(':') + 1));
  if (sans.length > 0) auth.x509_subject_alternative_name = sans.map(bytes);
  if (cert.raw !== undefined) {
    const b64 = cert.raw.toString('base64').replace(/.{64}/g, '$&\n');
    auth.x509_pem_cert = [bytes(`-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`)];
  }
  const identityKey = sans.length > 0 ? 'x509_subject_alternative_name' : commonNames.length > 0 ? 'x509_common_name' : null;
  return { auth, identityKey };
}

function bytes(s: string): Uint8Array {
  return Buffer.from(s, 'utf8');
}
