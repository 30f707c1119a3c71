// What a hint line says at a given width. Each hint has a priority: when the line does not fit,
// labels shorten first, then hints drop, the least important (and, among equals, the rightmost)
// first; `? keys`, with priority 0, drops last and shortens to `?`, so the full list stays
// reachable at any size. The same rule serves every pane's and overlay's hint line.
import type { StudioState, StudioStore } from '../src/store/index.ts';
import type { Binding } from './keymap.ts';

export interface Hint {
  /** The key(s) as shown: 'enter', 'PgUp/PgDn'. Empty for a plain message (a state, not a key). */
  key: string;
  label: string;
  /** The label on narrow screens ('' shows the key alone). */
  short?: string;
  /** 0 never drops (only shortens), 1 essential, 2 useful, 3 nice to have. */
  priority: 0 | 1 | 2 | 3;
}

/** How a key binding appears in its pane's hint line (views/keymap.ts Binding.hint). */
export interface HintSpec extends Omit<Hint, 'key' | 'label'> {
  /** Defaults to the binding's first key. */
  key?: string;
  /** A function for labels that depend on state; null hides the hint then. */
  label: string | ((s: StudioState) => string | null);
}

export const HELP_HINT: Hint = { key: '?', label: 'all keys', short: '', priority: 0 };

export const SEPARATOR = '  ';

const itemText = (h: Hint, short: boolean): string => {
  const label = short && h.short !== undefined ? h.short : h.label;
  return h.key && label ? `${h.key} ${label}` : h.key || label;
};

export const lineWidth = (items: Hint[], short: boolean): number =>
  items.reduce((n, h, i) => n + itemText(h, short).length + (i ? SEPARATOR.length : 0), 0);

/**
 * The hints that fit in `width` columns, in their order, with the labels to show. `reserved`
 * columns are taken by a title in front of them.
 */
export function fitHints(hints: Hint[], width: number, reserved = 0): { key: string; label: string }[] {
  const room = width - reserved;
  const shown = (items: Hint[], short: boolean) =>
    items.map((h) => ({ key: h.key, label: short && h.short !== undefined ? h.short : h.label }));
  if (lineWidth(hints, false) <= room) return shown(hints, false);
  // Drop order: highest priority number first, rightmost first among equals; priority 0 never.
  const dropOrder = hints
    .map((h, i) => ({ h, i }))
    .filter(({ h }) => h.priority > 0)
    .sort((a, b) => b.h.priority - a.h.priority || b.i - a.i)
    .map(({ h }) => h);
  let kept = hints;
  for (;;) {
    if (lineWidth(kept, true) <= room) return relengthen(kept, room);
    const next = dropOrder.shift();
    if (!next) break;
    kept = kept.filter((h) => h !== next);
  }
  // Only priority-0 hints are left and still too wide: keys alone.
  return kept.map((h) => ({ key: h.key, label: h.key ? '' : h.label }));
}

/** Short labels for `kept` (which fit so), then full ones again where room is left, most important first. */
function relengthen(kept: Hint[], room: number): { key: string; label: string }[] {
  const full = new Set<Hint>();
  const width = () => kept.reduce((n, h, i) => n + itemText(h, !full.has(h)).length + (i ? SEPARATOR.length : 0), 0);
  const byImportance = kept
    .map((h, i) => ({ h, i }))
    .sort((a, b) => a.h.priority - b.h.priority || a.i - b.i)
    .map(({ h }) => h);
  for (const h of byImportance) {
    full.add(h);
    if (width() > room) full.delete(h);
  }
  return kept.map((h) => ({ key: h.key, label: full.has(h) || h.short === undefined ? h.label : h.short }));
}

/** The plain text of fitted hints, as the line shows it. */
export const hintsText = (items: { key: string; label: string }[]): string =>
  items.map((h) => (h.key && h.label ? `${h.key} ${h.label}` : h.key || h.label)).join(SEPARATOR);

/** A title cut to `room` columns ('…' marks the cut). */
export const cutTitle = (title: string, room: number): string =>
  title.length <= room ? title : room <= 0 ? '' : `${title.slice(0, room - 1)}…`;

/** The hint line of a set of bindings, in their order, as the state now labels them. */
export function bindingHints(bindings: Binding[], store: StudioStore): Hint[] {
  const s = store.getState();
  return bindings.flatMap((b): Hint[] => {
    if (!b.hint) return [];
    const label = typeof b.hint.label === 'function' ? b.hint.label(s) : b.hint.label;
    if (label === null) return [];
    return [{ ...b.hint, key: b.hint.key ?? b.keys[0]!, label }];
  });
}
