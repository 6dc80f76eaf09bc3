import { AbortError } from 'abort-controller-x';
import { Metadata, RpcError, StatusCode, type Compression } from '../protocol/index.js';
import type { PeerInfo, ServerCallPort, ServerCallStatus } from '../transport/index.js';
import {
  ACK,
  CANCEL,
  COMPRESSION,
  END,
  HALF_CLOSE,
  HEADERS,
  MESSAGE,
  MORE,
  REPORT,
  REQUEST,
  START,
  WINDOW,
  transferable,
  type CallTask,
  type FromWorker,
  type MetadataPairs,
  type ToWorker,
} from './worker-protocol.js';

const OPEN = 0;
const HEADERS_SENT = 1;
const FINISHED = 2;
const CANCELLED = 3;

/** The worker's channel to the main thread, shared by the calls it runs one after another. @internal */
export interface WorkerLink {
  /** Posts a message to the main thread, moving the buffers in `transfer`. */
  post(message: FromWorker, transfer?: ArrayBuffer[]): void;
  /**
   * Posts a call's status. It may wait for the end of the current event-loop turn, so that the
   * DONE of a handler that returns in that turn goes with it as one message.
   */
  end(message: FromWorker & { t: typeof END }, transfer: ArrayBuffer[]): void;
  /** Takes the messages already queued for this worker, without waiting for the event loop. */
  drain(): void;
}

/**
 * The worker's side of a call served by a worker pool: a ServerCallPort over the worker's channel
 * to the main thread, so the worker runs the same dispatcher and ServerContext as the main thread
 * (the same rules for abort, setCode, trailers, UNKNOWN). The main thread owns the real port,
 * its deadline timer and its limits; it tells this one when the call is cancelled.
 * @internal
 */
export class WorkerCallPort implements ServerCallPort {
  readonly path: string;
  readonly metadata: Metadata;
  readonly deadline: number;
  readonly authority: string | undefined;
  headersSent = false;
  lastMessageCompressed: boolean;
  status: ServerCallStatus | undefined;

  /** The call's id in the worker's messages. */
  readonly id: number;
  readonly #link: WorkerLink;
  readonly #task: CallTask;
  readonly #maxSend: number;
  readonly #controller = new AbortController();
  #state = OPEN;
  #reason: RpcError | undefined;
  #done: Array<(cancelled: boolean) => void> = [];
  #doneRan = false;
  // Responses posted and not yet written by the main thread (ACK), and who waits for room.
  #unacked = 0;
  #room: (() => void) | undefined;
  // Requests the main thread sent ahead of the handler's reads (at most REQUEST_CREDIT).
  #requests: Array<{ bytes: ArrayBuffer; compressed: boolean }> = [];
  #halfClosed = false;
  #readable: (() => void) | undefined;

  constructor(id: number, task: CallTask, link: WorkerLink) {
    this.id = id;
    this.#task = task;
    this.#link = link;
    this.#maxSend = task.maxSendMessageBytes;
    this.path = task.path;
    this.metadata = new Metadata(task.metadata);
    this.deadline = task.deadline;
    this.authority = task.authority;
    this.lastMessageCompressed = task.requestCompressed;
  }

