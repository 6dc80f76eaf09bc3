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
  metadataToHeaders,
  parseStatusHeader,
  rawHeadersToMetadata,
  statusFromHttpStatus,
  statusFromNodeError,
  statusFromRstCode,
  type FrameDecoder,
  type HeaderMap,
} from '../protocol/index.js';
import type { CallStatus, ClientCallOptions, ClientCallPort } from './call-port.js';

/**
 * Bytes of received messages a call buffers before it pauses its stream; HTTP/2 flow control
 * then stops the server. A slow consumer therefore holds at most this much, plus the message
 * that crossed the mark (up to `grpc.max_receive_message_length`), a partly received message
 * and the HTTP/2 stream window: 64 KiB, as the client connection advertises no
 * SETTINGS_INITIAL_WINDOW_SIZE of its own (the receiver sets it, RFC 9113 §6.9.2). Each message
 * also counts {@link MESSAGE_OVERHEAD_BYTES}, so tiny messages cannot pile up by the thousand, and
 * a message still being inflated counts as the whole buffer, so compressed ones cannot stack up
 * behind it.
 * @internal
 */
export const RECEIVE_BUFFER_BYTES = 256 * 1024;
/** What one buffered message costs beyond its payload, for {@link RECEIVE_BUFFER_BYTES}. @internal */
export const MESSAGE_OVERHEAD_BYTES = 64;
const LOW_WATER = RECEIVE_BUFFER_BYTES / 2;

/** The raw header list of a call that ended without response headers (its metadata is empty). */
const NO_HEADERS: readonly string[] = [];

/** Where a stream's shared listeners find their call. */
const CALL = Symbol('grpc-iter.ClientCall');
type CallStream = ClientHttp2Stream & { [CALL]: ClientCall };

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
export class ClientCall implements ClientCallPort {
  readonly #stream: ClientHttp2Stream;
  readonly #options: ClientCallOptions;
  readonly #decoder: FrameDecoder;
  #responseCompression: Compression = Compression.NoCompression;
  // Received messages in order; a Promise is a compressed message being inflated.
  #queue: Array<Uint8Array | Promise<Uint8Array> | undefined> = [];
  // The response headers carried the status (Trailers-Only, an HTTP error, not gRPC): any body is not the call's.
  #bodyIgnored = false;
  #queueHead = 0;
  #queuedBytes = 0;
  #inflating = 0;
  // The status that arrived while messages were still inflating: it stands once they are done.
  #heldStatus: CallStatus | undefined;
  readonly #session: ClientHttp2Session;
  #waiter: (() => void) | undefined;
  #status: CallStatus | undefined;
  // The response headers: their raw list until someone reads them as Metadata (a unary call
  // that only wants its response never does).
  #headers: Metadata | readonly string[] | undefined;
  #headersWaiters: Array<(md: Metadata) => void> | undefined;
  #doneWaiters: Array<(status: CallStatus) => void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #receivedStatus: CallStatus | undefined;
  #paused = false;
  #committed = false;

