import * as http2 from 'node:http2';
import type { ClientHttp2Session } from 'node:http2';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { RpcError, StatusCode } from '../protocol/index.js';
import { Backoff } from '../util/index.js';

/** A channel's or connection's connectivity state (grpcio's `ChannelConnectivity`). */
export type ConnectivityState = 'IDLE' | 'CONNECTING' | 'READY' | 'TRANSIENT_FAILURE' | 'SHUTDOWN';

/** One resolved address: a TCP host (an IP address once resolved) and port, or a Unix socket path. */
export type Address =
  | {
      /** An IP address (a resolver's answer) or a host name. */
      readonly host: string;
      /** The TCP port. */
      readonly port: number;
    }
  | {
      /** A Unix socket path; a leading NUL byte names a socket in Linux's abstract namespace. */
      readonly path: string;
    };

/** TLS settings of a client connection. @internal */
export interface ClientTlsOptions {
  readonly ca?: Buffer | undefined;
  readonly key?: Buffer | undefined;
  readonly cert?: Buffer | undefined;
  /** The name the server certificate must carry (grpc.ssl_target_name_override or the host). */
  readonly servername?: string | undefined;
}

/** Connection settings, from the channel options. @internal */
export interface ConnectionOptions {
  readonly tls: ClientTlsOptions | undefined;
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly keepalivePermitWithoutCalls: boolean;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly minConnectTimeoutMs: number;
}

/**
 * One HTTP/2 connection to one address, opened on demand and reopened after failures with
 * exponential backoff and jitter (doc/connection-backoff.md). A GOAWAY retires the current
 * session: calls on it finish, new calls get a new one.
 * @internal
 */
export class Connection {
  readonly #address: Address;
  readonly #options: ConnectionOptions;
  #state: ConnectivityState = 'IDLE';
  #session: ClientHttp2Session | undefined;
  #listeners = new Set<(state: ConnectivityState) => void>();
  readonly #backoff: Backoff;
  #retryTimer: NodeJS.Timeout | undefined;
  #keepaliveTimer: NodeJS.Timeout | undefined;
  #lastError = '';
  #activeCalls = 0;

  constructor(address: Address, options: ConnectionOptions) {
    this.#address = address;
    this.#options = options;
    this.#backoff = new Backoff(options.initialBackoffMs, options.maxBackoffMs);
  }

  get state(): ConnectivityState {
    return this.#state;
  }

  /** Why the last connection attempt failed. */
  get lastError(): string {
    return this.#lastError;
  }

  /** The session to start calls on, when READY. */
  get session(): ClientHttp2Session | undefined {
    return this.#state === 'READY' ? this.#session : undefined;
  }

