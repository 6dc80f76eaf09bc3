/**
 * Signals and async-iterable helpers shared by every layer.
 * @packageDocumentation
 */
export { defer, type Deferred } from './defer.js';
export { onAbort, linkSignals, deadlineSignal, raceSignal } from './signals.js';
