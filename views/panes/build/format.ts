// Text the Build pane shows for a build record: one history row, the trigger summary, the
// cause line. Pure functions, so the pane and its tests agree on the wording.
import { formatPath } from '../../../src/core/config/types.ts';
import type { BuildRecord, ChangeEntry } from '../../../src/core/watch/types.ts';
import { sanitizeForTerminal } from '../../../src/core/text/sanitize.ts';

export function formatMs(ms: number | null): string {
  if (ms === null) return '…';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export const OUTCOME_LABEL: Record<BuildRecord['outcome'], string> = {
  running: 'building',
  ok: 'ok',
  failed: 'FAILED',
  cancelled: 'cancelled',
  held: 'held',
};

/** "image/bin/app, Occlum.json +3" — what set the build off. */
export function triggerSummary(r: BuildRecord, max = 2): string {
  if (r.changes.length === 0)
    return r.trigger === 'initial' ? 'first build' : r.trigger === 'manual' ? 'manual build' : 'no files';
  const files = r.changes.filter((c) => !c.isDir);
  const shown = (files.length > 0 ? files : r.changes).slice(0, max).map(changeLabel);
  const more = r.changes.length - shown.length;
  return shown.join(', ') + (more > 0 ? ` +${more}` : '');
}

export function changeLabel(c: ChangeEntry): string {
  const mark = c.kind === 'added' ? '+' : c.kind === 'removed' ? '-' : '~';
  // A source outside the instance (a bom's, a prebuild's) by its own path, not as ../../../usr/bin/x.
  const shown = c.rel === '..' || c.rel.startsWith('../') ? c.path : c.rel;
  return `${mark}${sanitizeForTerminal(shown)}`;
}

/** The history row: id, outcome, duration, re-packed/reused, MAC prefix, trigger. */
export function historyRow(r: BuildRecord): string {
  const packed = r.repacked !== null ? `${r.repacked}/${r.reused ?? 0}` : '-';
  const mac = r.imageMac ? r.imageMac.slice(0, 11) : '-'.padEnd(11);
  return [
    `#${r.id}`.padEnd(5),
    OUTCOME_LABEL[r.outcome].padEnd(9),
    formatMs(r.durationMs).padStart(8),
    packed.padStart(10),
    mac,
    triggerSummary(r),
  ].join('  ');
}

export const HISTORY_HEADER = [
  '#'.padEnd(5),
  'outcome'.padEnd(9),
  'time'.padStart(8),
  'new/reused'.padStart(10),
  'image MAC'.padEnd(11),
  'trigger',
].join('  ');

/** "Occlum.json resource_limits.user_space_size" for a cause with a field. */
export function causeField(r: BuildRecord): string | null {
  return r.cause?.configPath ? sanitizeForTerminal(formatPath(r.cause.configPath)) : null;
}