  /** Calls `listener` on every state change; returns the remover. */
  onStateChange(listener: (state: ConnectivityState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #setState(state: ConnectivityState): void {
    if (this.#state === state) return;
    this.#state = state;
    for (const l of [...this.#listeners]) l(state);
  }

  /** Starts connecting if idle. */
  connect(): void {
    if (this.#state !== 'IDLE') return;
    this.#setState('CONNECTING');
    const address = this.#address;
    const o = this.#options;
    const authorityHost = 'path' in address ? 'localhost' : address.host.includes(':') ? `[${address.host}]` : address.host;
    const url = `${o.tls ? 'https' : 'http'}://${authorityHost}:${'path' in address ? 80 : address.port}`;
    const connectOptions: http2.SecureClientSessionOptions = {
      settings: { enablePush: false },
      createConnection: () => {
        const socket = openSocket(address, o.tls);
        // A TLS alert after the handshake (a server that wants a client certificate, TLS 1.3)
        // destroys the session with neither an 'error' nor a 'close' event of its own (Node 20):
        // the socket's error ends it.
        socket.once('error', (err) => {
          this.#lastError = err.message;
          onClosed();
        });
        socket.once('close', () => onClosed());
        return socket;
      },
    };
    const session = http2.connect(url, connectOptions);
    // An open connection alone must not keep the process alive: the channel holds it while
    // calls are pending.
    session.unref();
    this.#session = session;
    const connectTimer = setTimeout(() => session.destroy(new Error('connect timeout')), Math.max(o.minConnectTimeoutMs, this.#backoff.currentMs));
    connectTimer.unref();
    // READY once the server's SETTINGS arrive, not when the socket opens: a listener that
    // accepts and drops connections (a proxy with no backend, a process shutting down) must
    // not look connected, or calls waiting for a connection would be sent into it and fail.
    session.once('remoteSettings', () => {
      clearTimeout(connectTimer);
      if (this.#session !== session) return;
      this.#backoff.reset();
      this.#setState('READY');
      this.#startKeepalive(session);
    });
    session.on('error', (err) => {
      this.#lastError = err.message;
    });
    session.once('goaway', () => {
      // The server is draining this connection: calls on it finish, new calls need another.
      if (this.#session === session) this.#retire(session, 'IDLE');
    });
    const onClosed = (): void => {
      clearTimeout(connectTimer);
      if (this.#session !== session) return;
      const wasReady = this.#state === 'READY';
      this.#retire(session, wasReady ? 'IDLE' : 'TRANSIENT_FAILURE');
    };
    session.once('close', onClosed);
  }

  #retire(session: ClientHttp2Session, next: 'IDLE' | 'TRANSIENT_FAILURE'): void {
    this.#session = undefined;
    this.#stopKeepalive();
    if (!session.closed && !session.destroyed) session.close();
    if (this.#state === 'SHUTDOWN') return;
    if (next === 'TRANSIENT_FAILURE') {
      this.#setState('TRANSIENT_FAILURE');
      const delay = this.#backoff.next();
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        if (this.#state !== 'TRANSIENT_FAILURE') return;
        this.#state = 'IDLE';
        this.connect();
      }, delay);
      this.#retryTimer.unref();
    } else {
      this.#setState('IDLE');
    }
  }

  #startKeepalive(session: ClientHttp2Session): void {
    const o = this.#options;
    if (!isFinite(o.keepaliveTimeMs)) return;
    this.#keepaliveTimer = setInterval(() => {
      if (session.destroyed) return;
      // doc/keepalive.md: without calls, ping only when the server permits it.
      if (this.#activeCalls === 0 && !o.keepalivePermitWithoutCalls) return;
      const timeout = setTimeout(() => session.destroy(new Error('keepalive ping timed out')), o.keepaliveTimeoutMs);
      timeout.unref();
      try {
        session.ping((err) => {
          clearTimeout(timeout);
          if (err !== null && !session.destroyed) session.destroy(err);
        });
      } catch {
        clearTimeout(timeout);
      }
    }, o.keepaliveTimeMs);
    this.#keepaliveTimer.unref();
  }

  #stopKeepalive(): void {
    if (this.#keepaliveTimer !== undefined) clearInterval(this.#keepaliveTimer);
    this.#keepaliveTimer = undefined;
  }

  /** Counts a call started on this connection, for keepalive; returns its end marker. */
  trackCall(): () => void {
    this.#activeCalls++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#activeCalls--;
    };
  }

  /** Skips the remaining backoff and tries again at once (a call is waiting for it). */
  resetBackoff(): void {
    if (this.#state !== 'TRANSIENT_FAILURE') return;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#state = 'IDLE';
    this.connect();
  }

  /**
   * Stops using the connection: no reconnects, no new calls; calls in progress finish, then it
   * closes (a load balancer let go of its address).
   */
  drain(): void {
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#stopKeepalive();
    const session = this.#session;
    const wasReady = this.#state === 'READY';
    this.#session = undefined;
    this.#setState('SHUTDOWN');
    this.#listeners.clear();
    if (session === undefined || session.closed || session.destroyed) return;
    if (wasReady) session.close();
    else session.destroy();
  }

  /** Closes the connection; calls on it end. */
  close(): void {
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#stopKeepalive();
    const session = this.#session;
    this.#session = undefined;
    this.#setState('SHUTDOWN');
    session?.destroy();
    this.#listeners.clear();
  }
}

/** Opens the TCP, TLS or Unix socket a connection runs on. */
function openSocket(address: Address, t: ClientTlsOptions | undefined): net.Socket {
  if (t !== undefined) {
    const tlsOptions: tls.ConnectionOptions = {
      ALPNProtocols: ['h2'],
      ...(t.ca !== undefined ? { ca: t.ca } : {}),
      ...(t.key !== undefined ? { key: t.key } : {}),
      ...(t.cert !== undefined ? { cert: t.cert } : {}),
    };
    const servername = t.servername ?? ('path' in address ? undefined : address.host);
    if (servername !== undefined && net.isIP(servername) === 0) tlsOptions.servername = servername;
    const override = t.servername;
    if (override !== undefined) {
      // grpc.ssl_target_name_override: check the certificate against the override name.
      tlsOptions.checkServerIdentity = (_host, cert) => tls.checkServerIdentity(override, cert);
    }
    return 'path' in address ? tls.connect({ ...tlsOptions, path: address.path }) : tls.connect({ ...tlsOptions, host: address.host, port: address.port });
  }
  return 'path' in address ? net.connect(address.path) : net.connect(address.port, address.host);
}

/** The error a call gets when its channel cannot connect. @internal */
export function unavailable(details: string): RpcError {
  return new RpcError(StatusCode.UNAVAILABLE, details);
}