  // Both read the channel first: a CPU-bound handler that never yields to the event loop still
  // sees a cancel when it checks `context.isActive()` or `context.signal.aborted`.
  get signal(): AbortSignal {
    if (this.#state < FINISHED) this.#link.drain();
    return this.#controller.signal;
  }

  get active(): boolean {
    if (this.#state < FINISHED) this.#link.drain();
    return this.#state < FINISHED;
  }

  get cancelled(): boolean {
    return this.#state === CANCELLED;
  }

  peerInfo(): PeerInfo {
    return { peer: this.#task.peer, auth: this.#task.auth, identityKey: this.#task.identityKey };
  }

  onDone(callback: (cancelled: boolean) => void): void {
    if (this.#doneRan) callback(this.#state === CANCELLED);
    else this.#done.push(callback);
  }

  /** Takes one message of this call from the main thread. */
  receive(message: Exclude<ToWorker, { t: typeof START }>): void {
    switch (message.t) {
      case REQUEST:
        this.#requests.push(message);
        this.#wakeReader();
        break;
      case HALF_CLOSE:
        this.#halfClosed = true;
        this.#wakeReader();
        break;
      case ACK:
        this.#unacked--;
        this.#wakeWriter();
        break;
      case CANCEL:
        this.#markCancelled(new RpcError(message.code, message.details));
        break;
    }
  }

  readUnary(): Promise<Uint8Array> {
    const request = this.#task.request;
    if (request === undefined) return Promise.reject(new RpcError(StatusCode.INTERNAL, `Cannot accept request: ${this.path} got no request message`));
    return Promise.resolve(new Uint8Array(request));
  }

  async *requests<T>(decode: (bytes: Uint8Array) => T): AsyncGenerator<T, void, undefined> {
    for (;;) {
      if (this.#state === CANCELLED) throw abortError(this.#reason);
      const next = this.#requests.shift();
      if (next !== undefined) {
        // One read frees one place: the main thread reads the client only this far ahead.
        this.#post({ t: MORE, id: this.id });
        this.lastMessageCompressed = next.compressed;
        let value: T;
        try {
          value = decode(new Uint8Array(next.bytes));
        } catch (err) {
          // As the transports do: the status goes out even if the handler swallows the error.
          if (err instanceof RpcError) this.finish(err.code, err.details);
          throw err;
        }
        yield value;
        continue;
      }
      if (this.#halfClosed) return;
      await new Promise<void>((resolve) => (this.#readable = resolve));
    }
  }

  setResponseCompression(compression: Compression): void {
    if (this.#state === OPEN) this.#post({ t: COMPRESSION, id: this.id, compression });
  }

  sendHeaders(metadata?: Metadata): void {
    if (this.#state !== OPEN) return;
    this.#state = HEADERS_SENT;
    this.headersSent = true;
    this.#post({ t: HEADERS, id: this.id, metadata: metadata === undefined ? [] : pairsOf(metadata) });
  }

  send(payload: Uint8Array, compress: boolean): Promise<void> | undefined {
    if (this.#state >= FINISHED) return undefined;
    this.#checkSize(payload);
    this.#state = HEADERS_SENT;
    this.headersSent = true;
    const bytes = transferable(payload);
    this.#post({ t: MESSAGE, id: this.id, bytes, compress }, [bytes]);
    this.#unacked++;
    // The main thread ACKs each message once port.send has room again: past WINDOW messages
    // in flight the handler's next `yield` waits, so a client that does not read pauses it.
    if (this.#unacked < WINDOW) return undefined;
    return new Promise<void>((resolve) => (this.#room = resolve));
  }

  sendUnary(payload: Uint8Array, compress: boolean, trailers: Metadata | undefined, details: string): Promise<void> | undefined {
    if (this.#state >= FINISHED) return undefined;
    this.#checkSize(payload);
    const response = transferable(payload);
    this.#end({ t: END, id: this.id, code: StatusCode.OK, details, trailers: trailers === undefined ? undefined : pairsOf(trailers), response, compress, cancel: false }, [response]);
    return undefined;
  }

  finish(code: StatusCode, details: string, trailers?: Metadata): void {
    if (this.#state >= FINISHED) return;
    this.#end({ t: END, id: this.id, code, details, trailers: trailers === undefined ? undefined : pairsOf(trailers), response: undefined, compress: true, cancel: false }, []);
  }

  cancel(reason: RpcError, sendStatus: boolean): void {
    if (this.#state >= FINISHED) return;
    this.#post({ t: END, id: this.id, code: reason.code, details: reason.details, trailers: undefined, response: undefined, compress: true, cancel: !sendStatus });
    this.#markCancelled(reason);
  }

  /** Reports an error to the main thread's `onHandlerError`. */
  report(error: unknown): void {
    try {
      this.#link.post({ t: REPORT, id: this.id, error });
    } catch {
      // Not cloneable (it holds a function, say): its text still reaches the report.
      this.#link.post({ t: REPORT, id: this.id, error: new Error(String(error)) });
    }
  }

  #checkSize(payload: Uint8Array): void {
    if (this.#maxSend >= 0 && payload.length > this.#maxSend) {
      throw new RpcError(StatusCode.RESOURCE_EXHAUSTED, `Cannot send message: ${payload.length} bytes is over the limit of ${this.#maxSend}`);
    }
  }

  #end(message: FromWorker & { t: typeof END }, transfer: ArrayBuffer[]): void {
    this.#link.end(message, transfer);
    this.#state = FINISHED;
    this.status = { code: message.code, details: message.details };
    this.#runDone();
  }

  #markCancelled(reason: RpcError): void {
    if (this.#state >= FINISHED) return;
    this.#state = CANCELLED;
    this.#reason = reason;
    this.status = { code: reason.code, details: reason.details };
    this.#controller.abort(reason);
    this.#wakeReader();
    this.#wakeWriter();
    this.#runDone();
  }

  #runDone(): void {
    this.#doneRan = true;
    const callbacks = this.#done.splice(0);
    const cancelled = this.#state === CANCELLED;
    for (const cb of callbacks) {
      try {
        cb(cancelled);
      } catch (err) {
        process.emitWarning(`A call's done callback threw: ${String(err)}`);
      }
    }
  }

  #wakeReader(): void {
    const wake = this.#readable;
    this.#readable = undefined;
    wake?.();
  }

  #wakeWriter(): void {
    if (this.#unacked >= WINDOW && this.#state < FINISHED) return;
    const wake = this.#room;
    this.#room = undefined;
    wake?.();
  }

  #post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
    this.#link.post(message, transfer);
  }
}

/** Metadata as `[key, value]` pairs, to cross a MessagePort. @internal */
export function pairsOf(metadata: Metadata): MetadataPairs {
  return [...metadata];
}

function abortError(reason: RpcError | undefined): Error {
  return Object.assign(new AbortError(reason?.message ?? 'Call cancelled'), { cause: reason }) as Error;
}
