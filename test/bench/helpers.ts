// Small statistics helpers shared by benchmarks.
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export function report(
  name: string,
  value: number,
  unit: string,
  baseline?: { name: string; value: number },
  goal?: string,
): void {
  const ratio = baseline
    ? `  = ${(value / baseline.value).toFixed(2)}x ${baseline.name} (${baseline.value.toFixed(1)} ${unit})`
    : '';
  console.log(`${name}: ${value.toFixed(1)} ${unit}${ratio}${goal ? `  [goal: ${goal}]` : ''}`);
}

/** Worst delay of a 5 ms interval timer while `work` runs. */
export async function worstDelay(work: () => Promise<unknown> | unknown): Promise<{ worst: number; ms: number }> {
  let worst = 0;
  let last = performance.now();
  const iv = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 5);
    last = now;
  }, 5);
  const t = performance.now();
  await work();
  const ms = performance.now() - t;
  // A synchronous `work` blocks the timer until it returns: let the late tick land.
  await new Promise((r) => setTimeout(r, 10));
  clearInterval(iv);
  return { worst, ms };
}
