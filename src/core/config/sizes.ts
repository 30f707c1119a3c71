// Occlum size strings ("32MB", "256 MB"), parsed exactly like parse_memory_size in
// tools/gen_internal_conf and the LibOS: trim, then the string must END with KB, MB, GB, TB
// or B (checked in that order, case-sensitive, binary multiples); the rest, trimmed, must be
// an unsigned integer.

export const PAGE = 4096;
export const KB = 1024;
export const MB = 1024 ** 2;
export const GB = 1024 ** 3;
export const TB = 1024 ** 4;

const UNITS: [string, number][] = [
  ['KB', KB],
  ['MB', MB],
  ['GB', GB],
  ['TB', TB],
  ['B', 1],
];

export type SizeResult =
  | { ok: true; bytes: number; unit: string }
  | { ok: false; reason: 'no-unit' | 'no-number' | 'too-large'; suggestion?: string };

export function parseSize(raw: string): SizeResult {
  const s = raw.trim();
  for (const [unit, mult] of UNITS) {
    if (!s.endsWith(unit)) continue;
    const num = s.slice(0, -unit.length).trim();
    if (!/^\+?[0-9]+$/.test(num)) return { ok: false, reason: 'no-number', suggestion: suggestSize(s) };
    const n = Number(num);
    const bytes = n * mult;
    // usize in the Rust parser: values past 2^64 overflow; past 2^53 we cannot represent exactly.
    if (!Number.isSafeInteger(bytes)) return { ok: false, reason: 'too-large' };
    return { ok: true, bytes, unit };
  }
  return { ok: false, reason: 'no-unit', suggestion: suggestSize(s) };
}

/** A valid spelling of what the user probably meant ("256mb" → "256MB", "1.5GB" → "1536MB"). */
export function suggestSize(s: string): string | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]?)(i?)([bB]?)$/.exec(s.trim());
  if (!m) return undefined;
  const [, num, prefix, , b] = m;
  if (!prefix && !b) return undefined; // a bare number: no way to know the unit
  const unit = prefix ? `${prefix.toUpperCase()}B` : 'B';
  const mult = UNITS.find(([u]) => u === unit)![1];
  const bytes = Number(num) * mult;
  if (!Number.isFinite(bytes)) return undefined;
  if (Number.isInteger(Number(num))) return `${num}${unit}`;
  return Number.isInteger(bytes) ? formatSize(bytes) : undefined;
}

/** Shortest exact spelling: the largest unit that divides the byte count. */
export function formatSize(bytes: number): string {
  for (const [unit, mult] of [
    ['TB', TB],
    ['GB', GB],
    ['MB', MB],
    ['KB', KB],
  ] as [string, number][]) {
    if (bytes >= mult && bytes % mult === 0) return `${bytes / mult}${unit}`;
  }
  return `${bytes}B`;
}

export function roundUpToPage(bytes: number): number {
  return Math.ceil(bytes / PAGE) * PAGE;
}
