// Wall time per stage of the last host build and the last run preparation in this process, so
// the dev-loop bench can say where a save-to-first-output goes (test/bench/watch.bench.ts).
// Diagnostics only: nothing decides anything on these numbers.

export type StageTimes = Record<string, number>;

export const lastTimes: { build: StageTimes; run: StageTimes } = { build: {}, run: {} };

/** A stopwatch that records the time since the previous mark under each stage name. */
export function stopwatch(into: StageTimes): (stage: string) => void {
  for (const k of Object.keys(into)) delete into[k];
  let t = performance.now();
  return (stage) => {
    const now = performance.now();
    into[stage] = (into[stage] ?? 0) + (now - t);
    t = now;
  };
}