  constructor(session: ClientHttp2Session, options: ClientCallOptions) {
    this.#options = options;
    this.#session = session;
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
    try {
      this.#stream = session.request(headers, { endStream: false });
    } catch (err) {
      // A session that closed under us, or headers node:http2 refuses: still a status error.
      throw statusFromNodeError(err);
    }
    const stream = this.#stream as CallStream;
    stream[CALL] = this;
    stream.on('response', ClientCall.#streamListeners.response);
    stream.on('trailers', ClientCall.#streamListeners.trailers);
    stream.on('data', ClientCall.#streamListeners.data);
    stream.on('end', ClientCall.#streamListeners.end);
    stream.on('close', ClientCall.#streamListeners.close);
    stream.on('error', ClientCall.#streamListeners.error);
    if (options.deadline !== Infinity) {
      const ms = options.deadline - Date.now();
      if (ms <= 0) queueMicrotask(() => this.cancel(new RpcError(StatusCode.DEADLINE_EXCEEDED, 'Deadline exceeded')));
      else if (ms < 2_147_483_647) {
        // Unref'd: the channel keeps the process alive while it has calls in flight.
        this.#timer = setTimeout(() => this.cancel(new RpcError(StatusCode.DEADLINE_EXCEEDED, 'Deadline exceeded')), ms);
        this.#timer.unref?.();
      }
    }
  }

  // One set of listeners shared by every call's stream (each finds its call on the stream), not
  // six closures per call.
  static readonly #streamListeners = {
    response(this: CallStream, headers: IncomingHttpHeaders, _flags: number, raw: string[]): void {
      this[CALL].#onResponse(headers, raw);
    },
    trailers(this: CallStream, trailers: IncomingHttpHeaders, _flags: number, raw: string[]): void {
      this[CALL].#onTrailers(trailers, raw);
    },
    data(this: CallStream, chunk: Buffer): void {
      this[CALL].#onData(chunk);
    },
    end(this: CallStream): void {
      this[CALL].#onEnd();
    },
    close(this: CallStream): void {
      this[CALL].#onClose();
    },
    error(this: CallStream, err: NodeJS.ErrnoException): void {
      // A reset stream also reports an error first; 'close' reads its rstCode and decides.
      if (err.code !== 'ERR_HTTP2_STREAM_ERROR') this[CALL].#finish(statusFromNodeError(err));
    },
  };

  /** Whether the response message taken last (by next, response or responseNow) arrived compressed. */
  lastResponseCompressed = false;

  /** Whether the call has ended. */
  get done(): boolean {
    return this.#status !== undefined;
  }

  /** The final status if the call has ended. */
  get statusNow(): CallStatus | undefined {
    return this.#status;
  }

  /** Whether response headers (not a Trailers-Only answer) arrived: the call is committed (gRFC A6). */
  get receivedHeaders(): boolean {
    return this.#committed;
  }

  /**
   * Whether the server refused the stream before processing it (gRFC A6 transparent retry):
   * RST_STREAM REFUSED_STREAM without response headers, or a GOAWAY whose last-stream-id is
   * below this stream.
   */
  refused = false;

  // ---- outbound ----

  /**
   * Sends one serialized request. A promise means: wait before writing more (compression,
   * or the stream's buffer is full). `compressible: false` sends it uncompressed even when
   * the call compresses.
   * @throws RpcError RESOURCE_EXHAUSTED over the send limit; the call ends with it and its
   *   stream is reset (CANCEL)
   */
  write(payload: Uint8Array, compressible = true): Promise<void> | undefined {
    if (this.#status !== undefined) return undefined;
    const max = this.#options.maxSendMessageBytes;
    if (max >= 0 && payload.length > max) {
      const err = new RpcError(StatusCode.RESOURCE_EXHAUSTED, `Cannot send message: ${payload.length} bytes is over the limit of ${max}`);
      this.cancel(err);
      throw err;
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
    let pending: Promise<void> | undefined;
    try {
      pending = this.write(payload, compressible);
    } catch {
      return; // the call has ended with the error (write cancels it)
    }
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

  #onResponse(headers: IncomingHttpHeaders, raw: readonly string[]): void {
    const httpStatus = Number(headers[':status']);
    const grpcStatus = headers['grpc-status'];
    if (grpcStatus !== undefined) {
      // Trailers-Only (PROTOCOL-HTTP2.md): the status came with the headers.
      this.#resolveHeaders(NO_HEADERS);
      this.#receivedStatus = statusFromHeaders(headers, raw);
      this.#bodyIgnored = true;
      return;
    }
    if (httpStatus !== 200) {
      // doc/http-grpc-status-mapping.md
      this.#receivedStatus = { code: statusFromHttpStatus(httpStatus), details: `Received HTTP status ${httpStatus}`, metadata: new Metadata() };
      this.#bodyIgnored = true;
      this.#resolveHeaders(NO_HEADERS);
      return;
    }
    const contentType = headers['content-type'];
    if (contentType === undefined || !contentType.startsWith('application/grpc')) {
      this.#receivedStatus = { code: StatusCode.UNKNOWN, details: `Received content-type "${contentType ?? ''}", not application/grpc`, metadata: new Metadata() };
      this.#bodyIgnored = true;
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
    // The raw list keeps repeated keys apart; the header object joins them with ", ".
    this.#resolveHeaders(raw);
  }

  #onTrailers(trailers: IncomingHttpHeaders, raw: readonly string[]): void {
    this.#receivedStatus = statusFromHeaders(trailers, raw);
  }

  #onData(chunk: Buffer): void {
    // A status taken from the headers already (HTTP error, wrong content-type) stands: the body
    // is not gRPC framing, e.g. a proxy's HTML error page (doc/http-grpc-status-mapping.md).
    // Trailers are another matter: they can arrive while the stream is paused with data still
    // buffered in it, which comes after them and is the call's.
    if (this.#status !== undefined || this.#bodyIgnored) return;
    let frames;
    try {
      frames = this.#decoder.decode(chunk);
    } catch (err) {
      this.cancel(err as RpcError);
      return;
    }
    for (const frame of frames) {
      if (!frame.compressed) {
        this.#queue.push(frame.payload);
        this.#queuedBytes += frame.payload.length + MESSAGE_OVERHEAD_BYTES;
        continue;
      }
      if (this.#responseCompression === Compression.NoCompression) {
        this.cancel(new RpcError(StatusCode.INTERNAL, 'Cannot decompress response: compressed flag set without grpc-encoding'));
        return;
      }
      this.#queue.push(this.#inflate(frame.payload));
    }
    if (this.#queuedBytes >= RECEIVE_BUFFER_BYTES && !this.#paused) {
      this.#paused = true;
      this.#stream.pause();
    }
    this.#wake();
  }

  /** Inflates one message in the background; its place in the queue keeps the order. */
  #inflate(payload: Uint8Array): Promise<Uint8Array> {
    // Until it is inflated its size is unknown: count it as a full buffer.
    this.#inflating++;
    this.#queuedBytes += RECEIVE_BUFFER_BYTES;
    const inflated = decompress(this.#responseCompression, payload, this.#options.maxReceiveMessageBytes);
    // This reaction runs before any reader's `await` on the same promise, so the accounting
    // and the call's status are settled by the time a reader sees the message or the error.
    inflated.then(
      (bytes) => {
        this.#inflating--;
        this.#queuedBytes += bytes.length + MESSAGE_OVERHEAD_BYTES - RECEIVE_BUFFER_BYTES;
        this.#maybeResume();
        if (this.#inflating === 0 && this.#heldStatus !== undefined) this.#finish(this.#heldStatus);
        this.#wake();
      },
      (err: unknown) => {
        this.#inflating--;
        this.#heldStatus = undefined;
        // Corrupt data is INTERNAL, over the receive limit once inflated RESOURCE_EXHAUSTED.
        this.cancel(err instanceof RpcError ? err : new RpcError(StatusCode.INTERNAL, 'Cannot decompress response', { cause: err }));
        this.#wake();
      },
    );
    return inflated;
  }

  #maybeResume(): void {
    if (this.#paused && this.#queuedBytes < LOW_WATER) {
      this.#paused = false;
      this.#stream.resume();
    }
  }

  #onEnd(): void {
    try {
      this.#decoder.end();
    } catch (err) {
      this.cancel(err as RpcError);
      return;
    }
    const stream = this.#stream;
    if (stream.rstCode !== undefined && !stream.destroyed) {
      // The stream is closed on the wire, but node:http2 holds 'close' back while request bytes
      // wait for a window that will never open (a reset before the server read them): settle
      // now and drop them.
      this.#onClose();
      if (stream.writableLength > 0) stream.destroy();
    }
  }

  #onClose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#status !== undefined) return;
    let status = this.#receivedStatus;
    if (status === undefined) {
      const rst = this.#stream.rstCode;
      if (rst === undefined || (this.#session.destroyed && rst !== Http2Code.REFUSED_STREAM)) {
        // The connection went away mid-call (node:http2 then closes its streams with CANCEL):
        // the peer is gone, which is UNAVAILABLE and retryable (doc/statuscodes.md), not CANCELLED.
        status = { code: StatusCode.UNAVAILABLE, details: 'Connection closed before the call received a status', metadata: new Metadata() };
      } else if (rst === Http2Code.NO_ERROR) {
        // PROTOCOL-HTTP2.md, Errors: RST_STREAM NO_ERROR (or an end) before the trailers is INTERNAL.
        status = { code: StatusCode.INTERNAL, details: 'Stream ended without a status (RST_STREAM NO_ERROR or no trailers)', metadata: new Metadata() };
      } else {
        const err = statusFromRstCode(rst);
        if (rst === Http2Code.REFUSED_STREAM && !this.#committed) this.refused = true;
        status = { code: err.code, details: err.details, metadata: new Metadata() };
      }
    }
    // Messages still inflating come first; the status stands once they are done.
    if (this.#inflating > 0) this.#heldStatus = status;
    else this.#finish(status);
  }

  #finish(status: CallStatus): void {
    if (this.#status !== undefined) return;
    this.#status = status;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#headers === undefined) this.#resolveHeaders(NO_HEADERS);
    const waiters = this.#doneWaiters;
    this.#doneWaiters = undefined;
    if (waiters !== undefined) for (const w of waiters) w(status);
    this.#wake();
  }

  #resolveHeaders(raw: readonly string[]): void {
    if (this.#headers !== undefined) return;
    this.#headers = raw;
    const waiters = this.#headersWaiters;
    this.#headersWaiters = undefined;
    if (waiters !== undefined) {
      const md = this.#headerMetadata();
      for (const w of waiters) w(md);
    }
  }

  /** The response headers as Metadata, built once on first use; only once they have arrived. */
  #headerMetadata(): Metadata {
    const h = this.#headers!;
    if (h instanceof Metadata) return h;
    const md = rawHeadersToMetadata(h);
    this.#headers = md;
    return md;
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }

  /** The response headers (initial metadata), once they arrive (empty for Trailers-Only). */
  initialMetadata(): Promise<Metadata> {
    if (this.#headers !== undefined) return Promise.resolve(this.#headerMetadata());
    return new Promise((resolve) => (this.#headersWaiters ??= []).push(resolve));
  }

  /** Runs `callback` once the call ends (at once if it has). */
  onDone(callback: (status: CallStatus) => void): void {
    if (this.#status !== undefined) callback(this.#status);
    else (this.#doneWaiters ??= []).push(callback);
  }

  /** The response headers if they have arrived (empty once the call ended without any). */
  get initialMetadataNow(): Metadata | undefined {
    return this.#headers === undefined ? undefined : this.#headerMetadata();
  }

  /** The final status, once the call ends. */
  status(): Promise<CallStatus> {
    if (this.#status !== undefined) return Promise.resolve(this.#status);
    return new Promise((resolve) => (this.#doneWaiters ??= []).push(resolve));
  }

  #statusError(status: CallStatus): RpcError {
    return new RpcError(status.code, status.details, { trailingMetadata: status.metadata });
  }

  /** Takes the head of the queue, once it is known to hold a message. */
  #take(size: number): void {
    this.#queue[this.#queueHead++] = undefined;
    this.#queuedBytes -= size + MESSAGE_OVERHEAD_BYTES;
    if (this.#queueHead === this.#queue.length) {
      this.#queue.length = 0;
      this.#queueHead = 0;
    } else if (this.#queueHead >= 64 && this.#queueHead * 2 >= this.#queue.length) {
      this.#queue.splice(0, this.#queueHead);
      this.#queueHead = 0;
    }
    this.#maybeResume();
  }

  /**
   * The next response message when one is queued and not being inflated, taken without
   * waiting; undefined otherwise (then {@link ClientCall.next} waits for it, or for the end).
   */
  nextNow(): Uint8Array | undefined {
    if (this.#queueHead === this.#queue.length) return undefined;
    const head = this.#queue[this.#queueHead]!;
    if (!(head instanceof Uint8Array)) return undefined;
    this.lastResponseCompressed = false;
    this.#take(head.length);
    return head;
  }

  /**
   * The next response message, or undefined at the end of an OK call.
   * @throws RpcError with the call's status when it ended otherwise
   */
  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      if (this.#queueHead < this.#queue.length) {
        const now = this.nextNow();
        if (now !== undefined) return now;
        const head = this.#queue[this.#queueHead]!;
        let message: Uint8Array;
        try {
          message = await head;
        } catch {
          // The inflation failure ended the call (see #inflate) before this line runs.
          throw this.#statusError(this.#status!);
        }
        this.lastResponseCompressed = true;
        this.#take(message.length);
        return message;
      }
      const status = this.#status;
      if (status !== undefined) {
        if (status.code === StatusCode.OK) return undefined;
        throw this.#statusError(status);
      }
      // Reads started together all wait; each wakes in the order it came and takes one message.
      await new Promise<void>((resolve) => {
        const before = this.#waiter;
        this.#waiter =
          before === undefined
            ? resolve
            : () => {
                before();
                resolve();
              };
      });
    }
  }

  /** The single message of an OK unary response, or the error to throw instead. */
  #single(status: CallStatus): Uint8Array | Promise<Uint8Array> {
    if (status.code !== StatusCode.OK) throw this.#statusError(status);
    const count = this.#queue.length - this.#queueHead;
    if (count !== 1) {
      throw new RpcError(StatusCode.INTERNAL, count === 0 ? 'Server sent no response message to a unary call' : 'Server sent more than one response message to a unary call', {
        trailingMetadata: status.metadata,
      });
    }
    const head = this.#queue[this.#queueHead]!;
    this.lastResponseCompressed = !(head instanceof Uint8Array);
    return head;
  }

  /**
   * The single response once the call has ended OK, without waiting; undefined when a
   * compressed message is still being inflated (use {@link ClientCall.response} then).
   * @throws RpcError as {@link ClientCall.response} does
   */
  responseNow(): Uint8Array | undefined {
    const status = this.#status;
    if (status === undefined) return undefined;
    const message = this.#single(status);
    return message instanceof Uint8Array ? message : undefined;
  }

  /**
   * The single response of a unary-response call.
   * @throws RpcError with the call's status, or INTERNAL when the server sent no or several messages
   */
  async response(): Promise<Uint8Array> {
    // A held status waits for every inflation, so at this point each message is settled.
    return this.#single(await this.status());
  }
}

function statusFromHeaders(headers: IncomingHttpHeaders, rawList: readonly string[]): CallStatus {
  const raw = headers['grpc-status'];
  const code = parseStatusHeader(Array.isArray(raw) ? raw[0] : raw) ?? StatusCode.UNKNOWN;
  const message = headers['grpc-message'];
  const details = typeof message === 'string' ? decodeGrpcMessage(message) : raw === undefined ? 'Server sent no grpc-status' : '';
  return { code, details, metadata: rawHeadersToMetadata(rawList) };
}

/** An AbortError carrying an RpcError, for iterators that end by cancellation. @internal */
export function cancelledError(reason: RpcError): Error {
  return Object.assign(new AbortError(reason.message), { cause: reason }) as Error;
}
