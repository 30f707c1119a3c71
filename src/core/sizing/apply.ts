// A recommendation as edits (format-preserving, through core/config/edit.ts) and as text lines.
import { applyOps, type EditOp } from '../config/edit.ts';
import { canonicalOrder } from '../config/rules/structure.ts';
import { formatPath } from '../config/types.ts';
import type { FieldRecommendation, Recommendation } from './types.ts';

export function recommendationOps(rec: Recommendation): EditOp[] {
  return rec.fields
    .filter((f) => f.change)
    .map((f) => ({ kind: 'set', path: f.path, value: f.value, order: canonicalOrder(String(f.path[0])) }));
}

/** The config text with the recommendation written in; unchanged text when nothing changes. */
export function applyRecommendation(text: string, rec: Recommendation): string {
  const ops = recommendationOps(rec);
  return ops.length ? applyOps(text, ops) : text;
}

const MARK: Record<FieldRecommendation['verdict'], string> = {
  ok: ' ',
  'too-small': '!',
  'too-large': '~',
  missing: '+',
};

/** One line per field: mark, path = value (was …): measured; margin; reason [— consequence]. */
export function formatField(f: FieldRecommendation): string {
  const was = f.current === null ? 'absent' : String(f.current);
  const change = f.change ? `${JSON.stringify(f.value)} (was ${was})` : `${JSON.stringify(f.value)} (kept)`;
  const flag =
    f.verdict === 'too-small'
      ? ` — TOO SMALL: ${f.consequence}`
      : f.verdict === 'too-large'
        ? ` — TOO LARGE: ${f.consequence}`
        : '';
  return `${MARK[f.verdict]} ${formatPath(f.path)} = ${change}: ${f.measured}; margin ${f.margin}; ${f.reason}${flag}`;
}
