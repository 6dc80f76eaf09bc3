import type { EventEmitter } from 'node:events';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import {
  ACCEPT_ENCODING,
  Compression,
  RpcError,
  StatusCode,
  compress,
  compressionName,
  createBase64Decoder,
  createWebFrameDecoder,
  decompress,
  encodeFrame,
  encodeGrpcMessage,
  encodeTrailerFrame,
  grpcWebContentType,
  metadataToHeaders,
  rawHeadersToMetadata,
  type GrpcWebFormat,
  type HeaderMap,
  type Metadata,
  type WebFrame,
} from '../protocol/index.js';
import type { PeerInfo, ServerCallLimits, ServerCallPort } from './call-port.js';
import { guard } from './http2-requests.js';
import { localAuthorityOf, localAuthorityOfSocket, peerOfSession, peerOfSocket } from './http2-peer.js';
import { STATUS_FLUSH_MS } from './http2-server-call.js';
import { CANCELLED, FINISHED, HEADERS_SENT, OPEN, ServerCallState, checkSendSize } from './server-call-state.js';

/*
 * gRPC-Web on the server (grpc/grpc doc/PROTOCOL-WEB.md): the same call port as native gRPC,
 * over one HTTP exchange, HTTP/1.1 or HTTP/2. Differences from gRPC over HTTP/2:
 *
 *   request   the body is the whole request (browsers send it at once); binary, or base64 in
 *             text mode (application/grpc-web-text), decoded incrementally
 *   response  HTTP 200, the content type of the request's format (Accept: ...-text honoured),
 *             messages framed as in gRPC, then a trailers frame (flag 0x80) holding the status
 *             as an HTTP/1-style block: HTTP trailers are not used. Trailers-Only: the status
 *             in the headers and no body. In text mode each write is base64-encoded whole.
 *   streams   one request message only: client-streaming and bidi methods are refused with
 *             UNIMPLEMENTED (a browser cannot stream a request body).
 *   cancel    the client closing the connection (HTTP/1.1) or resetting the stream (HTTP/2)
 *             cancels the call.
 */

/**
 * One HTTP exchange carrying a gRPC-Web call, as the call sees it; HTTP/1.1
 * ({@link http1Exchange}) and HTTP/2 ({@link http2Exchange}) adapt to it.
 * @internal
 */
export interface WebExchange {
  /** The request body, read in paused mode so a call that does not read pauses the peer. */
  readonly body: Readable;
  /** Emits 'drain' when the response may be written again and 'close' once the exchange is over. */
  readonly events: EventEmitter;
  /** Whether the response can still be written. */
  readonly writable: boolean;
  /** Whether the whole request body has arrived (read or not). */
  readonly bodyComplete: boolean;
  /**
   * Sends the status line and headers. With a `body` (or undefined: empty) that is the whole
   * response; with null, more follows. With `closeAfter`, the rest of the request body is not
   * wanted: the connection (HTTP/1.1) or stream (HTTP/2) is closed after the response.
   */
  respond(status: number, headers: OutgoingHttpHeaders, body: Uint8Array | undefined | null, closeAfter: boolean): void;
  /** @returns false when the connection's buffer is full: wait for 'drain' */
  write(chunk: Uint8Array): boolean;
  /** Ends the response, after `chunk`; with `closeAfter`, as for {@link WebExchange.respond}. */
  end(chunk: Uint8Array | undefined, closeAfter: boolean): void;
  /** Ends the exchange at once: RST_STREAM CANCEL on HTTP/2, the connection closed on HTTP/1.1. */
  abort(): void;
  /** The peer, with its auth facts. */
  peerInfo(): PeerInfo;
  /** The address the connection arrived on, for a request without a Host. */
  readonly localAuthority: string | undefined;
}

/**
 * A gRPC-Web exchange over HTTP/1.1.
 * @internal
 */
