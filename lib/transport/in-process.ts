import { Metadata, RpcError, StatusCode, headersToMetadata, metadataToHeaders, type Compression } from '../protocol/index.js';
import type {
  CallStatus,
  ClientCallOptions,
  ClientCallPort,
  ClientTransport,
  PeerInfo,
  ServerCallLimits,
  ServerCallPort,
} from './call-port.js';
import { CANCELLED, FINISHED, OPEN, ServerCallState, checkSendSize } from './server-call-state.js';

/*
 * The in-process transport: a client call port and a server call port joined in memory, with
 * no socket and no HTTP/2, and the semantics of a network call (DESIGN.md §1):
 *
 *   client write ──► server request queue (bounded: a full queue makes write wait)
 *   server send  ──► client response queue (bounded: a full queue makes send wait)
 *   metadata both ways goes through the header encoding (reserved keys dropped, -bin as bytes)
 *   deadline: both ends run it; cancel on either end aborts the other
 *
 * Messages stay serialized bytes (so codec bugs show up), unless the channel passes values.
 */

/**
 * The key under which a server takes in-process calls. A `Server` has it; `inProcessChannel`
 * calls it.
 */
export const inProcessSink: unique symbol = Symbol('grpc-iter.inProcessSink');

/** What `inProcessChannel` can call into: a `Server`. */
export interface InProcessServer {
  /** The server's in-process entry (its internals). */
  readonly [inProcessSink]: unknown;
}

/** What a server offers under {@link inProcessSink}. @internal */
export interface InProcessEntry {
  /** The server's per-call limits, which the server end applies as a network server would. */
  readonly limits: ServerCallLimits;
  /** Takes one call. */
  accept(port: ServerCallPort): void;
}

/** Bytes queued in either direction before the writer must wait: an HTTP/2 stream window's worth. @internal */
export const IN_PROCESS_WINDOW_BYTES = 64 * 1024;
/** What a message passed as a value counts against the window: it has no size of its own. */
const VALUE_WEIGHT = 1024;

function weight(payload: Uint8Array, values: boolean): number {
  return values ? VALUE_WEIGHT : payload.length;
}

const PEER: PeerInfo = Object.freeze({
  // C-core's in-process transport calls its peer "inproc".
  peer: 'inproc',
  auth: Object.freeze({ transport_security_type: [Buffer.from('insecure')], security_level: [Buffer.from('TSI_SECURITY_NONE')] }),
  identityKey: null,
}) as PeerInfo;

/** Metadata as the other end would decode it from the wire: a copy, reserved keys dropped. */
function overTheWire(metadata: Metadata | undefined): Metadata {
  return metadata === undefined || metadata.size === 0 ? new Metadata() : headersToMetadata(metadataToHeaders(metadata, {}));
}

/** Waiters on a bounded queue; a cancel wakes them all. */
class Wakers {
  #list: Array<() => void> = [];
  wait(): Promise<void> {
    return new Promise((resolve) => this.#list.push(resolve));
  }
  wake(): void {
    const list = this.#list;
    if (list.length === 0) return;
    this.#list = [];
    for (const w of list) w();
  }
}

/**
 * The server end of an in-process call.
 * @internal
 */
export class InProcessServerCall extends ServerCallState implements ServerCallPort {
  readonly path: string;
  readonly metadata: Metadata;
  readonly authority: string;
  readonly #limits: ServerCallLimits;
  readonly #client: InProcessClientCall;
  readonly passesValues: boolean;
  readonly #requests: Uint8Array[] = [];
  #requestBytes = 0;
  #halfClosed = false;
  readonly #readable = new Wakers();
  /** Writers of the client waiting for the request queue to drain. */
  readonly drained = new Wakers();

  constructor(client: InProcessClientCall, options: ClientCallOptions, limits: ServerCallLimits, passesValues: boolean) {
    super();
    this.passesValues = passesValues;
    this.#client = client;
    this.#limits = limits;
    this.path = options.path;
    this.authority = options.authority;
    this.metadata = overTheWire(options.metadata);
    // PROTOCOL-HTTP2.md, Requests: the client names itself in user-agent, which a network server
    // reads as request metadata; grpc-java's in-process transport passes it the same way.
    if (options.userAgent !== '') this.metadata.set('user-agent', options.userAgent);
    if (options.deadline !== Infinity) this.setDeadline(Math.max(0, options.deadline - Date.now()));
  }

