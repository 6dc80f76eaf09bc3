import type { IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import {
  ACCEPT_ENCODING,
  Compression,
  FRAME_HEADER_BYTES,
  RpcError,
  StatusCode,
  compress,
  compressionName,
  createFrameDecoder,
  decompress,
  encodeFrame,
  encodeFrameInto,
  encodeGrpcMessage,
  isReservedHeader,
  rawHeadersToMetadata,
  metadataToHeaders,
  statusFromRstCode,
  type Frame,
  type FrameDecoder,
  type HeaderMap,
  type Metadata,
} from '../protocol/index.js';
import type { PeerInfo, ServerCallLimits, ServerCallPort } from './call-port.js';
import { guard, halfCloseReset, readUnaryRequest } from './http2-requests.js';
import { localAuthorityOf, peerOfSession } from './http2-peer.js';
import { CANCELLED, FINISHED, HEADERS_SENT, OPEN, ServerCallState, checkSendSize } from './server-call-state.js';

const EMPTY: Frame[] = [];

// Set by Http2ServerCall's static block: how a RequestReader reaches the call's private steps.
let pullRequests: (call: Http2ServerCall, reader: RequestReader) => void;
let readerFailed: (call: Http2ServerCall, err: unknown) => void;

/** Where a stream's shared listeners find their call (see Http2ServerCall.#streamListeners). */
const CALL = Symbol('grpc-iter.Http2ServerCall');
type CallStream = ServerHttp2Stream & { [CALL]: Http2ServerCall };

// node:http2 copies header objects before use, so these are shared by every call. gRPC has no
// use for the Date header node adds by default.
const RESPONSE_HEADERS: HeaderMap = Object.freeze({
  ':status': 200,
  'content-type': 'application/grpc',
  'grpc-accept-encoding': ACCEPT_ENCODING,
}) as HeaderMap;
const OK_TRAILERS: HeaderMap = Object.freeze({ 'grpc-status': '0' }) as HeaderMap;
const WITH_TRAILERS = Object.freeze({ waitForTrailers: true, sendDate: false });
const END_STREAM = Object.freeze({ endStream: true, sendDate: false });

/**
 * Most bytes of response frames gathered into one write: the HTTP/2 default SETTINGS_MAX_FRAME_SIZE
 * (RFC 9113 §6.5.2), so a batch fills about one DATA frame.
 */
const COALESCE_BYTES = 16 * 1024;

/**
 * Bytes written to a stream and not yet taken by nghttp2 past which a batching handler waits for
 * 'drain'. Above node's 16 KiB high-water mark, so a fast generator waits once every few batches,
 * not after each; a stream holds at most this plus one batch.
 */
const QUEUED_BYTES = 64 * 1024;

/**
 * The server call port over one `node:http2` stream: request messages in (pulled, so flow
 * control pushes back), response messages out, the status in trailers (or Trailers-Only), and
 * the stream's reset or close as the call's cancellation. Admission (http2-admission.ts) made it.
 * @internal
 */
export class Http2ServerCall extends ServerCallState implements ServerCallPort {
  readonly stream: ServerHttp2Stream;
  readonly path: string;

  readonly #session: ServerHttp2Session;
  readonly #limits: ServerCallLimits;
  #metadata: Metadata | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  #trailers: HeaderMap | undefined;
  #readStarted = false;
  #unaryReject: ((err: unknown) => void) | undefined;
  /**
   * Response frames not yet written: the first message of a turn as its own frame, then, once a
   * second joins it, a {@link COALESCE_BYTES} buffer filled up to #pendingLength. Written when full,
   * before the status or a compressed frame, and at the end of the turn (#flushLater).
   */
  #pending: Buffer | undefined;
  #pendingLength = 0;
  #flushQueued = false;
  /** Resolvers of whatever waits on the stream to drain; a cancel wakes them all. */
  #waiters: Array<() => void> | (() => void) | undefined;
  /** The request reader while it waits for data (#pull); 'readable', 'end' or a cancel wake it. */
  #reader: RequestReader | undefined;

  // Only what later steps read is kept of the request headers (memory per idle stream counts).
  readonly #rawHeaders: readonly string[];
  readonly #authority: string | undefined;

  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: readonly string[], limits: ServerCallLimits) {
    super();
    this.stream = stream;
    this.#session = stream.session as ServerHttp2Session;
    this.path = headers[':path'] ?? '';
    this.#authority = headers[':authority'];
    this.acceptEncoding = headerString(headers['grpc-accept-encoding']);
    // node:http2 joins repeated headers with ", " in `headers`; the raw list keeps them apart.
    this.#rawHeaders = metadataEntries(rawHeaders);
    this.#limits = limits;
    (stream as CallStream)[CALL] = this;
    stream.on('close', Http2ServerCall.#streamListeners.close);
    stream.on('error', noop); // reported through 'close' and rstCode
  }

  // One set of listeners shared by every call's stream (each finds its call on the stream), not
  // closures per call: an idle stream holds less.
  static readonly #streamListeners = {
    close(this: CallStream): void {
      this[CALL].#onClose();
    },
    wantTrailers(this: CallStream): void {
      this[CALL].#sendTrailers();
    },
    readable(this: CallStream): void {
      this[CALL].#wakeReader();
    },
  };

  get metadata(): Metadata {
    return (this.#metadata ??= rawHeadersToMetadata(this.#rawHeaders));
  }

  /** The request's `:authority` (PROTOCOL-HTTP2.md, Requests), else the local address the connection arrived on. */
  get authority(): string | undefined {
    return this.#authority !== undefined && this.#authority !== '' ? this.#authority : localAuthorityOf(this.#session);
  }

  peerInfo(): PeerInfo {
    return peerOfSession(this.#session);
  }

  /**
   * The status is queued behind the response bytes already written (so it does not depend on
   * how full the send buffer is); if it has not left within {@link STATUS_FLUSH_MS}, because the
   * client does not read, the stream is reset.
   */
  cancel(reason: RpcError, sendStatus: boolean): void {
    if (this.state >= FINISHED) return;
    const stream = this.stream;
    if (sendStatus && !stream.destroyed && !stream.closed) {
      this.#sendStatus(reason.code, reason.details, undefined);
      this.markCancelled(reason);
      if (!stream.closed) {
        // RFC 9113 §8.1: once the whole response is out, RST_STREAM(NO_ERROR) only stops a
        // client that is still sending; before that, CANCEL tells it the status is lost.
        this.#flushTimer = setTimeout(() => guard(() => stream.close(stream.state.localClose === 1 ? 0x0 : 0x8)), STATUS_FLUSH_MS);
        this.#flushTimer.unref?.();
      }
      return;
    }
    if (!stream.destroyed) {
      // node:http2 resets the stream once what was written has left: messages sent before the
      // cancel reach the client, batched or not.
      this.#flush();
      guard(() => stream.close(0x8 /* CANCEL */));
    }
    this.markCancelled(reason);
  }

  protected onCancel(reason: RpcError): void {
    this.#pending = undefined; // flushed first by a status or a server reset; dropped after a client's
    this.#wakeReader();
    this.#wake();
    this.#unaryReject?.(reason);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = undefined;
    if (typeof waiters === 'function') waiters();
    else if (waiters !== undefined) for (const resolve of waiters) resolve();
  }

  #wakeReader(): void {
    const reader = this.#reader;
    if (reader === undefined) return;
    this.#reader = undefined;
    const stream = this.stream;
    stream.off('readable', Http2ServerCall.#streamListeners.readable);
    stream.off('end', Http2ServerCall.#streamListeners.readable);
    // On a later microtask, as an awaited promise would resume it: a close wakes the reader
    // before it marks the call cancelled.
    queueMicrotask(() => this.#pull(reader));
  }

  /** Waits for any of the stream's `events`, or for the call to be cancelled. */
  #waitFor(events: readonly string[]): Promise<void> {
    const stream = this.stream;
    return new Promise((resolve) => {
      const done = (): void => {
        for (const e of events) stream.off(e, done);
        const waiters = this.#waiters;
        if (waiters === done) this.#waiters = undefined;
        else if (Array.isArray(waiters)) {
          const i = waiters.indexOf(done);
          if (i >= 0) waiters.splice(i, 1);
        }
        resolve();
      };
      for (const e of events) stream.on(e, done);
      const waiters = this.#waiters;
      this.#waiters = waiters === undefined ? done : Array.isArray(waiters) ? [...waiters, done] : [waiters, done];
    });
  }

  #onClose(): void {
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    this.#pending = undefined;
    this.clearDeadline();
    this.#wakeReader();
    this.#wake();
    // Closed before we sent a status: the client reset the stream or the connection died.
    if (this.state < FINISHED) this.markCancelled(this.#resetReason());
    this.runDone();
  }

  /** Why the call ends when the client resets the stream or the connection is lost. */
  #resetReason(): RpcError {
    const code = this.stream.rstCode;
    const reason = code === undefined || code === 0 ? new RpcError(StatusCode.CANCELLED, 'Call cancelled: connection closed') : statusFromRstCode(code);
    return reason.code === StatusCode.CANCELLED ? reason : new RpcError(StatusCode.CANCELLED, `Call cancelled: ${reason.details}`);
  }

  // ---- inbound ----

  readUnary(): Promise<Uint8Array> {
    this.#readStarted = true;
    return readUnaryRequest(this.stream, this.#limits.maxReceiveMessageBytes, (reject) => (this.#unaryReject = reject)).then((frame) => {
      this.lastMessageCompressed = frame.compressed;
      return frame.compressed ? this.#decompress(frame.payload) : frame.payload;
    });
  }

  /**
   * Read in paused mode, one chunk per pull, so a handler that does not read leaves the bytes in
   * the HTTP/2 window. A node:http2 client's cancel arrives as END_STREAM and then RST_STREAM
   * (see halfCloseReset): the end is confirmed before the iterator ends. The iterator behaves as
   * an async generator would (see RequestReader).
   */
  requests<T>(decode: (bytes: Uint8Array) => T): AsyncIterableIterator<T, void, undefined> {
    return new RequestReader(this, decode) as AsyncIterableIterator<T, void, undefined>;
  }

  /**
   * Runs `reader` (the head of its queue is being answered) until it has a message, the end, an
   * error, or has to wait for the stream: then it is woken by 'readable', 'end' or the call's end.
   */
  #pull(reader: RequestReader): void {
    this.#readStarted = true;
    const stream = this.stream;
    for (;;) {
      const frames = reader.frames;
      if (reader.index < frames.length) {
        const frame = frames[reader.index++]!;
        this.lastMessageCompressed = frame.compressed;
        if (!frame.compressed) return reader.yield(frame.payload);
        this.#decompress(frame.payload).then(
          (bytes) => reader.yield(bytes),
          (err: unknown) => reader.fail(err),
        );
        return;
      }
      // Let go of the chunk the messages were sliced from: an idle stream keeps none.
      reader.frames = EMPTY;
      if (this.state === CANCELLED) return reader.fail(this.abortError());
      let chunk: Buffer | null;
      try {
        chunk = stream.read() as Buffer | null;
      } catch (err) {
        // Where a throw would not reach the waiting next() (this runs from a microtask too).
        return reader.fail(err);
      }
      if (chunk !== null) {
        const decoder = (reader.decoder ??= createFrameDecoder({ maxMessageBytes: this.#limits.maxReceiveMessageBytes }));
        try {
          reader.frames = decoder.decode(chunk);
        } catch (err) {
          return reader.fail(err);
        }
        // A chunk of whole messages (the common case) leaves nothing to carry over: an idle stream keeps no decoder.
        if (decoder.idle) reader.decoder = undefined;
        reader.index = 0;
        continue;
      }
      if (stream.readableEnded) {
        if (this.state >= FINISHED) return this.#endRequests(reader);
        halfCloseReset(stream).then((reset) => {
          if (reset && this.state < FINISHED) this.markCancelled(this.#resetReason());
          this.#endRequests(reader);
        });
        return;
      }
      this.#reader = reader;
      stream.on('readable', Http2ServerCall.#streamListeners.readable);
      stream.on('end', Http2ServerCall.#streamListeners.readable);
      return;
    }
  }

  /** The request stream has ended: the reader is done, unless the call was cancelled or a message cut short. */
  #endRequests(reader: RequestReader): void {
    if (this.state === CANCELLED) return reader.fail(this.abortError());
    try {
      reader.decoder?.end();
    } catch (err) {
      return reader.fail(err);
    }
    reader.finish();
  }

  /** A reader's error: a bad request message (an RpcError) ends the call with its status. */
  #readerFailed(err: unknown): void {
    if (err instanceof RpcError && this.state < FINISHED) this.cancel(err, true);
  }

  // RequestReader's way in to #pull and #readerFailed, which stay private to the call.
  static {
    pullRequests = (call, reader) => call.#pull(reader);
    readerFailed = (call, err) => call.#readerFailed(err);
  }

  async #decompress(payload: Uint8Array): Promise<Uint8Array> {
    if (this.requestCompression === Compression.NoCompression) {
      throw new RpcError(StatusCode.INTERNAL, 'Cannot decompress request: compressed flag set without grpc-encoding');
    }
    return decompress(this.requestCompression, payload, this.#limits.maxReceiveMessageBytes);
  }

  // ---- outbound ----

  #responseHeaders(metadata: Metadata | undefined): HeaderMap {
    const plain = this.responseCompression === Compression.NoCompression;
    if (plain && (metadata === undefined || metadata.size === 0)) return RESPONSE_HEADERS;
    const headers: HeaderMap = { ...RESPONSE_HEADERS };
    if (!plain) headers['grpc-encoding'] = compressionName(this.responseCompression);
    if (metadata !== undefined) metadataToHeaders(metadata, headers);
    return headers;
  }

  sendHeaders(metadata?: Metadata): void {
    if (this.state !== OPEN) return;
    this.state = HEADERS_SENT;
    this.headersSent = true;
    if (this.stream.destroyed || this.stream.closed) return;
    // node:http2 asks for trailers once per stream.
    this.stream.on('wantTrailers', Http2ServerCall.#streamListeners.wantTrailers);
    guard(() => this.stream.respond(this.#responseHeaders(metadata), WITH_TRAILERS));
  }

  send(payload: Uint8Array, compress: boolean): Promise<void> | undefined {
    if (this.state >= FINISHED) return undefined;
    checkSendSize(payload, this.#limits.maxSendMessageBytes);
    if (this.state === OPEN) this.sendHeaders();
    if (compress && this.responseCompression !== Compression.NoCompression) {
      return this.#compressed(payload).then((frame) => this.#writeFrame(frame));
    }
    return this.#queueFrame(payload);
  }

  /**
   * Adds an uncompressed message to the frames written together at the end of this turn: a
   * generator that yields many messages without waiting costs one stream write per batch, not
   * one per message. A lone message is not held up: node:http2 hands data to nghttp2
   * from setImmediate, and the batch is written from process.nextTick, before that. The payload
   * is copied now, so a serializer may reuse its buffer.
   */
  #queueFrame(payload: Uint8Array): Promise<void> | undefined {
    const stream = this.stream;
    if (stream.destroyed) return undefined;
    const size = FRAME_HEADER_BYTES + payload.length;
    if (size > COALESCE_BYTES - this.#pendingLength) {
      this.#flush();
      // Too big to share a batch: its own frame, as before coalescing.
      if (size > COALESCE_BYTES) return this.#writeFrame(encodeFrame(payload, false));
    }
    const pending = this.#pending;
    if (pending === undefined) {
      this.#pending = encodeFrame(payload, false);
      this.#pendingLength = size;
    } else {
      let batch = pending;
      // A lone frame is never COALESCE_BYTES long here: one that long leaves no room, so it was flushed.
      if (pending.length !== COALESCE_BYTES) {
        // A second message this turn: from here on the frames share one buffer.
        batch = Buffer.allocUnsafeSlow(COALESCE_BYTES);
        pending.copy(batch, 0, 0, this.#pendingLength);
        this.#pending = batch;
      }
      this.#pendingLength = encodeFrameInto(batch, this.#pendingLength, payload, false);
    }
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      process.nextTick(Http2ServerCall.#flushLater, this); // one function for all: no closure per turn
    }
    // Past node's high-water mark a write asked for 'drain' (writableNeedDrain), so it will come.
    return stream.writableLength >= QUEUED_BYTES && stream.writableNeedDrain ? this.#waitFor(DRAIN_EVENTS) : undefined;
  }

  /** Writes the frames gathered so far (see #queueFrame). */
  #flush(): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    const length = this.#pendingLength;
    this.#pending = undefined;
    this.#pendingLength = 0;
    if (this.stream.destroyed) return;
    this.stream.write(length === pending.length ? pending : pending.subarray(0, length));
  }

  /** The end-of-turn write of #queueFrame. */
  static #flushLater(call: Http2ServerCall): void {
    call.#flushQueued = false;
    call.#flush();
  }

  #compressed(payload: Uint8Array): Promise<Buffer> {
    return compress(this.responseCompression, payload).then((bytes) => encodeFrame(bytes, true));
  }

  #writeFrame(frame: Buffer): Promise<void> | undefined {
    if (this.state >= FINISHED || this.stream.destroyed) return undefined;
    this.#flush(); // messages queued before this one leave first
    if (this.stream.write(frame)) return undefined;
    return this.#waitFor(DRAIN_EVENTS);
  }

  finish(code: StatusCode, details: string, trailers?: Metadata): void {
    if (this.state >= FINISHED) return;
    this.#sendStatus(code, details, trailers);
  }

  /** Headers (if not sent), the message and the status leave in one go. */
  sendUnary(payload: Uint8Array, compress: boolean, trailers: Metadata | undefined, details: string): Promise<void> | undefined {
    if (this.state >= FINISHED) return undefined;
    checkSendSize(payload, this.#limits.maxSendMessageBytes);
    this.sendHeaders();
    if (compress && this.responseCompression !== Compression.NoCompression) {
      return this.#compressed(payload).then((frame) => {
        if (this.state < FINISHED) this.#sendStatus(StatusCode.OK, details, trailers, frame);
      });
    }
    this.#sendStatus(StatusCode.OK, details, trailers, encodeFrame(payload, false));
    return undefined;
  }

  #sendStatus(code: StatusCode, details: string, trailers: Metadata | undefined, lastMessage?: Buffer): void {
    const headersSent = this.state === HEADERS_SENT;
    this.markFinished(code, details);
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    let status: HeaderMap;
    if (code === StatusCode.OK && details === '' && (trailers === undefined || trailers.size === 0)) {
      status = OK_TRAILERS;
    } else {
      status = { 'grpc-status': String(code) };
      if (details !== '') status['grpc-message'] = encodeGrpcMessage(details);
      if (trailers !== undefined) metadataToHeaders(trailers, status);
    }
    if (!headersSent) {
      // Trailers-Only (PROTOCOL-HTTP2.md, Responses): status and trailers in the single HEADERS
      // frame, with END_STREAM.
      guard(() => stream.respond({ ...RESPONSE_HEADERS, ...status }, END_STREAM));
    } else {
      this.#trailers = status;
      this.#flush(); // the status follows every message sent
      if (lastMessage !== undefined) guard(() => stream.end(lastMessage));
      else guard(() => stream.end());
    }
    // A handler may answer before reading every request: the rest is discarded, not reset.
    if (!stream.readableEnded) {
      if (this.#readStarted) stream.removeAllListeners('data');
      stream.resume();
    }
  }

  #sendTrailers(): void {
    const trailers = this.#trailers ?? OK_TRAILERS;
    this.#trailers = undefined;
    if (!this.stream.destroyed) guard(() => this.stream.sendTrailers(trailers));
  }

  /** Answers a request that is not gRPC at all with a bare HTTP status (no handler runs). */
  rejectHttp(httpStatus: number): void {
    this.markFinished(StatusCode.UNKNOWN, `HTTP ${httpStatus}`);
    if (this.stream.destroyed) return;
    guard(() => this.stream.respond({ ':status': httpStatus }, END_STREAM));
    this.stream.resume();
  }
}

