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

export function report(name: string, value: number, unit: string, baseline?: { name: string; value: number }, goal?: string): void {
  const ratio = baseline ? `  = ${(value / baseline.value).toFixed(2)}x ${baseline.name} (${baseline.value.toFixed(1)} ${unit})` : '';
  console.log(`${name}: ${value.toFixed(1)} ${unit}${ratio}${goal ? `  [goal: ${goal}]` : ''}`);
}