  peerInfo(): PeerInfo {
    return PEER;
  }

  // ---- from the client ----

  /** A request message arrives; a promise means the queue is full. */
  receive(payload: Uint8Array): Promise<void> | undefined {
    if (this.state >= FINISHED) return undefined;
    const max = this.#limits.maxReceiveMessageBytes;
    if (max >= 0 && payload.length > max && !this.passesValues) {
      this.cancel(new RpcError(StatusCode.RESOURCE_EXHAUSTED, `Received message larger than max (${payload.length} vs. ${max})`), true);
      return undefined;
    }
    this.#requests.push(payload);
    this.#requestBytes += weight(payload, this.passesValues);
    this.#readable.wake();
    return this.#requestBytes >= IN_PROCESS_WINDOW_BYTES ? this.drained.wait() : undefined;
  }

  /** The client sent its last request. */
  halfClose(): void {
    this.#halfClosed = true;
    this.#readable.wake();
  }

  /** The client cancelled, or its deadline passed. */
  clientCancelled(reason: RpcError): void {
    if (this.state >= FINISHED) return;
    this.markCancelled(reason.code === StatusCode.CANCELLED ? reason : new RpcError(StatusCode.CANCELLED, `Call cancelled: ${reason.details}`));
  }

  protected onCancel(): void {
    this.#readable.wake();
    this.drained.wake();
    this.#client.responsesDrained.wake();
  }

  #take(): Uint8Array {
    const payload = this.#requests.shift()!;
    this.#requestBytes -= weight(payload, this.passesValues);
    if (this.#requestBytes < IN_PROCESS_WINDOW_BYTES) this.drained.wake();
    return payload;
  }

  // ---- inbound ----

