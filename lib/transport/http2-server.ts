import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import { lstat, rm } from 'node:fs/promises';
import * as net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import * as tls from 'node:tls';
import { Http2Code, RpcError, StatusCode, isGrpcContentType } from '../protocol/index.js';
import type { CallSink, ServerCallPort } from './call-port.js';
import { admitWebRequest, type WebAdmissionOptions } from './grpc-web-admission.js';
import { http1Exchange, http2Exchange } from './grpc-web-server-call.js';
import { admitHttp2Stream, type Http2AdmissionLimits } from './http2-admission.js';
import { guard } from './http2-requests.js';

/** Connection-level settings of a server, and the limits its calls are admitted with, from its channel arguments. @internal */
export interface TransportServerOptions extends Http2AdmissionLimits, WebAdmissionOptions {
  /**
   * An HTTP/1.1 connection must deliver each request's headers within this many milliseconds
   * of connecting or of the previous response (slow clients hold no connection for ever).
   */
  readonly http1HeadersTimeoutMs: number;
  readonly maxConcurrentStreams: number;
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly keepalivePermitWithoutCalls: boolean;
  readonly minPingIntervalWithoutDataMs: number;
  readonly maxPingStrikes: number;
  readonly maxConnectionIdleMs: number;
  readonly maxConnectionAgeMs: number;
  readonly maxConnectionAgeGraceMs: number;
  readonly maxSessionMemoryMb: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: node:http2 resets streams with larger header blocks itself. */
  readonly maxHeaderListSize: number;
}

/** TLS settings of a secure port. @internal */
export interface TlsServerOptions {
  readonly key: Array<string | Buffer>;
  readonly cert: Array<string | Buffer>;
  readonly ca?: string | Buffer | undefined;
  readonly requestCert: boolean;
  readonly rejectUnauthorized: boolean;
}

/** Receives what goes wrong outside any call (a sink that threw), with the path of the stream. @internal */
export type TransportErrorListener = (error: unknown, path: string) => void;

interface SessionState {
  activeStreams: number;
  lastPingAt: number;
  pingStrikes: number;
  /** The socket's bytesWritten when the ping count last restarted, and pings since then. */
  writtenAtPing: number;
  pingsSinceWrite: number;
  /** SETTINGS frames received since settingsSince (a timestamp). */
  settingsFrames: number;
  settingsSince: number;
  /** GOAWAY ENHANCE_YOUR_CALM was sent; the connection is about to be torn down. */
  calmed: boolean;
  keepaliveTimer?: NodeJS.Timeout | undefined;
  idleTimer?: NodeJS.Timeout | undefined;
  ageTimer?: NodeJS.Timeout | undefined;
  graceTimer?: NodeJS.Timeout | undefined;
  calmTimer?: NodeJS.Timeout | undefined;
}

/** An HTTP/1.1 connection: its calls in flight, and the timer on the next request's headers. */
interface Http1State {
  active: number;
  headersTimer: NodeJS.Timeout | undefined;
}

/*
 * One port, every protocol. Each listening socket is a net.Server (cleartext) or tls.Server
 * that hands each connection to one of two inner servers that never listen themselves:
 *
 *   cleartext ── first bytes are the HTTP/2 preface "PRI * HTTP/2.0..." ──► http2 server
 *             └─ anything else ───────────────────────────────────────────► http server (HTTP/1.1)
 *   TLS ──────── ALPN "h2" ──► http2 server;  "http/1.1" ──► http server;  none ──► read as cleartext
 *                (node:http2 refuses HTTP/2 without ALPN over TLS, as before: RFC 9113 §3.3)
 *
 * On HTTP/2, a stream with a gRPC content type is a gRPC call (http2-admission.ts) and any
 * other goes to gRPC-Web admission (grpc-web-admission.ts); HTTP/1.1 requests all go there
 * (native gRPC over HTTP/1.1 gets HTTP 505). The preface check reads once per connection.
 */

/** RFC 9113 §3.4: what an HTTP/2 client with prior knowledge sends first. */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * A server's listening sockets and connections: HTTP/2 sessions with their connection-level
 * policies (keepalive pings, idle and age limits, ping abuse), per doc/keepalive.md and
 * gRFC A9 (max connection idle/age), and HTTP/1.1 connections for gRPC-Web.
 * @internal
 */
