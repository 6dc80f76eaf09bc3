import {
  Metadata,
  RpcError,
  StatusCode,
  createBase64Decoder,
  createWebFrameDecoder,
  decodeGrpcMessage,
  encodeGrpcTimeout,
  encodeWebFrame,
  headersToMetadata,
  metadataToHeaders,
  parseGrpcWebContentType,
  parseStatusHeader,
  parseTrailerBlock,
  statusFromHttpStatus,
  type Base64Decoder,
  type HeaderMap,
  type WebFrameDecoder,
} from '../protocol/core.js';
import { base64Encode } from '../util/index.js';
import type { CallStatus, ClientCallOptions, ClientCallPort } from '../client/core.js';

/**
 * Bytes of received messages a call buffers before it stops reading the response body; the
 * browser's (or undici's) stream then applies backpressure down to the socket. A slow consumer
 * holds at most this much, plus the chunk that crossed the mark. Each message also counts
 * {@link MESSAGE_OVERHEAD_BYTES}, so tiny messages cannot pile up by the thousand. The same
 * bounds as the node:http2 client call.
 * @internal
 */
export const RECEIVE_BUFFER_BYTES = 256 * 1024;
/** What one buffered message costs beyond its payload, for {@link RECEIVE_BUFFER_BYTES}. @internal */
export const MESSAGE_OVERHEAD_BYTES = 64;
const LOW_WATER = RECEIVE_BUFFER_BYTES / 2;

/** How a gRPC-Web call reaches its server. @internal */
export interface FetchCallConfig {
  /** The server's base URL, without a trailing slash; the method's path is appended. */
  readonly baseUrl: string;
  /** Whether the body is base64 (`application/grpc-web-text`). */
  readonly text: boolean;
  /** The fetch to call. */
  readonly fetch: typeof fetch;
  /** The request's `credentials` mode (cookies, HTTP auth), if set. */
  readonly credentials: RequestInit['credentials'] | undefined;
}

/*
 * Life of a gRPC-Web call (grpc/grpc doc/PROTOCOL-WEB.md):
 *
 *   CREATED ──sendUnary──► FETCHING ──response headers──► READING ──trailers frame──► DONE(status)
 *                             │  └─ grpc-status in the headers (Trailers-Only), or
 *                             │     an HTTP status without one ──────────────────────► DONE(status)
 *                             └─ cancel / deadline (aborts the fetch) / network error ► DONE(error)
 *
 * `done` resolves exactly once. Messages received before the status stay readable after it.
 */

/**
 * One gRPC-Web call on `fetch`: the one framed request as the body, the response body read
 * incrementally into a bounded queue of messages, then the trailers frame as the status.
 * @internal
 */
export class FetchCall implements ClientCallPort {
  readonly #options: ClientCallOptions;
  readonly #config: FetchCallConfig;
  readonly #abort = new AbortController();
  #queue: Array<Uint8Array | undefined> = [];
  #queueHead = 0;
  #queuedBytes = 0;
  // Set while reading is paused because the queue is over RECEIVE_BUFFER_BYTES.
  #resume: (() => void) | undefined;
  #waiter: (() => void) | undefined;
  #status: CallStatus | undefined;
  #headers: Metadata | undefined;
  #headersWaiters: Array<(md: Metadata) => void> | undefined;
  #doneWaiters: Array<(status: CallStatus) => void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #committed = false;
  #started = false;

