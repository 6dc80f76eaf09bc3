/**
 * Signals and async-iterable helpers shared by every layer.
 * @packageDocumentation
 */
/** @internal Shared inside lib/ only; stripInternal drops this re-export from the .d.ts. */
export { defer, type Deferred } from './defer.js';
/** @internal Shared inside lib/ only. */
export { onAbort, linkSignals, deadlineSignal, raceSignal } from './signals.js';
/** @internal Shared inside lib/ only. */
export { onlyValue } from './only.js';
/** @internal Base64 without Buffer, for code the browser client ships. */
export { base64Encode, base64Decode } from './base64.js';
/** @internal gRPC's reconnect backoff (doc/connection-backoff.md). */
export { Backoff } from './backoff.js';