  async readUnary(): Promise<Uint8Array> {
    while (!this.#halfClosed) {
      if (this.state === CANCELLED) throw this.cancelReason!;
      if (this.#requests.length > 1) break;
      await this.#readable.wait();
    }
    if (this.state === CANCELLED) throw this.cancelReason!;
    if (this.#requests.length === 0) throw new RpcError(StatusCode.INTERNAL, 'Cannot accept request: a unary method got no request message');
    if (this.#requests.length > 1) throw new RpcError(StatusCode.INTERNAL, 'Cannot accept request: a unary method got more than one request message');
    return this.#take();
  }

  async *requests<T>(decode: (bytes: Uint8Array) => T): AsyncGenerator<T, void, undefined> {
    try {
      for (;;) {
        if (this.state === CANCELLED) throw this.abortError();
        if (this.#requests.length > 0) {
          yield decode(this.#take());
          continue;
        }
        if (this.#halfClosed) return;
        await this.#readable.wait();
      }
    } catch (err) {
      if (err instanceof RpcError && this.state < FINISHED) this.cancel(err, true);
      throw err;
    }
  }

  // ---- outbound ----

  /** There is no wire to compress on: responses go as they are. */
  override setResponseCompression(_compression: Compression): void {}

  sendHeaders(metadata?: Metadata): void {
    if (this.state !== OPEN) return;
    this.state = 1; // HEADERS_SENT
    this.headersSent = true;
    this.#client.headers(overTheWire(metadata));
  }

  send(payload: Uint8Array, _compress: boolean): Promise<void> | undefined {
    if (this.state >= FINISHED) return undefined;
    if (!this.passesValues) checkSendSize(payload, this.#limits.maxSendMessageBytes);
    this.sendHeaders();
    return this.#client.receive(payload);
  }

  sendUnary(payload: Uint8Array, compress: boolean, trailers: Metadata | undefined, details: string): Promise<void> | undefined {
    if (this.state >= FINISHED) return undefined;
    void this.send(payload, compress); // the status follows at once: nothing waits for room
    this.finish(StatusCode.OK, details, trailers);
    return undefined;
  }

  finish(code: StatusCode, details: string, trailers?: Metadata): void {
    if (this.state >= FINISHED) return;
    this.markFinished(code, details);
    this.#client.ended({ code, details, metadata: overTheWire(trailers) });
    this.#readable.wake();
    this.runDone();
  }

  cancel(reason: RpcError, sendStatus: boolean): void {
    if (this.state >= FINISHED) return;
    this.markCancelled(reason);
    // Without a status the client sees what an RST_STREAM CANCEL gives it.
    this.#client.ended(sendStatus ? { code: reason.code, details: reason.details, metadata: new Metadata() } : { code: StatusCode.CANCELLED, details: 'Call cancelled by the server', metadata: new Metadata() });
  }
}

/**
 * The client end of an in-process call.
 * @internal
 */
export class InProcessClientCall implements ClientCallPort {
  readonly #options: ClientCallOptions;
  readonly #values: boolean;
  readonly #server: InProcessServerCall;
  readonly #responses: Uint8Array[] = [];
  #responseBytes = 0;
  #status: CallStatus | undefined;
  #headers: Metadata | undefined;
  #committed = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #arrived = new Wakers();
  readonly #doneCallbacks: Array<(status: CallStatus) => void> = [];
  readonly #headerWaiters: Array<(md: Metadata) => void> = [];
  /** Server writers waiting for the response queue to drain. */
  readonly responsesDrained = new Wakers();
  readonly refused = false;
  readonly lastResponseCompressed = false;

  constructor(options: ClientCallOptions, limits: ServerCallLimits, passesValues: boolean) {
    this.#options = options;
    this.#values = passesValues;
    this.#server = new InProcessServerCall(this, options, limits, passesValues);
    if (options.deadline !== Infinity) {
      const ms = options.deadline - Date.now();
      const expire = (): void => this.cancel(new RpcError(StatusCode.DEADLINE_EXCEEDED, 'Deadline exceeded'));
      if (ms <= 0) queueMicrotask(expire);
      else if (ms < 2_147_483_647) {
        this.#timer = setTimeout(expire, ms);
        this.#timer.unref?.();
      }
    }
  }

  /** The server end, for the server's sink. */
  get serverEnd(): InProcessServerCall {
    return this.#server;
  }

  get done(): boolean {
    return this.#status !== undefined;
  }

  get statusNow(): CallStatus | undefined {
    return this.#status;
  }

  get receivedHeaders(): boolean {
    return this.#committed;
  }

  get initialMetadataNow(): Metadata | undefined {
    return this.#headers;
  }

  // ---- from the server ----

  headers(metadata: Metadata): void {
    if (this.#status !== undefined || this.#headers !== undefined) return;
    this.#committed = true;
    this.#resolveHeaders(metadata);
  }

  receive(payload: Uint8Array): Promise<void> | undefined {
    if (this.#status !== undefined) return undefined;
    const max = this.#options.maxReceiveMessageBytes;
    if (max >= 0 && payload.length > max && !this.#values) {
      this.cancel(new RpcError(StatusCode.RESOURCE_EXHAUSTED, `Received message larger than max (${payload.length} vs. ${max})`));
      return undefined;
    }
    this.#responses.push(payload);
    this.#responseBytes += weight(payload, this.#values);
    this.#arrived.wake();
    return this.#responseBytes >= IN_PROCESS_WINDOW_BYTES ? this.responsesDrained.wait() : undefined;
  }

  ended(status: CallStatus): void {
    if (this.#status !== undefined) return;
    this.#status = status;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#resolveHeaders(new Metadata());
    for (const cb of this.#doneCallbacks.splice(0)) cb(status);
    this.#arrived.wake();
    this.responsesDrained.wake();
  }

  #resolveHeaders(metadata: Metadata): void {
    if (this.#headers !== undefined) return;
    this.#headers = metadata;
    for (const w of this.#headerWaiters.splice(0)) w(metadata);
  }

  // ---- outbound ----

  write(payload: Uint8Array): Promise<void> | undefined {
    if (this.#status !== undefined) return undefined;
    const max = this.#options.maxSendMessageBytes;
    if (max >= 0 && payload.length > max && !this.#values) {
      const err = new RpcError(StatusCode.RESOURCE_EXHAUSTED, `Cannot send message: ${payload.length} bytes is over the limit of ${max}`);
      this.cancel(err);
      throw err;
    }
    return this.#server.receive(payload);
  }

  sendUnary(payload: Uint8Array): void {
    try {
      void this.write(payload);
    } catch {
      return; // the call has ended with the error (write cancels it)
    }
    this.halfClose();
  }

  halfClose(): void {
    if (this.#status === undefined) this.#server.halfClose();
  }

  cancel(reason: RpcError = new RpcError(StatusCode.CANCELLED, 'Call cancelled')): void {
    if (this.#status !== undefined) return;
    this.ended({ code: reason.code, details: reason.details, metadata: reason.trailingMetadata });
    this.#server.clientCancelled(reason);
  }

  // ---- inbound ----

  initialMetadata(): Promise<Metadata> {
    if (this.#headers !== undefined) return Promise.resolve(this.#headers);
    return new Promise((resolve) => this.#headerWaiters.push(resolve));
  }

  status(): Promise<CallStatus> {
    if (this.#status !== undefined) return Promise.resolve(this.#status);
    return new Promise((resolve) => this.#doneCallbacks.push(resolve));
  }

  onDone(callback: (status: CallStatus) => void): void {
    if (this.#status !== undefined) callback(this.#status);
    else this.#doneCallbacks.push(callback);
  }

  #take(): Uint8Array {
    const payload = this.#responses.shift()!;
    this.#responseBytes -= weight(payload, this.#values);
    if (this.#responseBytes < IN_PROCESS_WINDOW_BYTES) this.responsesDrained.wake();
    return payload;
  }

  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      if (this.#responses.length > 0) return this.#take();
      const status = this.#status;
      if (status !== undefined) {
        if (status.code === StatusCode.OK) return undefined;
        throw statusError(status);
      }
      await this.#arrived.wait();
    }
  }

  async response(): Promise<Uint8Array> {
    return this.#single(await this.status());
  }

  responseNow(): Uint8Array | undefined {
    return this.#status === undefined ? undefined : this.#single(this.#status);
  }

  #single(status: CallStatus): Uint8Array {
    if (status.code !== StatusCode.OK) throw statusError(status);
    if (this.#responses.length !== 1) {
      const what = this.#responses.length === 0 ? 'no response message' : 'more than one response message';
      throw new RpcError(StatusCode.INTERNAL, `Server sent ${what} to a unary call`, { trailingMetadata: status.metadata });
    }
    return this.#responses[0]!;
  }
}

function statusError(status: CallStatus): RpcError {
  return new RpcError(status.code, status.details, { trailingMetadata: status.metadata });
}

/**
 * The client transport of an in-process channel: always ready, each call handed to the
 * server's sink as it opens. A stopped server answers UNAVAILABLE, as over the network.
 * @internal
 */
export class InProcessTransport implements ClientTransport {
  readonly secure = false;
  readonly passesValues: boolean;
  readonly #entry: InProcessEntry;

  /**
   * @param server - the server whose pipeline the calls run through
   * @param passesValues - hand messages over as values, not serialized
   */
  constructor(server: InProcessServer, passesValues: boolean) {
    this.passesValues = passesValues;
    const entry = (server as Partial<InProcessServer> | null)?.[inProcessSink] as InProcessEntry | undefined;
    if (typeof entry?.accept !== 'function') throw new TypeError('Cannot create in-process channel: expected a Server');
    this.#entry = entry;
  }

  getState(): 'READY' {
    return 'READY';
  }

  onStateChange(): void {}

  ready(): boolean {
    return true;
  }

  open(options: ClientCallOptions): ClientCallPort {
    const call = new InProcessClientCall(options, this.#entry.limits, this.passesValues);
    this.#entry.accept(call.serverEnd);
    return call;
  }

  lastError(): string {
    return '';
  }

  resetBackoff(): void {}

  close(): void {}
}