function noop(): void {}

const NEW = 0;
const STARTED = 1;
const DONE = 2;

const NEXT = 0;
const RETURN = 1;
const THROW = 2;
type RequestKind = typeof NEXT | typeof RETURN | typeof THROW;
type Result = IteratorResult<unknown, void>;

/** A next(), return() or throw() made while another is being answered. */
interface QueuedRequest {
  readonly kind: RequestKind;
  readonly value: unknown;
  readonly resolve: (result: Result | Promise<never>) => void;
}

/**
 * The request iterator of an Http2ServerCall, written out rather than as an `async function*`:
 * an idle stream's reader is this one object and the resolvers of the next() it answers, not a
 * suspended generator with its frame and request records. It keeps a generator's contract: it
 * starts reading at the first next(); calls made while one is answered wait their turn and settle
 * in order; return() and throw() end it (throw() with a bad request status ends the call too, as
 * the generator's catch did); an error is thrown once, then it is done. The reading itself is the
 * call's (#pull), which answers through yield, fail and finish.
 */
class RequestReader implements AsyncIterableIterator<unknown, void, undefined> {
  /** The messages decoded from the last chunk read, from `index` on still to give out. */
  frames: Frame[] = EMPTY;
  index = 0;
  /** Made for a chunk, kept only while a message spans chunks: idle streams hold none. */
  decoder: FrameDecoder | undefined;

