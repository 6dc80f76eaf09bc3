import { StatusCode, type Compression, type MetadataValue } from '../protocol/index.js';

/*
 * What crosses between the main thread and a worker of a worker pool (DESIGN.md §1). Each worker
 * has one long-lived channel, its own `postMessage`, and runs one call at a time; every message of
 * a call carries the call's id, so a late message of an earlier call is told apart and dropped.
 *
 * A busy worker may be sent one call ahead (a small unary request), so that it starts that call
 * as soon as its handler returns, without waiting for the main thread. Such a START names a word
 * of the worker's claim words (a SharedArrayBuffer), which holds the call's id: the worker runs
 * the call only if it swaps the id out first; the main thread takes the call back (for a worker
 * that is free sooner, or on a cancel) by swapping it out itself. Exactly one of them wins.
 *
 *   main thread                                         worker
 *   ───────────                                         ──────
 *                                                   ◄── { t: READY, description } module loaded
 *                                                       (or { t: LOAD_FAILED, error }, then exit)
 *   { t: START, id, claim, task } (unary request) ────►  runCall over a WorkerCallPort
 *       (to a busy worker: held until its handler returns, then run if the claim word still holds id)
 *   { t: REQUEST, id, bytes } (≤ `credit` ahead) ─────►  handler pulls; { t: MORE, id } ◄── each pull
 *   { t: HALF_CLOSE, id } ────────────────────────────►  requests end
 *   { t: ACK, id } after port.send's drain ───────────►  a `yield` waits past WINDOW unacked
 *   { t: CANCEL, id, code, details } ─────────────────►  signal aborts, requests throw
 *   ◄── { t: HEADERS } / { t: COMPRESSION } / { t: MESSAGE, bytes } / { t: REPORT, error }
 *   ◄── { t: END, code, details, trailers, response? }  the status (and a unary response)
 *   ◄── { t: DONE, id }                                  the handler has returned: the worker is free
 *       (an END posted in the turn the handler returns in carries `done: true` instead: one message)
 *
 * Message bytes are copied once into a fresh ArrayBuffer and transferred, never cloned.
 */

/** Response messages a worker may have in flight before it waits for an ACK. @internal */
export const WINDOW = 8;
/** Request messages the main thread may send ahead of the handler's reads. @internal */
export const REQUEST_CREDIT = 8;
/**
 * Claim words per worker. A word holding an id is a call not yet decided; the main thread writes
 * a new id only into a word that holds 0. A worker has at most two undecided calls (the one it was
 * promoted to and the one sent ahead of it), so a word is always free. @internal
 */
export const CLAIM_WORDS = 4;
/** The START of a call not sent ahead names no claim word. @internal */
export const NO_CLAIM = -1;

/** main → worker @internal */
export const REQUEST = 0;
/** main → worker @internal */
export const HALF_CLOSE = 1;
/** main → worker @internal */
export const ACK = 2;
/** main → worker @internal */
export const CANCEL = 3;
/** main → worker @internal */
export const START = 4;
/** worker → main @internal */
export const HEADERS = 10;
/** worker → main @internal */
export const COMPRESSION = 11;
/** worker → main @internal */
export const MESSAGE = 12;
/** worker → main @internal */
export const REPORT = 13;
/** worker → main @internal */
export const END = 14;
/** worker → main @internal */
export const MORE = 15;
/** worker → main @internal */
export const DONE = 16;
/** worker → main @internal */
export const READY = 17;
/** worker → main @internal */
export const LOAD_FAILED = 18;

/** Metadata as it crosses: `[key, value]` pairs. @internal */
export type MetadataPairs = Array<[string, MetadataValue]>;

/** A message from the main thread to a worker. @internal */
export type ToWorker =
  | StartMessage
  | { readonly t: typeof REQUEST; readonly id: number; readonly bytes: ArrayBuffer; readonly compressed: boolean }
  | { readonly t: typeof HALF_CLOSE; readonly id: number }
  | { readonly t: typeof ACK; readonly id: number }
  | { readonly t: typeof CANCEL; readonly id: number; readonly code: StatusCode; readonly details: string };

/** The message that hands a call to a worker. @internal */
export interface StartMessage {
  readonly t: typeof START;
  readonly id: number;
  /** The index of the claim word holding `id` for a call sent ahead, or NO_CLAIM. */
  readonly claim: number;
  readonly task: CallTask;
}

/** A message of one call from a worker to the main thread. @internal */
export type FromWorker =
  | { readonly t: typeof HEADERS; readonly id: number; readonly metadata: MetadataPairs }
  | { readonly t: typeof COMPRESSION; readonly id: number; readonly compression: Compression }
  | { readonly t: typeof MESSAGE; readonly id: number; readonly bytes: ArrayBuffer; readonly compress: boolean }
  | { readonly t: typeof REPORT; readonly id: number; readonly error: unknown }
  | { readonly t: typeof MORE; readonly id: number }
  | { readonly t: typeof DONE; readonly id: number }
  | {
      readonly t: typeof END;
      readonly id: number;
      readonly code: StatusCode;
      readonly details: string;
      readonly trailers: MetadataPairs | undefined;
      /** The response of a unary-response call, sent with an OK status. */
      readonly response: ArrayBuffer | undefined;
      readonly compress: boolean;
      /** `context.cancel()`: the main thread cancels the call with this code instead of sending it. */
      readonly cancel: boolean;
      /** The handler has returned as well: this END stands for the DONE that would follow it. */
      readonly done?: boolean;
    };

/** What a worker thread of a pool is started with. @internal */
export interface WorkerData {
  /** The handler module's URL. */
  readonly module: string;
  /** Added to the thread's nice value (Linux), before the module loads. */
  readonly niceIncrement: number;
  /** Run the thread under SCHED_IDLE (Linux) instead, before the module loads. */
  readonly idlePolicy: boolean;
  /** This worker's CLAIM_WORDS claim words (Int32), shared with the main thread. */
  readonly claims: SharedArrayBuffer;
}

/** A worker's own messages to the main thread, about its module. @internal */
export type WorkerState =
  | { readonly t: typeof READY; readonly description: Description; readonly warning: string | undefined }
  | { readonly t: typeof LOAD_FAILED; readonly error: unknown };

/** One call handed to a worker. @internal */
export interface CallTask {
  readonly path: string;
  readonly metadata: MetadataPairs;
  /** Milliseconds since the epoch, or Infinity. */
  readonly deadline: number;
  readonly authority: string | undefined;
  readonly peer: string;
  readonly auth: Record<string, Uint8Array[]>;
  readonly identityKey: string | null;
  /** The request of a unary-request call, read whole before the task was queued. */
  readonly request: ArrayBuffer | undefined;
  readonly requestCompressed: boolean;
  /** The server's `grpc.max_send_message_length`, checked in the worker as a transport would. */
  readonly maxSendMessageBytes: number;
}

/** One method a worker module serves. @internal */
export interface WorkerMethod {
  readonly path: string;
  readonly requestStreaming: boolean;
  readonly responseStreaming: boolean;
}

/** What a worker's module serves, sent once it has loaded. @internal */
export interface Description {
  readonly methods: WorkerMethod[];
  readonly services: string[];
}

/**
 * `bytes` copied into a fresh ArrayBuffer of its own, ready to transfer: a Buffer from the
 * transport may be a view of a shared pool, which must not be detached.
 * @internal
 */
export function transferable(bytes: Uint8Array): ArrayBuffer {
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return copy;
}
