/**
 * Runs `onAbort` once when `signal` aborts (at once if it already has), and returns a function
 * that removes the listener: the add/remove pair STYLE.md §3 asks for.
 * @internal
 */
export function onAbort(signal: AbortSignal, listener: (reason: unknown) => void): () => void {
  if (signal.aborted) {
    listener(signal.reason);
    return noop;
  }
  const handler = (): void => listener(signal.reason);
  signal.addEventListener('abort', handler, { once: true });
  return () => signal.removeEventListener('abort', handler);
}

/**
 * An AbortSignal that aborts when any of `signals` does, with that signal's reason. The
 * returned `dispose` removes the listeners it added.
 * @internal
 */
export function linkSignals(signals: ReadonlyArray<AbortSignal | undefined>): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const removers: Array<() => void> = [];
  const dispose = (): void => {
    for (const remove of removers.splice(0)) remove();
  };
  for (const s of signals) {
    if (s === undefined) continue;
    removers.push(
      onAbort(s, (reason) => {
        controller.abort(reason);
        dispose();
      }),
    );
    if (controller.signal.aborted) break;
  }
  return { signal: controller.signal, dispose };
}

function noop(): void {}
