import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { AbortError } from 'abort-controller-x';
import {
  ACCEPT_ENCODING,
  Compression,
  Http2Code,
  Metadata,
  RpcError,
  StatusCode,
  compress,
  compressionFromName,
  compressionName,
  createFrameDecoder,
  decodeGrpcMessage,
  decompress,
  encodeFrame,
  encodeGrpcTimeout,
  headersToMetadata,
  metadataToHeaders,
  parseStatusHeader,
  statusFromHttpStatus,
  statusFromNodeError,
  statusFromRstCode,
  type FrameDecoder,
  type HeaderMap,
} from '../protocol/index.js';

/** How a client call was set up. @internal */
export interface ClientCallOptions {
  readonly path: string;
  readonly authority: string;
  readonly metadata: Metadata;
  /** Milliseconds since the epoch, or Infinity. */
  readonly deadline: number;
  readonly compression: Compression;
  readonly maxSendMessageBytes: number;
  readonly maxReceiveMessageBytes: number;
  readonly userAgent: string;
  /** For a retry (gRFC A6): how many attempts came before this one. */
  readonly previousAttempts?: number;
}

/** The end of a call: its status, details and trailers. @internal */
export interface CallStatus {
  readonly code: StatusCode;
  readonly details: string;
  readonly metadata: Metadata;
}

// Received messages buffered before the stream is paused; HTTP/2 flow control then stops the
// server. A slow consumer therefore costs at most this many messages plus the windows.
const HIGH_WATER = 32;

/*
 * Life of a client call:
 *   ACTIVE ──trailers (or Trailers-Only headers)──► DONE(status)
 *      └─────cancel / deadline / reset / connection loss──► DONE(error status)
 * `done` resolves exactly once; reads end after the last message, then throw if not OK.
 */

/**
 * One gRPC call over one HTTP/2 stream, client side: request messages out, response messages
 * in with a bounded buffer, and exactly one final status.
 * @internal
 */
export class ClientCall {
  readonly #stream: ClientHttp2Stream;
  readonly #options: ClientCallOptions;
  readonly #decoder: FrameDecoder;
  #responseCompression: Compression = Compression.NoCompression;
  #queue: Uint8Array[] = [];
  #queueFlags: boolean[] = [];
  #queueHead = 0;
  #pendingDecompress = 0;
  #waiter: (() => void) | undefined;
  #status: CallStatus | undefined;
  #headers: Metadata | undefined;
  #headersWaiters: Array<(md: Metadata) => void> | undefined;
  #doneWaiters: Array<(status: CallStatus) => void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #receivedStatus: CallStatus | undefined;
  #paused = false;
  #committed = false;