export class TransportServer {
  readonly #options: TransportServerOptions;
  readonly #sink: CallSink;
  readonly #onError: TransportErrorListener;
  readonly #listeners: net.Server[] = [];
  readonly #unixPaths: string[] = [];
  readonly #sessions = new Map<ServerHttp2Session, SessionState>();
  readonly #http1 = new Map<Socket, Http1State>();
  /** Connections whose protocol is not known yet. */
  readonly #sniffing = new Set<Socket>();
  #h2: http2.Http2Server | undefined;
  #h1: http.Server | undefined;
  #closing = false;

  constructor(options: TransportServerOptions, sink: CallSink, onError: TransportErrorListener) {
    this.#options = options;
    this.#sink = sink;
    this.#onError = onError;
  }

  /** How many connections are open (HTTP/2 and HTTP/1.1). */
  get sessionCount(): number {
    return this.#sessions.size + this.#http1.size;
  }

  /**
   * Listens on `address` (`host:port`, `[v6]:port`, `unix:path`); resolves to the bound port
   * (1 for a unix socket, as grpcio and grpc-js answer).
   */
  async listen(address: string, tls: TlsServerOptions | undefined): Promise<number> {
    const target = parseListenAddress(address);
    if (target.path !== undefined) {
      // A socket file left by a previous run would make bind fail; grpc-core removes it too.
      const existing = await lstat(target.path).catch(() => undefined);
      if (existing?.isSocket() === true) await rm(target.path, { force: true });
      await this.#listenOne(tls, { path: target.path });
      this.#unixPaths.push(target.path);
      return 1;
    }
    const [first, ...rest] = target.hosts;
    let port: number;
    try {
      port = await this.#listenOne(tls, { host: first!, port: target.port });
    } catch (err) {
      // '[::]' on a machine without IPv6 falls back to every IPv4 address.
      if (first !== '::' || (err as { code?: string }).code !== 'EAFNOSUPPORT') throw err;
      port = await this.#listenOne(tls, { host: '0.0.0.0', port: target.port });
    }
    for (const host of rest) {
      // 'localhost' is both 127.0.0.1 and ::1; a missing IPv6 stack is not an error.
      await this.#listenOne(tls, { host, port }).catch(() => undefined);
    }
    return port;
  }

