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

/**
 * An AbortSignal that aborts with `reason()` at `at` (milliseconds since the epoch; Infinity
 * never). `dispose` clears its timer, so a wait that ends early leaves nothing behind. The
 * timer is unref'd: whoever waits decides what keeps the process alive.
 * @internal
 */
export function deadlineSignal(at: number, reason: () => unknown): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  if (at === Infinity) return { signal: controller.signal, dispose: noop };
  const ms = at - Date.now();
  if (ms <= 0) {
    controller.abort(reason());
    return { signal: controller.signal, dispose: noop };
  }
  // Past setTimeout's 32-bit range the deadline is as good as never.
  if (ms > 2_147_483_647) return { signal: controller.signal, dispose: noop };
  const timer = setTimeout(() => controller.abort(reason()), ms);
  // A browser's timers are numbers, without unref (the browser client runs this too).
  timer.unref?.();
  return { signal: controller.signal, dispose: () => clearTimeout(timer) };
}

/**
 * Settles as `promise` does, or rejects with the signal's reason as soon as `signal` aborts,
 * removing its listener either way.
 * @internal
 */
export function raceSignal<T>(signal: AbortSignal, promise: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const remove = onAbort(signal, reject);
    promise.then(
      (value) => {
        remove();
        resolve(value);
      },
      (err: unknown) => {
        remove();
        reject(err);
      },
    );
  });
}

function noop(): void {}