  constructor(session: ClientHttp2Session, options: ClientCallOptions) {
    this.#options = options;
    this.#decoder = createFrameDecoder({ maxMessageBytes: options.maxReceiveMessageBytes });
    const headers: OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': options.path,
      ':authority': options.authority,
      ':scheme': session.encrypted === true ? 'https' : 'http',
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': options.userAgent,
      'grpc-accept-encoding': ACCEPT_ENCODING,
    };
    if (options.compression !== Compression.NoCompression) headers['grpc-encoding'] = compressionName(options.compression);
    if (options.deadline !== Infinity) headers['grpc-timeout'] = encodeGrpcTimeout(Math.max(1, options.deadline - Date.now()));
    if (options.previousAttempts !== undefined && options.previousAttempts > 0) headers['grpc-previous-rpc-attempts'] = String(options.previousAttempts);
    metadataToHeaders(options.metadata, headers as HeaderMap);
    this.#stream = session.request(headers, { endStream: false });
    const stream = this.#stream;
    stream.on('response', (h) => this.#onResponse(h));
    stream.on('trailers', (t) => this.#onTrailers(t));
    stream.on('data', (chunk: Buffer) => this.#onData(chunk));
    stream.on('end', () => this.#onEnd());
    stream.on('close', () => this.#onClose());
    stream.on('error', (err) => this.#finish(statusFromNodeError(err)));
    if (options.deadline !== Infinity) {
      const ms = options.deadline - Date.now();
      if (ms <= 0) queueMicrotask(() => this.cancel(new RpcError(StatusCode.DEADLINE_EXCEEDED, 'Deadline exceeded')));
      else if (ms < 2_147_483_647) {
        this.#timer = setTimeout(() => this.cancel(new RpcError(StatusCode.DEADLINE_EXCEEDED, 'Deadline exceeded')), ms);
        this.#timer.unref?.();
      }
    }
  }

  /** Whether the response message taken last (by next, response or responseNow) arrived compressed. */
  lastResponseCompressed = false;

  /** Whether the call has ended. */
  get done(): boolean {
    return this.#status !== undefined;
  }

  /** Whether response headers (not a Trailers-Only answer) arrived: the call is committed (gRFC A6). */
  get receivedHeaders(): boolean {
    return this.#committed;
  }

  // ---- outbound ----

  /**
   * Sends one serialized request. A promise means: wait before writing more (compression,
   * or the stream's buffer is full). `compressible: false` sends it uncompressed even when
   * the call compresses.
   * @throws RpcError RESOURCE_EXHAUSTED over the send limit
   */
  write(payload: Uint8Array, compressible = true): Promise<void> | undefined {
    if (this.#status !== undefined) return undefined;
    const max = this.#options.maxSendMessageBytes;
    if (max >= 0 && payload.length > max) {
      throw new RpcError(StatusCode.RESOURCE_EXHAUSTED, `Cannot send message: ${payload.length} bytes is over the limit of ${max}`);
    }
    const algorithm = this.#options.compression;
    if (algorithm !== Compression.NoCompression && compressible) {
      return compress(algorithm, payload).then((bytes) => this.#writeFrame(encodeFrame(bytes, true)));
    }
    return this.#writeFrame(encodeFrame(payload, false));
  }

  #writeFrame(frame: Buffer): Promise<void> | undefined {
    const stream = this.#stream;
    if (this.#status !== undefined || stream.destroyed) return undefined;
    if (stream.write(frame)) return undefined;
    return new Promise((resolve) => {
      const done = (): void => {
        stream.off('drain', done);
        stream.off('close', done);
        resolve();
      };
      stream.on('drain', done);
      stream.on('close', done);
    });
  }

  /** Sends one request and half-closes in the same step (unary and server-streaming calls). */
  sendUnary(payload: Uint8Array, compressible = true): void {
    const pending = this.write(payload, compressible);
    if (pending === undefined) this.halfClose();
    else pending.then(() => this.halfClose(), (err: unknown) => this.cancel(err instanceof RpcError ? err : new RpcError(StatusCode.INTERNAL, String(err))));
  }

  /** Tells the server no more requests follow. */
  halfClose(): void {
    if (!this.#stream.destroyed && !this.#stream.writableEnded) this.#stream.end();
  }

  /** Ends the call now with `reason` (RST_STREAM CANCEL to the server). */
  cancel(reason: RpcError = new RpcError(StatusCode.CANCELLED, 'Call cancelled')): void {
    if (this.#status !== undefined) return;
    this.#finish({ code: reason.code, details: reason.details, metadata: reason.trailingMetadata });
    if (!this.#stream.destroyed) {
      try {
        this.#stream.close(Http2Code.CANCEL);
      } catch {
        // the stream is already gone; the status above stands
      }
    }
  }

  // ---- inbound ----

  #onResponse(headers: IncomingHttpHeaders): void {
    const httpStatus = Number(headers[':status']);
    const grpcStatus = headers['grpc-status'];
    if (grpcStatus !== undefined) {
      // Trailers-Only (PROTOCOL-HTTP2.md): the status came with the headers.
      this.#resolveHeaders(new Metadata());
      this.#receivedStatus = statusFromHeaders(headers);
      return;
    }
    if (httpStatus !== 200) {
      // doc/http-grpc-status-mapping.md
      this.#receivedStatus = { code: statusFromHttpStatus(httpStatus), details: `Received HTTP status ${httpStatus}`, metadata: new Metadata() };
      this.#resolveHeaders(new Metadata());
      return;
    }
    const contentType = headers['content-type'];
    if (contentType === undefined || !contentType.startsWith('application/grpc')) {
      this.#receivedStatus = { code: StatusCode.UNKNOWN, details: `Received content-type "${contentType ?? ''}", not application/grpc`, metadata: new Metadata() };
    }
    const encoding = headers['grpc-encoding'];
    if (typeof encoding === 'string' && encoding !== 'identity') {
      const algorithm = compressionFromName(encoding);
      if (algorithm === undefined) {
        this.cancel(new RpcError(StatusCode.INTERNAL, `Cannot decompress response: unsupported grpc-encoding "${encoding}"`));
        return;
      }
      this.#responseCompression = algorithm;
    }
    this.#committed = true;
    this.#resolveHeaders(headersToMetadata(headers as HeaderMap));
  }

  #onTrailers(trailers: IncomingHttpHeaders): void {
    this.#receivedStatus = statusFromHeaders(trailers);
  }

  #onData(chunk: Buffer): void {
    if (this.#status !== undefined) return;
    let frames;
    try {
      frames = this.#decoder.decode(chunk);
    } catch (err) {
      this.cancel(err as RpcError);
      return;
    }
    for (const frame of frames) {
      this.#queueFlags.push(frame.compressed);
      if (!frame.compressed) {
        this.#queue.push(frame.payload);
        continue;
      }
      if (this.#responseCompression === Compression.NoCompression) {
        this.cancel(new RpcError(StatusCode.INTERNAL, 'Cannot decompress response: compressed flag set without grpc-encoding'));
        return;
      }
      // Keep order: later messages wait behind the one being inflated.
      const slot = this.#queue.length;
      this.#queue.push(EMPTY);
      this.#pendingDecompress++;
      decompress(this.#responseCompression, frame.payload, this.#options.maxReceiveMessageBytes).then(
        (bytes) => {
          this.#queue[slot] = bytes;
          this.#pendingDecompress--;
          this.#wake();
        },
        (err: RpcError) => this.cancel(err),
      );
    }
    if (this.#queue.length - this.#queueHead >= HIGH_WATER && !this.#paused) {
      this.#paused = true;
      this.#stream.pause();
    }
    this.#wake();
  }

  #onEnd(): void {
    try {
      this.#decoder.end();
    } catch (err) {
      this.cancel(err as RpcError);
    }
  }

  #onClose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#status !== undefined) return;
    if (this.#receivedStatus !== undefined) {
      this.#finish(this.#receivedStatus);
      return;
    }
    const rst = this.#stream.rstCode;
    if (rst !== undefined && rst !== Http2Code.NO_ERROR) {
      const err = statusFromRstCode(rst);
      this.#finish({ code: err.code, details: err.details, metadata: new Metadata() });
    } else {
      this.#finish({ code: StatusCode.UNAVAILABLE, details: 'Connection closed before the call received a status', metadata: new Metadata() });
    }
  }

  #finish(status: CallStatus): void {
    if (this.#status !== undefined) return;
    this.#status = status;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#resolveHeaders(new Metadata());
    const waiters = this.#doneWaiters;
    this.#doneWaiters = undefined;
    if (waiters !== undefined) for (const w of waiters) w(status);
    this.#wake();
  }

  #resolveHeaders(md: Metadata): void {
    if (this.#headers !== undefined) return;
    this.#headers = md;
    const waiters = this.#headersWaiters;
    this.#headersWaiters = undefined;
    if (waiters !== undefined) for (const w of waiters) w(md);
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }

  /** The response headers (initial metadata), once they arrive (empty for Trailers-Only). */
  initialMetadata(): Promise<Metadata> {
    if (this.#headers !== undefined) return Promise.resolve(this.#headers);
    return new Promise((resolve) => (this.#headersWaiters ??= []).push(resolve));
  }

  /** Runs `callback` once the call ends (at once if it has). */
  onDone(callback: (status: CallStatus) => void): void {
    if (this.#status !== undefined) callback(this.#status);
    else (this.#doneWaiters ??= []).push(callback);
  }

  /** The response headers if they have arrived (empty once the call ended without any). */
  get initialMetadataNow(): Metadata | undefined {
    return this.#headers;
  }

  /** The final status, once the call ends. */
  status(): Promise<CallStatus> {
    if (this.#status !== undefined) return Promise.resolve(this.#status);
    return new Promise((resolve) => (this.#doneWaiters ??= []).push(resolve));
  }

  /**
   * The next response message, or undefined at the end of an OK call.
   * @throws RpcError with the call's status when it ended otherwise
   */
  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      if (this.#queueHead < this.#queue.length && !(this.#queue[this.#queueHead] === EMPTY && this.#pendingDecompress > 0)) {
        const message = this.#queue[this.#queueHead]!;
        this.lastResponseCompressed = this.#queueFlags[this.#queueHead]!;
        this.#queue[this.#queueHead++] = EMPTY;
        if (this.#queueHead === this.#queue.length) {
          this.#queue = [];
          this.#queueFlags = [];
          this.#queueHead = 0;
        }
        if (this.#paused && this.#queue.length - this.#queueHead < HIGH_WATER / 2) {
          this.#paused = false;
          this.#stream.resume();
        }
        return message;
      }
      const status = this.#status;
      if (status !== undefined && this.#pendingDecompress === 0) {
        if (status.code === StatusCode.OK) return undefined;
        throw new RpcError(status.code, status.details, { trailingMetadata: status.metadata });
      }
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
  }

  /**
   * The single response once the call has ended OK, without waiting; undefined when a
   * compressed message is still being inflated (use {@link ClientCall.response} then).
   * @throws RpcError as {@link ClientCall.response} does
   */
  responseNow(): Uint8Array | undefined {
    const status = this.#status;
    if (status === undefined || this.#pendingDecompress > 0) return undefined;
    if (status.code !== StatusCode.OK) throw new RpcError(status.code, status.details, { trailingMetadata: status.metadata });
    const count = this.#queue.length - this.#queueHead;
    if (count !== 1) {
      throw new RpcError(StatusCode.INTERNAL, count === 0 ? 'Server sent no response message to a unary call' : 'Server sent more than one response message to a unary call', {
        trailingMetadata: status.metadata,
      });
    }
    this.lastResponseCompressed = this.#queueFlags[this.#queueHead]!;
    return this.#queue[this.#queueHead]!;
  }

  /**
   * The single response of a unary-response call.
   * @throws RpcError with the call's status, or INTERNAL when the server sent no or several messages
   */
  async response(): Promise<Uint8Array> {
    const status = await this.status();
    while (this.#pendingDecompress > 0) await new Promise<void>((resolve) => (this.#waiter = resolve));
    if (status.code !== StatusCode.OK) throw new RpcError(status.code, status.details, { trailingMetadata: status.metadata });
    const count = this.#queue.length - this.#queueHead;
    if (count !== 1) {
      throw new RpcError(StatusCode.INTERNAL, count === 0 ? 'Server sent no response message to a unary call' : 'Server sent more than one response message to a unary call', {
        trailingMetadata: status.metadata,
      });
    }
    this.lastResponseCompressed = this.#queueFlags[this.#queueHead]!;
    return this.#queue[this.#queueHead]!;
  }
}

const EMPTY = new Uint8Array(0);

function statusFromHeaders(headers: IncomingHttpHeaders): CallStatus {
  const raw = headers['grpc-status'];
  const code = parseStatusHeader(Array.isArray(raw) ? raw[0] : raw) ?? StatusCode.UNKNOWN;
  const message = headers['grpc-message'];
  const details = typeof message === 'string' ? decodeGrpcMessage(message) : raw === undefined ? 'Server sent no grpc-status' : '';
  return { code, details, metadata: headersToMetadata(headers as HeaderMap) };
}

/** An AbortError carrying an RpcError, for iterators that end by cancellation. @internal */
export function cancelledError(reason: RpcError): Error {
  return Object.assign(new AbortError(reason.message), { cause: reason }) as Error;
}