export function http1Exchange(req: IncomingMessage, res: ServerResponse): WebExchange {
  res.sendDate = false;
  const socket: Socket = req.socket;
  // The response goes out before the request body has fully arrived. A short rest (by its
  // Content-Length) is read and dropped so the connection can serve the next request, if it
  // arrives soon; a long or unknown one is not waited for: "Connection: close".
  const bodyNotWanted = (headers: OutgoingHttpHeaders | undefined): void => {
    if (req.complete) return;
    const length = Number(req.headers['content-length']);
    const close = headers === undefined || !(length <= DISCARD_BODY_BYTES);
    if (close && headers !== undefined) headers['connection'] = 'close';
    res.once('finish', () => {
      if (req.complete) return;
      if (close) socket.end();
      const timer = setTimeout(() => socket.destroy(), STATUS_FLUSH_MS);
      timer.unref();
      const clear = (): void => clearTimeout(timer);
      socket.once('close', clear);
      if (!close) req.once('end', clear);
    });
  };
  return {
    body: req,
    events: res,
    get writable() {
      return !res.writableEnded && !res.destroyed;
    },
    get bodyComplete() {
      return req.complete;
    },
    respond(status, headers, body, closeAfter) {
      if (closeAfter) bodyNotWanted(headers);
      res.writeHead(status, headers);
      if (body === undefined) res.end();
      else if (body !== null) res.end(body);
      // The headers leave now: a server stream's first message may come much later.
      else res.flushHeaders();
    },
    write(chunk) {
      return res.write(chunk);
    },
    end(chunk, closeAfter) {
      if (closeAfter) bodyNotWanted(undefined);
      if (chunk !== undefined) res.end(chunk);
      else res.end();
    },
    abort() {
      res.destroy();
    },
    peerInfo() {
      return peerOfSocket(socket);
    },
    get localAuthority() {
      return localAuthorityOfSocket(socket);
    },
  };
}

/** The most of an unwanted HTTP/1.1 request body that is read and dropped to keep its connection. */
const DISCARD_BODY_BYTES = 64 * 1024;

/**
 * A gRPC-Web exchange on one HTTP/2 stream.
 * @internal
 */
export function http2Exchange(stream: ServerHttp2Stream): WebExchange {
  const session = stream.session as ServerHttp2Session;
  // RFC 9113 §8.1: once the response is complete, RST_STREAM(NO_ERROR) stops a client that is
  // still sending a body nobody will read.
  const closeAfterEnd = (): void => {
    if (!stream.readableEnded) guard(() => stream.close(0x0));
  };
  return {
    body: stream,
    events: stream,
    get writable() {
      return !stream.destroyed && !stream.closed && !stream.writableEnded;
    },
    get bodyComplete() {
      return stream.readableEnded;
    },
    respond(status, headers, body, closeAfter) {
      guard(() => stream.respond({ ...headers, ':status': status }, { endStream: body === undefined, sendDate: false } as never));
      if (body !== null && body !== undefined) guard(() => stream.end(body));
      if (body !== null && closeAfter) closeAfterEnd();
    },
    write(chunk) {
      return stream.write(chunk);
    },
    end(chunk, closeAfter) {
      guard(() => (chunk !== undefined ? stream.end(chunk) : stream.end()));
      if (closeAfter) closeAfterEnd();
    },
    abort() {
      if (!stream.destroyed) guard(() => stream.close(0x8 /* CANCEL */));
    },
    peerInfo() {
      return peerOfSession(session);
    },
    get localAuthority() {
      return localAuthorityOf(session);
    },
  };
}

/** What admission learnt of a gRPC-Web request, for its call. @internal */
export interface WebCallInit {
  /** The method's path, `/package.Service/Method`. */
  readonly path: string;
  /** The Host / `:authority` of the request. */
  readonly authority: string | undefined;
  /** The request headers as name/value pairs, names lower-case. */
  readonly rawHeaders: readonly string[];
  /** Whether the request body is base64 (text mode). */
  readonly requestText: boolean;
  /** The format of the response (Accept honoured). */
  readonly responseFormat: GrpcWebFormat;
  /** The request's `grpc-accept-encoding`: what responses may be compressed with. */
  readonly acceptEncoding: string | undefined;
  /** CORS headers for every response of this call (the origin is allowed), or undefined. */
  readonly cors: Readonly<Record<string, string>> | undefined;
  /** The message size limits. */
  readonly limits: ServerCallLimits;
  /** A unary request body must have arrived whole within this many milliseconds. */
  readonly bodyTimeoutMs: number;
}