  constructor(options: ClientCallOptions, config: FetchCallConfig) {
    this.#options = options;
    this.#config = config;
    if (options.deadline !== Infinity) {
      const ms = options.deadline - Date.now();
      if (ms <= 0) queueMicrotask(() => this.cancel(deadlineExceeded()));
      else if (ms < 2_147_483_647) {
        this.#timer = setTimeout(() => this.cancel(deadlineExceeded()), ms);
        // Node only: the channel keeps the process alive while it has calls in flight.
        (this.#timer as { unref?: () => void }).unref?.();
      }
    }
  }

  /** Never set: fetch sends no compressed messages, and compressed responses end the call. */
  readonly lastResponseCompressed = false;
  /** Never set: a fetch has no stream a server can refuse before processing it (gRFC A6). */
  readonly refused = false;

  /** Whether the call has ended. */
  get done(): boolean {
    return this.#status !== undefined;
  }

  /** The final status if the call has ended. */
  get statusNow(): CallStatus | undefined {
    return this.#status;
  }

  /** Whether response headers (not a Trailers-Only answer) arrived: the call is committed. */
  get receivedHeaders(): boolean {
    return this.#committed;
  }

  /** The response headers if they have arrived (empty once the call ended without any). */
  get initialMetadataNow(): Metadata | undefined {
    return this.#headers;
  }

  // ---- outbound ----

  /**
   * Request streams cannot cross a fetch (the channel refuses such calls before opening them):
   * ends the call UNIMPLEMENTED.
   * @throws RpcError UNIMPLEMENTED
   */
  write(): Promise<void> | undefined {
    const err = requestStreamsUnsupported();
    this.cancel(err);
    throw err;
  }

  /** Sends the one request as the body of the fetch; the response is read as it arrives. */
  sendUnary(payload: Uint8Array): void {
    if (this.#status !== undefined || this.#started) return;
    this.#started = true;
    const max = this.#options.maxSendMessageBytes;
    if (max >= 0 && payload.length > max) {
      this.cancel(new RpcError(StatusCode.RESOURCE_EXHAUSTED, `Cannot send message: ${payload.length} bytes is over the limit of ${max}`));
      return;
    }
    void this.#run(encodeWebFrame(payload, 0));
  }

  /** A half-close without the one request: request streams are not supported, so UNIMPLEMENTED. */
  halfClose(): void {
    if (!this.#started) this.cancel(requestStreamsUnsupported());
  }

  /** Ends the call now with `reason` (CANCELLED by default) and aborts the fetch. */
  cancel(reason: RpcError = new RpcError(StatusCode.CANCELLED, 'Call cancelled')): void {
    if (this.#status !== undefined) return;
    this.#finish({ code: reason.code, details: reason.details, metadata: reason.trailingMetadata });
    this.#abort.abort(reason);
  }

  #requestHeaders(): Headers {
    const o = this.#options;
    const type = this.#config.text ? 'application/grpc-web-text+proto' : 'application/grpc-web+proto';
    const map: HeaderMap = {};
    metadataToHeaders(o.metadata, map);
    const headers = new Headers();
    for (const key in map) {
      const value = map[key];
      if (Array.isArray(value)) for (const v of value) headers.append(key, v);
      else if (value !== undefined) headers.set(key, String(value));
    }
    // PROTOCOL-WEB.md: x-grpc-web marks the request; browsers refuse to set user-agent, so the
    // library's own goes in x-user-agent. Accept asks for the same format back.
    headers.set('content-type', type);
    headers.set('accept', type);
    headers.set('x-grpc-web', '1');
    headers.set('x-user-agent', o.userAgent);
    if (o.deadline !== Infinity) headers.set('grpc-timeout', encodeGrpcTimeout(Math.max(1, o.deadline - Date.now())));
    if (o.previousAttempts !== undefined && o.previousAttempts > 0) headers.set('grpc-previous-rpc-attempts', String(o.previousAttempts));
    return headers;
  }

  async #run(frame: Uint8Array): Promise<void> {
    const { baseUrl, text, credentials } = this.#config;
    const url = `${baseUrl}${this.#options.path}`;
    let response: Response;
    try {
      const init: RequestInit = {
        method: 'POST',
        headers: this.#requestHeaders(),
        body: text ? base64Encode(frame) : frame,
        signal: this.#abort.signal,
      };
      if (credentials !== undefined) init.credentials = credentials;
      response = await this.#config.fetch.call(globalThis, url, init);
    } catch (err) {
      // After a cancel or the deadline the status stands already; otherwise the server could
      // not be reached (fetch rejects with a TypeError for every network failure): UNAVAILABLE.
      this.#finish({ code: StatusCode.UNAVAILABLE, details: `Cannot reach ${url}: ${(err as Error)?.message ?? String(err)}`, metadata: new Metadata() });
      return;
    }
    if (this.#status !== undefined) {
      void response.body?.cancel().catch(noop);
      return;
    }
    if (!this.#onHeaders(response)) {
      void response.body?.cancel().catch(noop);
      return;
    }
    await this.#read(response);
  }

  // ---- inbound ----

  /** Takes the response headers; false when they ended the call (Trailers-Only, HTTP errors). */
  #onHeaders(response: Response): boolean {
    const headers = headerMap(response.headers);
    if (headers['grpc-status'] !== undefined) {
      // Trailers-Only (PROTOCOL-WEB.md, as PROTOCOL-HTTP2.md): the status came with the headers.
      this.#finish(statusFrom(headers));
      return false;
    }
    if (response.status !== 200) {
      // doc/http-grpc-status-mapping.md
      this.#finish({ code: statusFromHttpStatus(response.status), details: `Received HTTP status ${response.status}`, metadata: new Metadata() });
      return false;
    }
    const contentType = headers['content-type'];
    const format = parseGrpcWebContentType(typeof contentType === 'string' ? contentType : undefined);
    if (format === undefined) {
      this.#finish({ code: StatusCode.UNKNOWN, details: `Received content-type "${String(contentType ?? '')}", not application/grpc-web`, metadata: new Metadata() });
      return false;
    }
    if (format.text !== this.#config.text) {
      this.#finish({ code: StatusCode.INTERNAL, details: `Received content-type "${String(contentType)}", not the ${this.#config.text ? 'text' : 'binary'} format asked for`, metadata: new Metadata() });
      return false;
    }
    const encoding = headers['grpc-encoding'];
    this.#compressedResponses = typeof encoding === 'string' && encoding !== 'identity' ? encoding : undefined;
    this.#committed = true;
    this.#resolveHeaders(headersToMetadata(headers));
    return true;
  }

  #compressedResponses: string | undefined;

  /** Reads the body: frames into the queue, pausing while it is full, until the trailers frame. */
  async #read(response: Response): Promise<void> {
    const body = response.body;
    if (body === null) {
      this.#finish(noStatus());
      return;
    }
    const reader = body.getReader();
    const frames: WebFrameDecoder = createWebFrameDecoder(this.#options.maxReceiveMessageBytes);
    const base64: Base64Decoder | undefined = this.#config.text ? createBase64Decoder() : undefined;
    const utf8 = this.#config.text ? new TextDecoder() : undefined;
    try {
      for (;;) {
        if (this.#queuedBytes >= RECEIVE_BUFFER_BYTES) await new Promise<void>((resolve) => (this.#resume = resolve));
        if (this.#status !== undefined) return;
        let chunk;
        try {
          chunk = await reader.read();
        } catch (err) {
          // The connection dropped mid-call, or this call's abort ended the read.
          this.#finish({ code: StatusCode.UNAVAILABLE, details: `Connection closed before the call received a status: ${(err as Error)?.message ?? String(err)}`, metadata: new Metadata() });
          return;
        }
        if (this.#status !== undefined) return;
        if (chunk.done) {
          // PROTOCOL-WEB.md: the trailers frame ends every response that is not Trailers-Only.
          const truncated = !frames.atBoundary || (base64 !== undefined && !base64.atBoundary);
          this.#finish(truncated ? { code: StatusCode.INTERNAL, details: 'Response body ended in the middle of a frame', metadata: new Metadata() } : noStatus());
          return;
        }
        // Text mode: base64 decoded chunk-wise; a chunk may end inside a 4-character group.
        const bytes = base64 === undefined ? chunk.value : base64.decode(utf8!.decode(chunk.value, { stream: true }));
        if (this.#onBytes(frames.decode(bytes))) return;
      }
    } catch (err) {
      // A bad frame, bad base64, or a message over the receive limit.
      this.cancel(err instanceof RpcError ? err : new RpcError(StatusCode.INTERNAL, 'Cannot read response', { cause: err }));
    } finally {
      // Nothing more is read: release the connection (a no-op once the body has ended).
      reader.cancel().catch(noop);
    }
  }

  /** Queues the messages of some frames; true once the trailers frame has ended the call. */
  #onBytes(frames: ReturnType<WebFrameDecoder['decode']>): boolean {
    for (const frame of frames) {
      if (frame.trailers) {
        const fields: HeaderMap = {};
        for (const [key, value] of parseTrailerBlock(frame.payload)) addField(fields, key, value);
        this.#finish(statusFrom(fields));
        this.#wake();
        return true;
      }
      if (frame.compressed) {
        // The client offers no grpc-accept-encoding, so a compressed message is the server's error.
        throw new RpcError(StatusCode.INTERNAL, `Cannot decompress response: the gRPC-Web client does not decompress${this.#compressedResponses === undefined ? '' : ` "${this.#compressedResponses}"`}`);
      }
      this.#queue.push(frame.payload);
      this.#queuedBytes += frame.payload.length + MESSAGE_OVERHEAD_BYTES;
    }
    this.#wake();
    return false;
  }

  #finish(status: CallStatus): void {
    if (this.#status !== undefined) return;
    this.#status = status;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#resolveHeaders(new Metadata());
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
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

  /** @returns the response headers (initial metadata), once they arrive (empty for Trailers-Only) */
  initialMetadata(): Promise<Metadata> {
    if (this.#headers !== undefined) return Promise.resolve(this.#headers);
    return new Promise((resolve) => (this.#headersWaiters ??= []).push(resolve));
  }

  /** Runs `callback` once the call ends (at once if it has). */
  onDone(callback: (status: CallStatus) => void): void {
    if (this.#status !== undefined) callback(this.#status);
    else (this.#doneWaiters ??= []).push(callback);
  }

  /** @returns the final status, once the call ends */
  status(): Promise<CallStatus> {
    if (this.#status !== undefined) return Promise.resolve(this.#status);
    return new Promise((resolve) => (this.#doneWaiters ??= []).push(resolve));
  }

  /** Takes the head of the queue, and reads on once the queue is below the low-water mark. */
  #take(message: Uint8Array): Uint8Array {
    this.#queue[this.#queueHead++] = undefined;
    this.#queuedBytes -= message.length + MESSAGE_OVERHEAD_BYTES;
    if (this.#queueHead === this.#queue.length) {
      this.#queue.length = 0;
      this.#queueHead = 0;
    } else if (this.#queueHead >= 64 && this.#queueHead * 2 >= this.#queue.length) {
      this.#queue.splice(0, this.#queueHead);
      this.#queueHead = 0;
    }
    if (this.#resume !== undefined && this.#queuedBytes < LOW_WATER) {
      const resume = this.#resume;
      this.#resume = undefined;
      resume();
    }
    return message;
  }

  /**
   * The next response message, or undefined at the end of an OK call.
   * @throws RpcError with the call's status when it ended otherwise
   */
  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      if (this.#queueHead < this.#queue.length) return this.#take(this.#queue[this.#queueHead]!);
      const status = this.#status;
      if (status !== undefined) {
        if (status.code === StatusCode.OK) return undefined;
        throw statusError(status);
      }
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
  }

  /** The single message of an OK unary response, or the error to throw instead. */
  #single(status: CallStatus): Uint8Array {
    if (status.code !== StatusCode.OK) throw statusError(status);
    const count = this.#queue.length - this.#queueHead;
    if (count !== 1) {
      throw new RpcError(StatusCode.INTERNAL, count === 0 ? 'Server sent no response message to a unary call' : 'Server sent more than one response message to a unary call', {
        trailingMetadata: status.metadata,
      });
    }
    return this.#queue[this.#queueHead]!;
  }

  /**
   * The single response once the call has ended OK, without waiting.
   * @throws RpcError as {@link FetchCall.response} does
   */
  responseNow(): Uint8Array | undefined {
    const status = this.#status;
    return status === undefined ? undefined : this.#single(status);
  }

  /**
   * The single response of a unary-response call.
   * @throws RpcError with the call's status, or INTERNAL when the server sent no or several messages
   */
  async response(): Promise<Uint8Array> {
    return this.#single(await this.status());
  }
}

/** The details client-streaming and bidi calls fail with. @internal */
export const REQUEST_STREAMS_UNSUPPORTED = 'Cannot start call: client-streaming and bidi calls are not supported by gRPC-Web';

function requestStreamsUnsupported(): RpcError {
  return new RpcError(StatusCode.UNIMPLEMENTED, REQUEST_STREAMS_UNSUPPORTED);
}

function deadlineExceeded(): RpcError {
  return new RpcError(StatusCode.DEADLINE_EXCEEDED, 'Deadline exceeded');
}

function noStatus(): CallStatus {
  return { code: StatusCode.INTERNAL, details: 'Response ended without a status (no trailers frame)', metadata: new Metadata() };
}

function statusError(status: CallStatus): RpcError {
  return new RpcError(status.code, status.details, { trailingMetadata: status.metadata });
}

/** The status in response headers (Trailers-Only) or a trailers frame, with its user metadata. */
function statusFrom(fields: HeaderMap): CallStatus {
  const raw = fields['grpc-status'];
  const code = parseStatusHeader(typeof raw === 'string' ? raw : Array.isArray(raw) ? raw[0] : undefined) ?? StatusCode.UNKNOWN;
  const message = fields['grpc-message'];
  const details = typeof message === 'string' ? decodeGrpcMessage(message) : raw === undefined ? 'Server sent no grpc-status' : '';
  return { code, details, metadata: headersToMetadata(fields) };
}

/** A fetch Headers object as a header map (repeated headers arrive joined with ", "). */
function headerMap(headers: Headers): HeaderMap {
  const map: HeaderMap = {};
  headers.forEach((value, key) => addField(map, key, value));
  return map;
}

function addField(map: HeaderMap, key: string, value: string): void {
  // "__proto__" is a valid key, but assigning it would set the object's prototype instead.
  if (key === '__proto__') return;
  const before = map[key];
  if (before === undefined) map[key] = value;
  else if (Array.isArray(before)) before.push(value);
  else map[key] = [String(before), value];
}

function noop(): void {}
