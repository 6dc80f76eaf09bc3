import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { AbortError } from 'abort-controller-x';
import {
  ACCEPT_ENCODING,
  Compression,
  RpcError,
  StatusCode,
  compress,
  compressionFromName,
  compressionName,
  createFrameDecoder,
  FRAME_HEADER_BYTES,
  decompress,
  encodeFrame,
  encodeGrpcMessage,
  headersToMetadata,
  rawHeadersToMetadata,
  metadataToHeaders,
  statusFromRstCode,
  type Frame,
  type FrameDecoder,
  type HeaderMap,
  type Metadata,
} from '../protocol/index.js';

/** The final status of a call. @internal */
export interface ServerCallStatus {
  /** The status code. */
  readonly code: StatusCode;
  /** The status message. */
  readonly details: string;
}

/** Per-call limits, from the server's options. @internal */
export interface ServerCallLimits {
  /** Largest request message in bytes; negative: no limit. */
  readonly maxReceiveMessageBytes: number;
  /** Largest response message in bytes; negative: no limit. */
  readonly maxSendMessageBytes: number;
}

/*
 * Life of a server call, as seen from the HTTP/2 stream:
 *
 *   OPEN ──sendHeaders──► HEADERS_SENT ──finish──► FINISHED (trailers queued)
 *     │                        │                       │
 *     └──────finish────────────┴──► FINISHED           └──stream 'close'──► CLOSED
 *     (Trailers-Only)
 *
 *   Any state before FINISHED ──stream reset / connection lost / deadline / cancel──► CANCELLED
 *
 * The call's signal aborts only on the CANCELLED transition (an abnormal end). `finish` after
 * a cancel is ignored.
 */
const OPEN = 0;
const HEADERS_SENT = 1;
const FINISHED = 2;
const CANCELLED = 3;

const EMPTY: Frame[] = [];

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
 * Adapts one `node:http2` server stream into a gRPC call: request messages in, response
 * messages out, status at the end, and one AbortSignal for abnormal ends.
 * @internal
 */
export class ServerCall {
  readonly stream: ServerHttp2Stream;
  readonly path: string;
  /** Milliseconds since the epoch when the call's deadline passes, or Infinity. */
  deadline = Infinity;
  /** Whether the last request message read had its compressed flag set. */
  lastMessageCompressed = false;

  #state = OPEN;
  #limits: ServerCallLimits;
  #metadata: Metadata | undefined;
  #controller: AbortController | undefined;
  #abortReason: RpcError | undefined;
  #timer: NodeJS.Timeout | undefined;
  #requestCompression: Compression = Compression.NoCompression;
  #responseCompression: Compression = Compression.NoCompression;
  #responseCompressionSent = false;
  #doneCallbacks: Array<(cancelled: boolean) => void> | undefined;
  #trailers: HeaderMap | undefined;
  #status: ServerCallStatus | undefined;
  #readStarted = false;
  #unaryReject: ((err: unknown) => void) | undefined;
  /** Resolvers of whatever waits on the stream (readable, drain); a cancel wakes them all. */
  #waiters: Array<() => void> | (() => void) | undefined;
  /** The server's set of calls in flight; the call removes itself when it ends. */
  registry: Set<ServerCall> | undefined;

