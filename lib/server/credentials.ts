import type { TlsServerOptions } from '../transport/index.js';

/** A private key and its certificate chain, PEM-encoded. */
export interface PrivateKeyCertificateChainPair {
  /** The PEM private key. */
  readonly privateKey: string | Uint8Array;
  /** The PEM certificate chain. */
  readonly certChain: string | Uint8Array;
}

/** Options of {@link sslServerCredentials}. */
export interface SslServerCredentialsOptions {
  /** PEM root certificates used to verify client certificates. */
  readonly rootCertificates?: string | Uint8Array | null;
  /** Whether clients must present a certificate signed by `rootCertificates` (mutual TLS). */
  readonly requireClientAuth?: boolean;
}

const brand = Symbol('ServerCredentials');

/** Credentials of a server port, made by {@link sslServerCredentials} or {@link insecureServerCredentials}. */
export interface ServerCredentials {
  /** @internal */
  readonly [brand]: TlsServerOptions | null;
}

function toBuffer(value: string | Uint8Array, what: string): Buffer {
  if (typeof value === 'string') return Buffer.from(value);
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`Cannot create server credentials: ${what} must be a PEM string or bytes`);
}

/**
 * TLS credentials for {@link Server.addSecurePort} (grpcio's `ssl_server_credentials`).
 *
 * With `rootCertificates`, client certificates are requested and verified; with
 * `requireClientAuth` they are required (mutual TLS), and the handler's context reports the
 * verified identity through `peerIdentities()` and `authContext()`.
 *
 * @param privateKeyCertificateChainPairs - at least one key and certificate chain
 * @param options - client certificate verification
 * @returns server credentials
 * @throws TypeError when no pair is given, or `requireClientAuth` is set without root certificates
 *
 * @example
 * ```ts
 * const creds = sslServerCredentials([{ privateKey: key, certChain: cert }], { rootCertificates: ca, requireClientAuth: true });
 * const port = await srv.addSecurePort('[::]:50051', creds);
 * ```
 */
export function sslServerCredentials(
  privateKeyCertificateChainPairs: readonly PrivateKeyCertificateChainPair[],
  options: SslServerCredentialsOptions = {},
): ServerCredentials {
  if (!Array.isArray(privateKeyCertificateChainPairs) || privateKeyCertificateChainPairs.length === 0) {
    throw new TypeError('Cannot create server credentials: at least one { privateKey, certChain } pair is required');
  }
  const { rootCertificates, requireClientAuth = false } = options;
  if (requireClientAuth && (rootCertificates === undefined || rootCertificates === null)) {
    throw new TypeError('Cannot create server credentials: requireClientAuth needs rootCertificates');
  }
  const key = privateKeyCertificateChainPairs.map((p) => toBuffer(p.privateKey, 'privateKey'));
  const cert = privateKeyCertificateChainPairs.map((p) => toBuffer(p.certChain, 'certChain'));
  const hasRoots = rootCertificates !== undefined && rootCertificates !== null;
  return {
    [brand]: {
      key,
      cert,
      ca: hasRoots ? toBuffer(rootCertificates, 'rootCertificates') : undefined,
      requestCert: hasRoots,
      rejectUnauthorized: requireClientAuth,
    },
  };
}

/**
 * Credentials for a plaintext port, for APIs that take credentials (grpcio's
 * `insecure_server_credentials`). `addSecurePort(addr, insecureServerCredentials())` is the
 * same as `addInsecurePort(addr)`.
 * @returns server credentials without TLS
 */
export function insecureServerCredentials(): ServerCredentials {
  return { [brand]: null };
}

/** @internal */
export function tlsOptionsOf(credentials: ServerCredentials): TlsServerOptions | null {
  if (typeof credentials !== 'object' || credentials === null || !(brand in credentials)) {
    throw new TypeError('Cannot add secure port: credentials must come from sslServerCredentials()');
  }
  return credentials[brand];
}