  readonly #call: Http2ServerCall;
  readonly #decode: (bytes: Uint8Array) => unknown;
  /** NEW until the first next(), then STARTED, DONE once ended (one field, not two flags). */
  #phase: typeof NEW | typeof STARTED | typeof DONE = NEW;
  /**
   * How the request being answered settles, set while one is: its resolver only (an error
   * settles it as a rejected promise), so a waiting reader holds one function, not two.
   */
  #resolve: ((result: Result | Promise<never>) => void) | undefined;
  #queue: QueuedRequest[] | undefined;

  constructor(call: Http2ServerCall, decode: (bytes: Uint8Array) => unknown) {
    this.#call = call;
    this.#decode = decode;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<Result> {
    return this.#request(NEXT, undefined);
  }

  return(value?: unknown): Promise<Result> {
    return this.#request(RETURN, value);
  }

  throw(err?: unknown): Promise<Result> {
    return this.#request(THROW, err);
  }

  #request(kind: RequestKind, value: unknown): Promise<Result> {
    return new Promise<Result>((resolve) => {
      if (this.#resolve !== undefined) {
        (this.#queue ??= []).push({ kind, value, resolve });
        return;
      }
      this.#resolve = resolve;
      this.#run(kind, value);
    });
  }

  #run(kind: RequestKind, value: unknown): void {
    if (kind === NEXT) {
      if (this.#phase === DONE) return this.#settle({ value: undefined, done: true });
      this.#phase = STARTED;
      return pullRequests(this.#call, this);
    }
    const suspended = this.#phase === STARTED;
    this.#end();
    if (kind === THROW) {
      // Thrown in where the generator was suspended, it met the generator's catch.
      if (suspended) readerFailed(this.#call, value);
      return this.#error(value);
    }
    // A generator awaits the value it returns; one that rejects is thrown in at the yield.
    Promise.resolve(value).then(
      (v) => this.#settle({ value: v as void, done: true }),
      (err: unknown) => {
        if (suspended) readerFailed(this.#call, err);
        this.#error(err);
      },
    );
  }

  /** Answers the request being served with the next message. @internal */
  yield(bytes: Uint8Array): void {
    let value: unknown;
    try {
      value = this.#decode(bytes);
    } catch (err) {
      return this.fail(err);
    }
    this.#settle({ value, done: false });
  }

  /** Ends the iterator with `err` (a bad request message's status ends the call first). @internal */
  fail(err: unknown): void {
    this.#end();
    readerFailed(this.#call, err);
    this.#error(err);
  }

  /** Ends the iterator: the client sent all its messages. @internal */
  finish(): void {
    this.#end();
    this.#settle({ value: undefined, done: true });
  }

  #end(): void {
    this.#phase = DONE;
    this.frames = EMPTY;
    this.decoder = undefined;
  }

  #settle(result: Result | Promise<never>): void {
    const resolve = this.#resolve!;
    this.#resolve = undefined;
    resolve(result);
    this.#serveQueued();
  }

  #error(err: unknown): void {
    this.#settle(Promise.reject(err));
  }

  #serveQueued(): void {
    const queue = this.#queue;
    if (queue === undefined) return;
    const next = queue.shift()!;
    if (queue.length === 0) this.#queue = undefined;
    this.#resolve = next.resolve;
    this.#run(next.kind, next.value);
  }
}

const NO_ENTRIES: readonly string[] = Object.freeze([]);

/**
 * The name/value pairs of `rawHeaders` that can be metadata (not reserved): a call keeps these
 * until someone reads its metadata, and most calls have none, so they share one empty list.
 */
function metadataEntries(rawHeaders: readonly string[]): readonly string[] {
  let kept: string[] | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const key = rawHeaders[i]!;
    if (isReservedHeader(key)) continue;
    (kept ??= []).push(key, rawHeaders[i + 1]!);
  }
  return kept ?? NO_ENTRIES;
}

/** A header that may have arrived more than once, joined as HTTP joins lists. @internal */
export function headerString(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

const DRAIN_EVENTS = ['drain', 'close'] as const;

/**
 * How long a status queued behind response bytes may take to leave before the stream is
 * reset: after a deadline, a bad request message on a busy stream, or `stop(grace)` running
 * out (the server closes its connections this long after the grace). @internal
 */
export const STATUS_FLUSH_MS = 500;