  // Only what later steps read is kept of the request headers (memory per idle stream counts).
  readonly #rawHeaders: readonly string[] | undefined;
  readonly #encoding: string | undefined;
  readonly #acceptEncoding: string | undefined;

  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, limits: ServerCallLimits, rawHeaders?: readonly string[]) {
    this.stream = stream;
    this.path = headers[':path'] ?? '';
    this.#encoding = headerString(headers['grpc-encoding']);
    this.#acceptEncoding = headerString(headers['grpc-accept-encoding']);
    // node:http2 joins repeated headers with ", " in `headers`; the raw list keeps them apart.
    if (rawHeaders !== undefined) this.#rawHeaders = rawHeaders;
    else this.#metadata = headersToMetadata(headers as HeaderMap);
    this.#limits = limits;
    stream.on('close', () => this.#onClose());
    stream.on('error', noop); // reported through 'close' and rstCode
  }

  /** The request's user metadata (reserved headers left out). */
  get metadata(): Metadata {
    return (this.#metadata ??= rawHeadersToMetadata(this.#rawHeaders!));
  }

  /** Aborts when the call ends abnormally; the reason is an RpcError. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /** Whether the call has neither finished nor been cancelled. */
  get active(): boolean {
    return this.#state < FINISHED;
  }

  /** Whether the call was cancelled (reset, deadline, server stop, `cancel()`). */
  get cancelled(): boolean {
    return this.#state === CANCELLED;
  }

  /**
   * The status the call ended with, once it has: what was sent to the client, or, for a call
   * reset before a status could be sent, why it was cancelled.
   */
  get status(): ServerCallStatus | undefined {
    return this.#status;
  }

  /** Why the call was cancelled, once it has been. */
  get cancelReason(): RpcError | undefined {
    return this.#abortReason;
  }

  /** Registers a callback for when the call ends, cancelled or not. */
  onDone(callback: (cancelled: boolean) => void): void {
    if (this.#state === CANCELLED || this.stream.closed) {
      callback(this.#state === CANCELLED);
      return;
    }
    (this.#doneCallbacks ??= []).push(callback);
  }

  /**
   * Reads the `grpc-encoding` of the request. Returns false (after answering UNIMPLEMENTED)
   * when the codec is unknown: doc/compression.md asks for UNIMPLEMENTED and our accept list.
   */
  acceptRequestEncoding(): boolean {
    const name = this.#encoding;
    if (name === undefined || name === 'identity') return true;
    const algorithm = compressionFromName(name);
    if (algorithm === undefined) {
      this.finish(StatusCode.UNIMPLEMENTED, `Cannot decompress request: unsupported grpc-encoding "${name}"`);
      return false;
    }
    this.#requestCompression = algorithm;
    return true;
  }

  /**
   * Chooses response compression, if the client accepts it (doc/compression.md: never send
   * an encoding the peer did not list).
   */
  setResponseCompression(algorithm: Compression): void {
    if (this.#responseCompressionSent) return;
    if (algorithm === Compression.NoCompression) {
      this.#responseCompression = algorithm;
      return;
    }
    const accepted = this.#acceptEncoding;
    if (accepted !== undefined && accepted.split(',').some((e) => e.trim() === compressionName(algorithm))) {
      this.#responseCompression = algorithm;
    }
  }

  /** Starts the deadline timer; when it fires the call ends DEADLINE_EXCEEDED. */
  setDeadline(timeoutMs: number): void {
    this.deadline = Date.now() + timeoutMs;
    // setTimeout takes at most 2^31-1 ms; longer deadlines never fire in practice.
    if (timeoutMs < 2_147_483_647) {
      this.#timer = setTimeout(() => this.#onDeadline(), Math.max(0, timeoutMs));
      this.#timer.unref?.();
    }
  }

  #onDeadline(): void {
    this.#timer = undefined;
    if (this.#state >= FINISHED) return;
    this.cancel(new RpcError(StatusCode.DEADLINE_EXCEEDED, 'Deadline exceeded'), true);
  }

  /**
   * Ends the call abnormally: aborts the signal with `reason`, and, with `sendStatus`, sends
   * the client that status. The status is queued behind the response bytes already written
   * (so it does not depend on how full the send buffer is: review 2.3); if it has not left
   * within {@link STATUS_FLUSH_MS}, because the client does not read, the stream is reset.
   */
  cancel(reason: RpcError, sendStatus: boolean): void {
    if (this.#state >= FINISHED) return;
    const stream = this.stream;
    if (sendStatus && !stream.destroyed && !stream.closed) {
      this.#sendStatus(reason.code, reason.details, undefined);
      this.#cancel(reason);
      if (!stream.closed) {
        // RFC 9113 §8.1: once the whole response is out, RST_STREAM(NO_ERROR) only stops a
        // client that is still sending; before that, CANCEL tells it the status is lost.
        this.#timer = setTimeout(() => guard(() => stream.close(stream.state.localClose === 1 ? 0x0 : 0x8)), STATUS_FLUSH_MS);
        this.#timer.unref?.();
      }
      return;
    }
    if (!stream.destroyed) guard(() => stream.close(0x8 /* CANCEL */));
    this.#cancel(reason);
  }

  #cancel(reason: RpcError): void {
    if (this.#state === CANCELLED) return;
    this.#state = CANCELLED;
    this.#abortReason = reason;
    this.#status ??= { code: reason.code, details: reason.details };
    this.#clearTimer();
    this.#wake();
    this.#unaryReject?.(reason);
    this.#controller?.abort(reason);
    this.#runDone(true);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = undefined;
    if (typeof waiters === 'function') waiters();
    else if (waiters !== undefined) for (const resolve of waiters) resolve();
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
    this.#clearTimer();
    this.#wake();
    if (this.#state < FINISHED) {
      // The stream closed before we sent a status: the client reset it or the connection died.
      this.#cancel(this.#resetReason());
      return;
    }
    this.#runDone(this.#state === CANCELLED);
  }

  /** Why the call ends when the client resets the stream or the connection is lost. */
  #resetReason(): RpcError {
    const code = this.stream.rstCode;
    const reason = code === undefined || code === 0 ? new RpcError(StatusCode.CANCELLED, 'Call cancelled: connection closed') : statusFromRstCode(code);
    return reason.code === StatusCode.CANCELLED ? reason : new RpcError(StatusCode.CANCELLED, `Call cancelled: ${reason.details}`);
  }

  #runDone(cancelled: boolean): void {
    this.registry?.delete(this);
    const callbacks = this.#doneCallbacks;
    if (callbacks === undefined) return;
    this.#doneCallbacks = undefined;
    for (const cb of callbacks) {
      try {
        cb(cancelled);
      } catch (err) {
        process.emitWarning(`A call's done callback threw: ${String(err)}`);
      }
    }
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  // ---- inbound ----

  /**
   * Reads a whole unary request: every byte until END_STREAM, then exactly one message. The
   * length prefix is checked against the limit as soon as it arrives, so an oversized claim
   * fails before its body is buffered.
   * @throws RpcError for a bad frame, a size over the limit, zero or several messages, or cancellation
   */
  readUnary(): Promise<Uint8Array> {
    this.#readStarted = true;
    const stream = this.stream;
    const max = this.#limits.maxReceiveMessageBytes;
    return new Promise<Uint8Array>((resolve, reject) => {
      let chunks: Buffer[] = [];
      let received = 0;
      let expected = -1; // the whole frame's length, once the prefix is known
      let failed = false;
      const fail = (err: unknown): void => {
        if (failed) return;
        failed = true;
        chunks = [];
        stream.off('data', onData);
        stream.off('end', onEnd);
        this.#unaryReject = undefined;
        stream.resume(); // keep discarding whatever else arrives
        reject(err);
      };
      const onData = (chunk: Buffer): void => {
        chunks.push(chunk);
        received += chunk.length;
        if (expected < 0 && received >= FRAME_HEADER_BYTES) {
          const head = chunks[0]!.length >= FRAME_HEADER_BYTES ? chunks[0]! : Buffer.concat(chunks);
          const length = head.readUInt32BE(1);
          if (head[0]! > 1) return fail(new RpcError(StatusCode.INTERNAL, `Cannot decode message: compressed flag is ${head[0]!}, not 0 or 1`));
          if (max >= 0 && length > max) return fail(new RpcError(StatusCode.RESOURCE_EXHAUSTED, `Received message larger than max (${length} vs. ${max})`));
          expected = FRAME_HEADER_BYTES + length;
        }
        if (expected >= 0 && received > expected) {
          fail(new RpcError(StatusCode.INTERNAL, 'Cannot accept request: a unary method got more than one request message'));
        }
      };
      const onEnd = (): void => {
        if (failed) return;
        stream.off('data', onData);
        this.#unaryReject = undefined;
        if (received === 0) return reject(new RpcError(StatusCode.INTERNAL, 'Cannot accept request: a unary method got no request message'));
        if (expected < 0 || received < expected) return reject(new RpcError(StatusCode.INTERNAL, 'Cannot decode message: stream ended in the middle of a message'));
        const frame = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
        const payload = frame.subarray(FRAME_HEADER_BYTES);
        this.lastMessageCompressed = frame[0] === 1;
        if (frame[0] === 1) this.#decompress(payload).then(resolve, reject);
        else resolve(payload);
      };
      this.#unaryReject = fail;
      stream.on('data', onData);
      stream.once('end', onEnd);
    });
  }

  /**
   * The request messages of a streaming call, decoded with `deserialize`, read only as fast as
   * they are pulled so HTTP/2 flow control pushes back on the client. Ends when the client
   * half-closes; throws an AbortError when the call is cancelled, so a cancelled stream never
   * looks finished. A bad message (or a throwing `deserialize`: INTERNAL) ends the call with
   * its status before the error is thrown.
   */
  async *readMessages<T>(deserialize: (bytes: Uint8Array) => T): AsyncGenerator<T, void, undefined> {
    this.#readStarted = true;
    const stream = this.stream;
    let decoder: FrameDecoder | undefined; // made with the first chunk: idle streams need none
    let pending: Frame[] = EMPTY;
    let index = 0;
    try {
      for (;;) {
        while (index < pending.length) {
          const frame = pending[index++]!;
          this.lastMessageCompressed = frame.compressed;
          const bytes = frame.compressed ? await this.#decompress(frame.payload) : frame.payload;
          let message: T;
          try {
            message = deserialize(bytes);
          } catch (err) {
            throw err instanceof RpcError ? err : new RpcError(StatusCode.INTERNAL, 'Cannot deserialize request', { cause: err });
          }
          yield message;
        }
        if (this.#state === CANCELLED) throw abortError(this.#abortReason);
        const chunk = stream.read() as Buffer | null;
        if (chunk !== null) {
          pending = (decoder ??= createFrameDecoder({ maxMessageBytes: this.#limits.maxReceiveMessageBytes })).decode(chunk);
          index = 0;
          continue;
        }
        if (stream.readableEnded) {
          // A node:http2 client cancels with END_STREAM then RST_STREAM (see halfCloseReset);
          // a reset later than that still aborts the signal of a handler that is running.
          if (this.#state < FINISHED && (await halfCloseReset(stream)) && this.#state < FINISHED) this.#cancel(this.#resetReason());
          if (this.#state === CANCELLED) throw abortError(this.#abortReason);
          decoder?.end();
          return;
        }
        await this.#waitFor(READ_EVENTS);
      }
    } catch (err) {
      if (err instanceof RpcError && this.#state < FINISHED) this.cancel(err, true);
      throw err;
    }
  }

  async #decompress(payload: Uint8Array): Promise<Uint8Array> {
    if (this.#requestCompression === Compression.NoCompression) {
      throw new RpcError(StatusCode.INTERNAL, 'Cannot decompress request: compressed flag set without grpc-encoding');
    }
    return decompress(this.#requestCompression, payload, this.#limits.maxReceiveMessageBytes);
  }

  // ---- outbound ----

  #responseHeaders(metadata: Metadata | undefined): HeaderMap {
    const plain = this.#responseCompression === Compression.NoCompression;
    if (plain && (metadata === undefined || metadata.size === 0)) return RESPONSE_HEADERS;
    const headers: HeaderMap = {
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-accept-encoding': ACCEPT_ENCODING,
    };
    if (this.#responseCompression !== Compression.NoCompression) headers['grpc-encoding'] = compressionName(this.#responseCompression);
    if (metadata !== undefined) metadataToHeaders(metadata, headers);
    return headers;
  }

  /** Sends response headers with `metadata`, once. */
  sendHeaders(metadata?: Metadata): void {
    if (this.#state !== OPEN) return;
    this.#state = HEADERS_SENT;
    this.#responseCompressionSent = true;
    if (this.stream.destroyed) return;
    this.#respondWithTrailers(this.#responseHeaders(metadata));
  }

  /** Sends response headers; trailers follow when the stream's writable side ends. */
  #respondWithTrailers(headers: HeaderMap): void {
    if (this.stream.destroyed || this.stream.closed) return;
    this.stream.once('wantTrailers', () => this.#sendTrailers());
    guard(() => this.stream.respond(headers, WITH_TRAILERS));
  }

  /**
   * Frames a serialized response message, compressing it when the call compresses and
   * `compressible` is true. A promise means the caller must wait for it (compression, or the
   * stream's buffer is full) before writing more.
   */
  write(payload: Uint8Array, compressible: boolean): Promise<void> | undefined {
    if (this.#state >= FINISHED) return undefined;
    const max = this.#limits.maxSendMessageBytes;
    if (max >= 0 && payload.length > max) {
      throw new RpcError(StatusCode.RESOURCE_EXHAUSTED, `Cannot send message: ${payload.length} bytes is over the limit of ${max}`);
    }
    if (this.#state === OPEN) this.sendHeaders();
    if (compressible && this.#responseCompression !== Compression.NoCompression) {
      return compress(this.#responseCompression, payload).then((bytes) => this.#writeFrame(encodeFrame(bytes, true)));
    }
    return this.#writeFrame(encodeFrame(payload, false));
  }

  #writeFrame(frame: Buffer): Promise<void> | undefined {
    if (this.#state >= FINISHED || this.stream.destroyed) return undefined;
    if (this.stream.write(frame)) return undefined;
    return this.#waitFor(DRAIN_EVENTS);
  }

  /**
   * Ends the call with a status. Without headers sent yet, this is a Trailers-Only response
   * (PROTOCOL-HTTP2.md, Responses). A unary response may be passed as `lastMessage` so headers,
   * message and trailers leave together.
   */
  finish(code: StatusCode, details: string, trailers?: Metadata, lastMessage?: Buffer): void {
    if (this.#state >= FINISHED) return;
    this.#sendStatus(code, details, trailers, lastMessage);
  }

  #sendStatus(code: StatusCode, details: string, trailers: Metadata | undefined, lastMessage?: Buffer): void {
    const headersSent = this.#state === HEADERS_SENT;
    this.#state = FINISHED;
    this.#status = { code, details };
    this.#clearTimer();
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
    if (!headersSent && lastMessage === undefined) {
      // Trailers-Only: status and trailers in the single HEADERS frame, with END_STREAM.
      const headers: HeaderMap = { ':status': 200, 'content-type': 'application/grpc', 'grpc-accept-encoding': ACCEPT_ENCODING, ...status };
      guard(() => stream.respond(headers, END_STREAM));
    } else {
      if (!headersSent) this.#respondWithTrailers(this.#responseHeaders(undefined));
      this.#trailers = status;
      if (lastMessage !== undefined) guard(() => stream.end(lastMessage));
      else guard(() => stream.end());
    }
    // A handler may answer before reading every request: the rest is discarded, not reset.
    if (!stream.readableEnded) {
      if (this.#readStarted) stream.removeAllListeners('data');
      stream.resume();
    }
  }

  /** A unary response: headers (with `initial`), one message and the status in one go. */
  finishUnary(payload: Uint8Array, compressible: boolean, trailers: Metadata | undefined, initial: Metadata | undefined, details: string): Promise<void> | undefined {
    if (this.#state >= FINISHED) return undefined;
    const max = this.#limits.maxSendMessageBytes;
    if (max >= 0 && payload.length > max) {
      throw new RpcError(StatusCode.RESOURCE_EXHAUSTED, `Cannot send message: ${payload.length} bytes is over the limit of ${max}`);
    }
    if (this.#state === OPEN) {
      this.#state = HEADERS_SENT;
      this.#responseCompressionSent = true;
      if (!this.stream.destroyed) this.#respondWithTrailers(this.#responseHeaders(initial));
    }
    if (compressible && this.#responseCompression !== Compression.NoCompression) {
      return compress(this.#responseCompression, payload).then((bytes) => {
        if (this.#state < FINISHED) this.#sendStatus(StatusCode.OK, details, trailers, encodeFrame(bytes, true));
      });
    }
    this.#sendStatus(StatusCode.OK, details, trailers, encodeFrame(payload, false));
    return undefined;
  }

  #sendTrailers(): void {
    const trailers = this.#trailers ?? { 'grpc-status': String(StatusCode.OK) };
    this.#trailers = undefined;
    if (!this.stream.destroyed) guard(() => this.stream.sendTrailers(trailers));
  }

  /** Answers a request that is not gRPC at all with a bare HTTP status (no handler runs). */
  rejectHttp(httpStatus: number): void {
    this.#state = FINISHED;
    this.#clearTimer();
    if (this.stream.destroyed) return;
    guard(() => this.stream.respond({ ':status': httpStatus }, END_STREAM));
    this.stream.resume();
  }
}

function noop(): void {}

/**
 * Runs a stream operation that node:http2 refuses with a throw once the peer has reset the
 * stream or the session is going away (ERR_HTTP2_INVALID_STREAM, ERR_HTTP2_HEADERS_SENT...).
 * The call's fate is then decided by the stream's 'close', so the throw carries nothing.
 */
function guard(operation: () => void): void {
  try {
    operation();
  } catch {
    // see above: the 'close' listener reports the end of the call
  }
}

/**
 * Whether the half-close of a stream was in fact the first half of a cancel.
 *
 * node:http2 clients (grpc-js among them, and ours) cancel with `Http2Stream.close(code)`,
 * which ends the writable side first: the server reads END_STREAM, and the RST_STREAM in a
 * later read, within one turn of its event loop (spec/server/reliability.spec.ts pins this).
 * Ending the request iterator at END_STREAM would make such a cancel look like a client that
 * finished sending (DESIGN.md §1), so this waits for the reset, or for one full poll phase of
 * the event loop without one: two `setImmediate` turns, the first of which may run before the
 * loop polls the socket again. A reset already seen resolves at once.
 * @returns true when the client reset the stream
 * @internal
 */
export function halfCloseReset(stream: ServerHttp2Stream): Promise<boolean> {
  if (isReset(stream)) return Promise.resolve(true);
  if (stream.closed || stream.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    let immediate = setImmediate(() => {
      immediate = setImmediate(done);
    });
    function done(): void {
      clearImmediate(immediate);
      stream.off('aborted', done);
      stream.off('close', done);
      resolve(isReset(stream));
    }
    stream.once('aborted', done);
    stream.once('close', done);
  });
}

// 'aborted' is set as node:http2 handles the RST_STREAM; 'close' follows on a later tick.
function isReset(stream: ServerHttp2Stream): boolean {
  return stream.aborted || (stream.closed && stream.rstCode !== undefined && stream.rstCode !== 0);
}

/** A header that may have arrived more than once, joined as HTTP joins lists. @internal */
export function headerString(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/** abort-controller-x's AbortError, so handlers can tell it apart with `isAbortError`; `cause` says why. */
function abortError(reason: RpcError | undefined): Error {
  return Object.assign(new AbortError(reason?.message ?? 'Call cancelled'), { cause: reason }) as Error;
}

const READ_EVENTS = ['readable', 'end'] as const; // 'close' wakes every waiter (#onClose)
const DRAIN_EVENTS = ['drain', 'close'] as const;

/**
 * How long a status queued behind response bytes may take to leave before the stream is
 * reset: after a deadline, a bad request message on a busy stream, or `stop(grace)` running
 * out (the server closes its connections this long after the grace). @internal
 */
export const STATUS_FLUSH_MS = 500;

/** The status a client sees when the server stops with calls in flight. @internal */
export function shutdownError(): RpcError {
  return new RpcError(StatusCode.UNAVAILABLE, 'Server is shutting down');
}