  #listenOne(options: TlsServerOptions | undefined, where: { host?: string; port?: number; path?: string }): Promise<number> {
    const server = options
      ? tls.createServer(
          {
            key: options.key,
            cert: options.cert,
            ...(options.ca !== undefined ? { ca: options.ca } : {}),
            requestCert: options.requestCert,
            rejectUnauthorized: options.rejectUnauthorized,
            ALPNProtocols: ['h2', 'http/1.1'],
          },
          (socket) => this.#onTlsSocket(socket),
        )
      : net.createServer({ noDelay: true }, (socket) => this.#onSocket(socket));
    // A TLS handshake failure or a stray socket error concerns that connection only.
    server.on('tlsClientError', noop);
    return new Promise<number>((resolve, reject) => {
      const onError = (err: Error): void => {
        server.off('listening', onListening);
        reject(err);
      };
      const onListening = (): void => {
        server.off('error', onError);
        server.on('error', noop);
        this.#listeners.push(server);
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? (address as AddressInfo).port : 1);
      };
      server.once('error', onError);
      server.once('listening', onListening);
      if (where.path !== undefined) server.listen(where.path);
      else server.listen(where.port, where.host);
    });
  }

  #onTlsSocket(socket: tls.TLSSocket): void {
    if (socket.alpnProtocol === 'h2') this.#http2Server().emit('connection', socket);
    else if (socket.alpnProtocol === 'http/1.1') this.#toHttp1(socket, undefined);
    else this.#onSocket(socket);
  }

  /** Reads the first bytes of a connection to tell HTTP/2 (the preface) from HTTP/1.1. */
  #onSocket(socket: Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    this.#sniffing.add(socket);
    let seen: Buffer | undefined;
    const timer = unrefTimer(() => socket.destroy(), this.#options.http1HeadersTimeoutMs);
    const done = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      this.#sniffing.delete(socket);
      socket.off('data', onData);
      socket.off('error', noop);
      socket.off('close', onClose);
    };
    const onClose = (): void => {
      done();
      this.#maybeClosed();
    };
    const onData = (chunk: Buffer): void => {
      seen = seen === undefined ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const http2Preface = seen.compare(PREFACE, 0, n, 0, n) === 0;
      if (http2Preface && n < PREFACE.length) return; // too short to tell yet
      done();
      socket.pause();
      if (http2Preface) {
        // node:http2 takes bytes already read from the socket's buffer when its session starts.
        socket.unshift(seen);
        this.#http2Server().emit('connection', socket);
      } else this.#toHttp1(socket, seen);
    };
    socket.on('data', onData);
    socket.on('error', noop);
    socket.on('close', onClose);
  }

  /** Hands a connection to the HTTP/1.1 server, with the bytes already read from it. */
  #toHttp1(socket: Socket, first: Buffer | undefined): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    const state: Http1State = { active: 0, headersTimer: undefined };
    this.#http1.set(socket, state);
    socket.once('close', () => {
      if (state.headersTimer !== undefined) clearTimeout(state.headersTimer);
      this.#http1.delete(socket);
      this.#maybeClosed();
    });
    this.#armHeadersTimer(socket, state);
    this.#http1Server().emit('connection', socket);
    // node:http's parser reads the socket's handle directly, so what was read before it took
    // the connection is handed to it as a 'data' event.
    if (first !== undefined) socket.emit('data', first);
    socket.resume();
  }

  #armHeadersTimer(socket: Socket, state: Http1State): void {
    if (state.headersTimer !== undefined) clearTimeout(state.headersTimer);
    state.headersTimer = unrefTimer(() => socket.destroy(), this.#options.http1HeadersTimeoutMs);
  }

  #http2Server(): http2.Http2Server {
    if (this.#h2 !== undefined) return this.#h2;
    const o = this.#options;
    const server = http2.createServer({
      settings: { maxConcurrentStreams: o.maxConcurrentStreams, maxHeaderListSize: o.maxHeaderListSize },
      maxSessionMemory: o.maxSessionMemoryMb,
      maxHeaderListPairs: 256,
    });
    server.on('session', (session) => this.#onSession(session));
    server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => this.#onStream(stream, headers, rawHeaders));
    server.on('sessionError', noop);
    return (this.#h2 = server);
  }

  #http1Server(): http.Server {
    if (this.#h1 !== undefined) return this.#h1;
    // node:http enforces headersTimeout and requestTimeout only on servers that listen; this one
    // never does, so the header timeout is kept per connection here (#armHeadersTimer) and the
    // body's by the call (webRequestBodyTimeoutMs). keepAliveTimeout closes idle connections.
    const server = http.createServer({
      maxHeaderSize: this.#options.maxHeaderListSize,
      requestTimeout: 0,
      headersTimeout: 0,
      keepAliveTimeout: HTTP1_KEEPALIVE_TIMEOUT_MS,
    });
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.#onHttp1Request(req, res));
    // A malformed request or headers over maxHeaderSize: node:http answers 400 or 431 and closes.
    return (this.#h1 = server);
  }

  #onHttp1Request(req: http.IncomingMessage, res: http.ServerResponse): void {
    const socket = req.socket;
    const state = this.#http1.get(socket);
    if (state !== undefined) {
      state.active++;
      if (state.headersTimer !== undefined) clearTimeout(state.headersTimer);
      state.headersTimer = undefined;
      res.once('close', () => {
        state.active--;
        if (state.active > 0 || socket.destroyed) return;
        if (this.#closing) socket.end(); // stop(): the connection drains, then closes
        else this.#armHeadersTimer(socket, state);
      });
    }
    if (this.#closing) res.setHeader('connection', 'close');
    // HTTP/1.1 keeps header names as sent; gRPC metadata keys are lower-case.
    const raw = req.rawHeaders;
    const rawHeaders: string[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      if (HTTP1_ONLY.has(name)) continue;
      rawHeaders.push(name, raw[i + 1]!);
    }
    this.#admitWeb(http1Exchange(req, res), {
      method: req.method ?? '',
      path: req.url ?? '',
      authority: req.headers.host,
      headers: req.headers,
      rawHeaders,
      http2: false,
    });
  }

  #onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[]): void {
    try {
      const contentType = headers['content-type'];
      if (contentType === undefined || !isGrpcContentType(contentType)) {
        this.#admitWeb(http2Exchange(stream), {
          method: headers[':method'] ?? '',
          path: headers[':path'] ?? '',
          authority: headers[':authority'],
          headers,
          rawHeaders,
          http2: true,
        });
        return;
      }
      const call = admitHttp2Stream(stream, headers, rawHeaders, this.#options);
      if (call !== undefined) this.#sink(call);
    } catch (err) {
      // A throw here would escape node:http2's 'stream' event and end the process.
      this.#onError(err, headers[':path'] ?? '');
      if (!stream.destroyed) guard(() => stream.close(Http2Code.INTERNAL_ERROR));
    }
  }

  #admitWeb(exchange: ReturnType<typeof http1Exchange>, head: Parameters<typeof admitWebRequest>[1]): void {
    let call: ServerCallPort | undefined;
    try {
      call = admitWebRequest(exchange, head, this.#options);
      if (call !== undefined) this.#sink(call);
    } catch (err) {
      // A throw here would escape node's 'request' / 'stream' event and end the process.
      this.#onError(err, head.path);
      if (call !== undefined) call.cancel(new RpcError(StatusCode.INTERNAL, 'Cannot serve call: internal error'), true);
      else exchange.abort();
    }
  }

  #onSession(session: ServerHttp2Session): void {
    if (this.#closing) {
      session.goaway(Http2Code.NO_ERROR);
      session.destroy();
      return;
    }
    const o = this.#options;
    const state: SessionState = { activeStreams: 0, lastPingAt: 0, pingStrikes: 0, writtenAtPing: 0, pingsSinceWrite: 0, settingsFrames: 0, settingsSince: 0, calmed: false };
    this.#sessions.set(session, state);
    session.on('error', noop);
    session.on('close', () => this.#onSessionClose(session, state));
    // One 'close' listener for all the session's streams, not a closure per stream ('close' is
    // emitted once, so no `once` wrapper either): an idle stream holds less.
    const onStreamClose = (): void => {
      state.activeStreams--;
      if (state.activeStreams === 0) this.#armIdle(session, state);
    };
    session.on('stream', (stream) => {
      state.activeStreams++;
      if (state.idleTimer !== undefined) {
        clearTimeout(state.idleTimer);
        state.idleTimer = undefined;
      }
      stream.on('close', onStreamClose);
    });
    session.on('ping', () => this.#onPing(session, state));
    session.on('remoteSettings', () => this.#onSettings(session, state));

    if (isFinite(o.keepaliveTimeMs) && o.keepaliveTimeMs > 0) {
      state.keepaliveTimer = setInterval(() => this.#sendKeepalive(session), o.keepaliveTimeMs);
      state.keepaliveTimer.unref();
    }
    if (isFinite(o.maxConnectionAgeMs)) {
      // gRFC A9: +/-10% jitter spreads reconnections of clients that connected together. Node
      // fires a timer longer than 2^31-1 ms after 1 ms instead, so the jittered age is capped.
      const age = Math.min(o.maxConnectionAgeMs * (0.9 + Math.random() * 0.2), MAX_TIMER_MS);
      state.ageTimer = setTimeout(() => this.#onMaxAge(session, state), age);
      state.ageTimer.unref();
    }
    this.#armIdle(session, state);
  }

  #armIdle(session: ServerHttp2Session, state: SessionState): void {
    const idle = this.#options.maxConnectionIdleMs;
    if (!isFinite(idle) || state.idleTimer !== undefined || session.destroyed) return;
    state.idleTimer = setTimeout(() => {
      state.idleTimer = undefined;
      if (state.activeStreams === 0) this.#goaway(session, Http2Code.NO_ERROR, 'max_idle');
    }, idle);
    state.idleTimer.unref();
  }

  #onMaxAge(session: ServerHttp2Session, state: SessionState): void {
    state.ageTimer = undefined;
    this.#goaway(session, Http2Code.NO_ERROR, 'max_age');
    const grace = this.#options.maxConnectionAgeGraceMs;
    if (isFinite(grace)) {
      state.graceTimer = setTimeout(() => session.destroy(), grace);
      state.graceTimer.unref();
    }
  }

  #sendKeepalive(session: ServerHttp2Session): void {
    if (session.destroyed || session.closed) return;
    const timeout = setTimeout(() => session.destroy(), this.#options.keepaliveTimeoutMs);
    timeout.unref();
    try {
      const sent = session.ping((err) => {
        clearTimeout(timeout);
        if (err !== null && !session.destroyed) session.destroy();
      });
      if (!sent) clearTimeout(timeout);
    } catch {
      clearTimeout(timeout);
    }
  }

  // doc/keepalive.md, "Server Enforcement": a ping that comes sooner than
  // grpc.http2.min_ping_interval_without_data_ms after the previous one, while the server has
  // sent no data or headers in between, is a strike; so is any ping on a connection without
  // calls unless grpc.keepalive_permit_without_calls. Past grpc.http2.max_ping_strikes the
  // server sends GOAWAY ENHANCE_YOUR_CALM "too_many_pings" and closes the connection. That
  // also ends a ping flood, with or without calls in flight. Pings that follow data (client
  // keepalives on a busy stream, BDP pings) reset the strikes, as in grpc-core and grpc-go.
  // node:http2 does not say when it writes frames, so "sent data" is read from the socket's
  // byte count: anything beyond the PING ACKs (17 bytes each) written since the last ping.
  #onPing(session: ServerHttp2Session, state: SessionState): void {
    const o = this.#options;
    const now = Date.now();
    const previous = state.lastPingAt;
    state.lastPingAt = now;
    const written = bytesWritten(session);
    if (written - state.writtenAtPing > state.pingsSinceWrite * PING_ACK_BYTES) {
      state.writtenAtPing = written;
      state.pingsSinceWrite = 1;
      state.pingStrikes = 0;
      return;
    }
    state.pingsSinceWrite++;
    const bad = state.activeStreams === 0 && !o.keepalivePermitWithoutCalls ? true : now - previous < o.minPingIntervalWithoutDataMs;
    if (bad && ++state.pingStrikes > o.maxPingStrikes) this.#calm(session, state, 'too_many_pings');
  }

  // A peer sends SETTINGS at the start and now and then after (window or table changes); each
  // one costs an ACK and a round of node:http2 work. Past SETTINGS_FLOOD_FRAMES in
  // SETTINGS_FLOOD_WINDOW_MS it is a flood (DESIGN.md §5), answered as a ping flood is.
  #onSettings(session: ServerHttp2Session, state: SessionState): void {
    const now = Date.now();
    if (now - state.settingsSince > SETTINGS_FLOOD_WINDOW_MS) {
      state.settingsSince = now;
      state.settingsFrames = 0;
    }
    if (++state.settingsFrames > SETTINGS_FLOOD_FRAMES) this.#calm(session, state, 'too_many_settings');
  }

  // GOAWAY ENHANCE_YOUR_CALM, then the connection is torn down with that same code. Not
  // close(): it would send a second GOAWAY saying NO_ERROR. Not at once either: closing a socket
  // with unread input makes the kernel send RST, and the peer would lose the GOAWAY before
  // reading it; CALM_LINGER_MS gives it time to, and a flooder gains nothing from that window
  // (nghttp2 refuses new streams once the GOAWAY is out).
  #calm(session: ServerHttp2Session, state: SessionState, debug: string): void {
    if (state.calmed || session.destroyed) return;
    state.calmed = true;
    try {
      session.goaway(Http2Code.ENHANCE_YOUR_CALM, undefined, Buffer.from(debug));
    } catch {
      // The session may be closing already; destroy() below still ends it.
    }
    // The Error only carries the code through destroy(); the session's 'error' listener drops it.
    state.calmTimer = setTimeout(() => session.destroy(new Error(`Cannot keep connection: ${debug}`), Http2Code.ENHANCE_YOUR_CALM), CALM_LINGER_MS);
    state.calmTimer.unref();
  }

  #goaway(session: ServerHttp2Session, code: number, debug: string): void {
    if (session.destroyed || session.closed) return;
    try {
      session.goaway(code, undefined, Buffer.from(debug));
    } catch {
      // The session may be closing already; nothing more to tell the peer.
    }
    session.close();
  }

  #onSessionClose(session: ServerHttp2Session, state: SessionState): void {
    for (const t of [state.keepaliveTimer, state.idleTimer, state.ageTimer, state.graceTimer, state.calmTimer]) if (t !== undefined) clearTimeout(t);
    this.#sessions.delete(session);
    this.#maybeClosed();
  }

  /**
   * Stops accepting connections and tells every client to open no new streams: GOAWAY on
   * HTTP/2; on HTTP/1.1, idle connections close now and busy ones after their response.
   */
  beginShutdown(): void {
    this.#closing = true;
    for (const server of this.#listeners) server.close();
    for (const session of this.#sessions.keys()) this.#goaway(session, Http2Code.NO_ERROR, 'server_shutdown');
    for (const socket of [...this.#sniffing]) socket.destroy();
    for (const [socket, state] of this.#http1) if (state.active === 0) socket.destroy();
  }

  /** Tears down every connection at once. */
  destroySessions(): void {
    for (const session of [...this.#sessions.keys()]) session.destroy();
    for (const socket of [...this.#http1.keys()]) socket.destroy();
  }

  #closedWaiters: Array<() => void> = [];

  /** Resolves once every listener and connection is closed. */
  closed(): Promise<void> {
    return new Promise((resolve) => {
      this.#closedWaiters.push(resolve);
      this.#maybeClosed();
    });
  }

  #maybeClosed(): void {
    if (!this.#closing || this.#sessions.size > 0 || this.#http1.size > 0 || this.#sniffing.size > 0) return;
    const listeners = this.#listeners.splice(0);
    const paths = this.#unixPaths.splice(0);
    void Promise.all(listeners.map((s) => new Promise<void>((r) => (s.listening ? s.close(() => r()) : r())))).then(async () => {
      for (const p of paths) await rm(p, { force: true }).catch(() => undefined);
      for (const resolve of this.#closedWaiters.splice(0)) resolve();
    });
  }
}

// An HTTP/1.1 connection with no request for this long is closed (node:http's default).
const HTTP1_KEEPALIVE_TIMEOUT_MS = 5000;
// Headers of the HTTP/1.1 connection itself, not of the call (RFC 9110 §7.6.1, RFC 9112).
const HTTP1_ONLY = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'expect']);

// Node's timers hold at most 2^31-1 ms (about 24.8 days).
const MAX_TIMER_MS = 2_147_483_647;
// How long a connection told to calm down stays open so the GOAWAY can be read.
const CALM_LINGER_MS = 500;
// More SETTINGS frames than this within the window is a flood.
const SETTINGS_FLOOD_FRAMES = 100;
const SETTINGS_FLOOD_WINDOW_MS = 1000;
// A PING frame: 9 bytes of frame header and 8 of opaque data (RFC 9113 6.7).
const PING_ACK_BYTES = 17;

/** An unref'd timer, or none for an infinite (or over-long, INT_MAX meaning never) delay. */
function unrefTimer(callback: () => void, ms: number): NodeJS.Timeout | undefined {
  if (!(ms < MAX_TIMER_MS)) return undefined;
  const timer = setTimeout(callback, ms);
  timer.unref();
  return timer;
}

function bytesWritten(session: ServerHttp2Session): number {
  try {
    return session.socket.bytesWritten;
  } catch {
    return 0; // ERR_HTTP2_SOCKET_UNBOUND: the session is being torn down
  }
}

/** Where to listen. @internal */
export interface ListenTarget {
  readonly hosts: string[];
  readonly port: number;
  readonly path?: string;
}

/**
 * Parses a grpcio bind address: `host:port`, `[v6]:port`, `:port`, `unix:path`,
 * `unix:///abs/path`.
 * @internal
 * @throws TypeError for anything else
 */
export function parseListenAddress(address: string): ListenTarget {
  if (address.startsWith('unix:')) {
    const rest = address.slice(5);
    const path = rest.startsWith('//') ? rest.slice(2) : rest;
    if (path === '') throw new TypeError(`Cannot parse address "${address}": empty unix socket path`);
    return { hosts: [], port: 0, path };
  }
  const match = /^(?:\[([0-9a-fA-F:.%\w]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(address);
  if (match === null) throw new TypeError(`Cannot parse address "${address}": expected host:port, [ipv6]:port or unix:path`);
  const port = Number(match[3]);
  if (port > 65535) throw new RangeError(`Cannot parse address "${address}": port ${port} is out of range`);
  const host = match[1] ?? match[2] ?? '';
  if (host === '') return { hosts: ['::'], port };
  if (host === 'localhost') return { hosts: ['127.0.0.1', '::1'], port };
  return { hosts: [host], port };
}

function noop(): void {}
