// The host build's file loops are synchronous syscalls (thousands of lstat/link per build); run
// straight through they block the event loop for 100 ms and more on a 2000-file image, so the
// TUI stops rendering and chokidar drops events. They call this between items instead: it hands
// the loop back (setImmediate: timers, I/O and renders run) once every few ms of work. 4 ms, as
// two loops interleave during a build (staging, linking the previous secure image): a turn of
// the event loop may run one slice of each.

const SLICE_MS = 4;

export interface Yielder {
  /** Resolves at once inside a slice; after SLICE_MS of work, on the next turn of the loop. */
  (): Promise<void> | undefined;
  /** How many times the loop was handed back (tests, bench). */
  readonly yields: number;
}

export function yielder(sliceMs = SLICE_MS): Yielder {
  let start = performance.now();
  let yields = 0;
  const fn = (() => {
    if (performance.now() - start < sliceMs) return undefined;
    yields++;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        start = performance.now();
        resolve();
      }),
    );
  }) as Yielder;
  Object.defineProperty(fn, 'yields', { get: () => yields });
  return fn;
}