/** Headers every browser must be allowed to read for the status to be visible (CORS). */
const EXPOSED = 'grpc-status, grpc-message, grpc-status-details-bin, grpc-encoding, grpc-accept-encoding';

/**
 * The server call port over one gRPC-Web exchange. Admission (grpc-web-admission.ts) made it.
 * @internal
 */
export class GrpcWebServerCall extends ServerCallState implements ServerCallPort {
  readonly path: string;

  readonly #exchange: WebExchange;
  readonly #init: WebCallInit;
  readonly #contentType: string;
  #metadata: Metadata | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  /** Resolvers of whatever waits on the exchange (readable, drain); a cancel wakes them all. */
  #waiters: Array<() => void> = [];

  constructor(exchange: WebExchange, init: WebCallInit) {
    super();
    this.#exchange = exchange;
    this.#init = init;
    this.path = init.path;
    this.#contentType = grpcWebContentType(init.responseFormat);
    this.acceptEncoding = init.acceptEncoding;
    exchange.events.on('close', () => this.#onClose());
    exchange.events.on('error', noop); // reported through 'close'
    exchange.body.on('error', noop);
  }

  get metadata(): Metadata {
    return (this.#metadata ??= rawHeadersToMetadata(this.#init.rawHeaders));
  }

  get authority(): string | undefined {
    const authority = this.#init.authority;
    return authority !== undefined && authority !== '' ? authority : this.#exchange.localAuthority;
  }

  peerInfo(): PeerInfo {
    return this.#exchange.peerInfo();
  }

  cancel(reason: RpcError, sendStatus: boolean): void {
    if (this.state >= FINISHED) return;
    const exchange = this.#exchange;
    if (sendStatus && exchange.writable) {
      this.#sendStatus(reason.code, reason.details, undefined);
      this.markCancelled(reason);
      // The status is queued behind what was written; a client that does not read loses it.
      this.#flushTimer = setTimeout(() => exchange.abort(), STATUS_FLUSH_MS);
      this.#flushTimer.unref();
      return;
    }
    exchange.abort();
    this.markCancelled(reason);
  }

  protected onCancel(): void {
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Waits for any of `events` on `emitter`, or for the call to end. */
  #waitFor(emitter: EventEmitter, events: readonly string[]): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        for (const e of events) emitter.off(e, done);
        const i = this.#waiters.indexOf(done);
        if (i >= 0) this.#waiters.splice(i, 1);
        resolve();
      };
      for (const e of events) emitter.on(e, done);
      this.#waiters.push(done);
    });
  }

  #onClose(): void {
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    this.clearDeadline();
    this.#wake();
    // Closed before the status went out: the client aborted the fetch or the connection died.
    if (this.state < FINISHED) {
      this.markCancelled(new RpcError(StatusCode.CANCELLED, 'Call cancelled: connection closed'));
    }
    this.runDone();
  }

  // ---- inbound ----

  /**
   * Reads the body to its end (pulled, so the peer is paused while nobody reads), decoding
   * base64 first in text mode; it must hold exactly one message frame. Must arrive within
   * the body timeout, so a client trickling its body cannot hold a call for ever.
   */
  async readUnary(): Promise<Uint8Array> {
    const body = this.#exchange.body;
    const init = this.#init;
    const frames = createWebFrameDecoder(init.limits.maxReceiveMessageBytes);
    const text = init.requestText ? createBase64Decoder() : undefined;
    let message: WebFrame | undefined;
    // setTimeout takes at most 2^31-1 ms; a longer (or infinite) timeout means none.
    const timer =
      init.bodyTimeoutMs < 2_147_483_647
        ? setTimeout(() => {
            this.cancel(new RpcError(StatusCode.CANCELLED, `Call cancelled: the request body did not arrive within ${init.bodyTimeoutMs} ms`), true);
          }, init.bodyTimeoutMs)
        : undefined;
    timer?.unref();
    try {
      for (;;) {
        if (this.state === CANCELLED) throw this.cancelReason ?? new RpcError(StatusCode.CANCELLED, 'Call cancelled');
        const chunk = body.read() as Buffer | null;
        if (chunk !== null) {
          const bytes = text !== undefined ? text.decode(chunk.toString('latin1')) : chunk;
          for (const frame of frames.decode(bytes)) {
            // PROTOCOL-WEB.md: only responses end with a trailers frame.
            if (frame.trailers) throw new RpcError(StatusCode.INTERNAL, 'Cannot accept request: a gRPC-Web request body holds a trailers frame');
            if (message !== undefined) throw new RpcError(StatusCode.INTERNAL, 'Cannot accept request: a unary method got more than one request message');
            message = frame;
          }
          continue;
        }
        if (body.readableEnded) break;
        await this.#waitFor(body, READ_EVENTS);
      }
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
    if (text !== undefined && !text.atBoundary) throw new RpcError(StatusCode.INTERNAL, 'Cannot decode gRPC-Web text body: it ends in the middle of a base64 group');
    if (!frames.atBoundary) throw new RpcError(StatusCode.INTERNAL, 'Cannot decode message: stream ended in the middle of a message');
    if (message === undefined) throw new RpcError(StatusCode.INTERNAL, 'Cannot accept request: a unary method got no request message');
    this.lastMessageCompressed = message.compressed;
    if (!message.compressed) return message.payload;
    if (this.requestCompression === Compression.NoCompression) {
      throw new RpcError(StatusCode.INTERNAL, 'Cannot decompress request: compressed flag set without grpc-encoding');
    }
    return decompress(this.requestCompression, message.payload, init.limits.maxReceiveMessageBytes);
  }

  /**
   * Refuses the call: a gRPC-Web request is one HTTP body with one message, so client-streaming
   * and bidi-streaming methods cannot be served. The call ends UNIMPLEMENTED (its signal aborts)
   * and the iterator throws.
   */
  requests<T>(): AsyncIterable<T> {
    this.cancel(new RpcError(StatusCode.UNIMPLEMENTED, 'Cannot call a client-streaming or bidi-streaming method over gRPC-Web: it carries one request message'), true);
    const error = this.abortError();
    return {
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }),
    };
  }

  // ---- outbound ----

  #headers(metadata: Metadata | undefined): HeaderMap {
    const headers: HeaderMap = { 'content-type': this.#contentType, 'grpc-accept-encoding': ACCEPT_ENCODING };
    if (this.responseCompression !== Compression.NoCompression) headers['grpc-encoding'] = compressionName(this.responseCompression);
    if (metadata !== undefined) metadataToHeaders(metadata, headers);
    this.#addCors(headers, metadata);
    return headers;
  }

  /** CORS: the browser may read only the response headers named in Access-Control-Expose-Headers. */
  #addCors(headers: HeaderMap, metadata: Metadata | undefined): void {
    const cors = this.#init.cors;
    if (cors === undefined) return;
    Object.assign(headers, cors);
    let exposed = EXPOSED;
    if (metadata !== undefined) for (const key of metadata.keys()) if (!key.startsWith('grpc-')) exposed += `, ${key}`;
    headers['access-control-expose-headers'] = exposed;
  }

  /** The bytes as they go on the wire: base64 in text mode, each write encoded whole. */
  #wire(bytes: Uint8Array): Uint8Array {
    if (!this.#init.responseFormat.text) return bytes;
    return Buffer.from(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'), 'latin1');
  }

  sendHeaders(metadata?: Metadata): void {
    if (this.state !== OPEN) return;
    this.state = HEADERS_SENT;
    this.headersSent = true;
    if (!this.#exchange.writable) return;
    this.#exchange.respond(200, this.#headers(metadata) as OutgoingHttpHeaders, null, false);
  }

  send(payload: Uint8Array, compress: boolean): Promise<void> | undefined {
    if (this.state >= FINISHED) return undefined;
    checkSendSize(payload, this.#init.limits.maxSendMessageBytes);
    if (this.state === OPEN) this.sendHeaders();
    if (compress && this.responseCompression !== Compression.NoCompression) {
      return this.#compressed(payload).then((frame) => this.#write(frame));
    }
    return this.#write(encodeFrame(payload, false));
  }

  #compressed(payload: Uint8Array): Promise<Buffer> {
    return compress(this.responseCompression, payload).then((bytes) => encodeFrame(bytes, true));
  }

  #write(frame: Uint8Array): Promise<void> | undefined {
    if (this.state >= FINISHED || !this.#exchange.writable) return undefined;
    if (this.#exchange.write(this.#wire(frame))) return undefined;
    return this.#waitFor(this.#exchange.events, DRAIN_EVENTS);
  }

  finish(code: StatusCode, details: string, trailers?: Metadata): void {
    if (this.state >= FINISHED) return;
    this.#sendStatus(code, details, trailers);
  }

  /** Headers (if not sent), the message and the trailers frame leave in one write. */
  sendUnary(payload: Uint8Array, compress: boolean, trailers: Metadata | undefined, details: string): Promise<void> | undefined {
    if (this.state >= FINISHED) return undefined;
    checkSendSize(payload, this.#init.limits.maxSendMessageBytes);
    if (compress && this.responseCompression !== Compression.NoCompression) {
      return this.#compressed(payload).then((frame) => {
        if (this.state < FINISHED) this.#sendStatus(StatusCode.OK, details, trailers, frame);
      });
    }
    this.#sendStatus(StatusCode.OK, details, trailers, encodeFrame(payload, false));
    return undefined;
  }

  #sendStatus(code: StatusCode, details: string, trailers: Metadata | undefined, lastMessage?: Uint8Array): void {
    const headersSent = this.state === HEADERS_SENT;
    this.markFinished(code, details);
    const exchange = this.#exchange;
    if (!exchange.writable) return;
    // A status sent while the body is still arriving (an early answer, a bad or oversized
    // message, a slow body) ends the exchange after the response: the rest is not read, so a
    // client cannot keep a connection busy sending what nobody wants. A body that has arrived
    // whole but was not read is discarded, and the HTTP/1.1 connection kept.
    const closeAfter = !exchange.bodyComplete;
    if (!headersSent && lastMessage === undefined) {
      // PROTOCOL-WEB.md: a Trailers-Only response carries the status in the headers, no body.
      const headers = this.#headers(trailers);
      headers['grpc-status'] = String(code);
      if (details !== '') headers['grpc-message'] = encodeGrpcMessage(details);
      headers['content-length'] = '0';
      exchange.respond(200, headers as OutgoingHttpHeaders, undefined, closeAfter);
    } else {
      const fields: Array<[string, string]> = [['grpc-status', String(code)]];
      if (details !== '') fields.push(['grpc-message', encodeGrpcMessage(details)]);
      if (trailers !== undefined && trailers.size > 0) {
        const map = metadataToHeaders(trailers, {});
        for (const key of Object.keys(map)) {
          const value = map[key];
          if (Array.isArray(value)) for (const v of value) fields.push([key, v]);
          else if (value !== undefined) fields.push([key, String(value)]);
        }
      }
      const block = encodeTrailerFrame(fields);
      const bytes = this.#wire(lastMessage === undefined ? block : join(lastMessage, block));
      if (headersSent) exchange.end(bytes, closeAfter);
      else {
        const headers = this.#headers(undefined);
        headers['content-length'] = String(bytes.length);
        exchange.respond(200, headers as OutgoingHttpHeaders, bytes, closeAfter);
      }
    }
    // A handler may answer before the body was read: the rest is discarded, not left to stall
    // the connection (or, when it is not wanted at all, the connection closes after this).
    if (!exchange.body.readableEnded) exchange.body.resume();
  }
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function noop(): void {}

const READ_EVENTS = ['readable', 'end'] as const; // 'close' wakes every waiter (#onClose)
const DRAIN_EVENTS = ['drain'] as const;
