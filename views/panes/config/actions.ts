// What the Config pane's keys do, as functions of the store (the keymap calls these; the
// component only renders). Kept apart from the component so tests and the palette share them.
import { formatPath, FS_TYPES, helpFor, type JsonPath } from '../../../src/core/config/index.ts';
import { outline, pathKey, rowIndex, valueAt, type OutlineRow } from '../../../src/core/config/outline.ts';
import { initialValue, isMountArray, mountTemplate } from '../../../src/core/config/templates.ts';
import type { StudioStore } from '../../../src/store/index.ts';

export function rowsOf(store: StudioStore): OutlineRow[] {
  const c = store.getState().config;
  return outline(c.text, c.result?.diagnostics ?? [], new Set(c.collapsed));
}

export function selectedRow(store: StudioStore): { rows: OutlineRow[]; index: number; row: OutlineRow | undefined } {
  const rows = rowsOf(store);
  const index = rowIndex(rows, store.getState().config.selection);
  return { rows, index, row: rows[index] };
}

export function problems(store: StudioStore) {
  return store.getState().config.result?.diagnostics ?? [];
}

export function move(store: StudioStore, delta: number): void {
  const s = store.getState();
  if (s.config.mode === 'problems') {
    const n = problems(store).length;
    if (n) s.configSetProblemIndex(Math.max(0, Math.min(n - 1, s.config.problemIndex + delta)));
    return;
  }
  const { rows, index } = selectedRow(store);
  const next = rows[Math.max(0, Math.min(rows.length - 1, index + delta))];
  if (next) s.configSelect(next.path);
}

export function moveTo(store: StudioStore, where: 'first' | 'last'): void {
  const rows = rowsOf(store);
  const r = where === 'first' ? rows[0] : rows[rows.length - 1];
  if (r) store.getState().configSelect(r.path);
}

/** left/h: collapse an open container, else go to the parent row. */
export function collapseOrParent(store: StudioStore): void {
  const { row } = selectedRow(store);
  if (!row) return;
  const s = store.getState();
  if ((row.kind === 'object' || row.kind === 'array') && !row.collapsed && row.size > 0)
    s.configToggleCollapsed(row.path, true);
  else if (row.path.length > 1) s.configSelect(row.path.slice(0, -1));
}

/** right/l: expand a closed container, else step into its first child. */
export function expandOrChild(store: StudioStore): void {
  const { rows, index, row } = selectedRow(store);
  if (!row) return;
  if (row.collapsed) store.getState().configToggleCollapsed(row.path, false);
  else if (row.size > 0 && rows[index + 1]) store.getState().configSelect(rows[index + 1]!.path);
}

/** enter: edit a scalar, toggle a boolean, open/close a container; in the problems list, jump. */
export function activate(store: StudioStore): void {
  const s = store.getState();
  if (s.config.mode === 'problems') return jumpToProblem(store);
  const { row } = selectedRow(store);
  if (!row) return;
  if (row.kind === 'boolean') return toggleBoolean(store);
  if (row.kind === 'object' || row.kind === 'array') return s.configToggleCollapsed(row.path);
  s.configSetMode('edit');
}

export function toggleBoolean(store: StudioStore): void {
  const { row } = selectedRow(store);
  if (row?.kind !== 'boolean') return;
  store.getState().configEdit({ kind: 'set', path: row.path, value: row.value !== 'true' });
}

/** Text shown in the line editor for a scalar row. */
export function editInitial(row: OutlineRow, text: string): string {
  if (row.kind === 'string') {
    // The row value is truncated for display; take the real value from the document.
    const v = valueAt(text, row.path);
    return typeof v === 'string' ? v : '';
  }
  return row.value;
}

/**
 * Commits what the user typed for the selected scalar. Numbers stay numbers when they parse
 * (a typo such as "3x" is stored as a string so that the type error shows); sizes and other
 * strings stay strings. A JSON string literal ("64MB", as the tree shows values) is its content:
 * the editor shows strings unquoted, and quotes typed out of JSON habit are not part of a size.
 */
export function commitEdit(store: StudioStore, typed: string): void {
  const s = store.getState();
  const { row } = selectedRow(store);
  s.configSetMode('tree');
  if (!row) return;
  let value: unknown = jsonString(typed.trim()) ?? typed;
  const spec = helpFor(row.path);
  const numeric = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(typed.trim());
  if ((row.kind === 'number' || spec?.type === 'u32') && numeric) value = Number(typed.trim());
  else if ((row.kind === 'boolean' || spec?.type === 'bool') && /^(true|false)$/.test(typed.trim()))
    value = typed.trim() === 'true';
  else if (row.kind === 'null' && typed.trim() === 'null') value = null;
  s.configEdit({ kind: 'set', path: row.path, value });
}

function jsonString(text: string): string | undefined {
  if (!/^".*"$/s.test(text)) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Where an `a` press adds: to the selected list (or the list holding the selected item), else
 * a key to the selected object (or the object holding the selected key). */
export type InsertTarget = { kind: 'array'; path: JsonPath; index: number } | { kind: 'object'; path: JsonPath };

export function insertTarget(store: StudioStore): InsertTarget | undefined {
  const { row } = selectedRow(store);
  if (!row) return undefined;
  if (row.kind === 'array') return { kind: 'array', path: row.path, index: row.size };
  if (row.kind === 'object') return { kind: 'object', path: row.path };
  const last = row.path[row.path.length - 1];
  if (typeof last === 'number') return { kind: 'array', path: row.path.slice(0, -1), index: last + 1 };
  return { kind: 'object', path: row.path.slice(0, -1) };
}

/** a: add an item or a key. Mount lists get a template entry; the rest asks for text. */
export function addItem(store: StudioStore): void {
  const s = store.getState();
  const t = insertTarget(store);
  if (!t) return;
  if (t.kind === 'array' && isMountArray(t.path)) {
    const { layer, value } = mountTemplate(t.path);
    s.configEdit({ kind: 'insert', path: [...t.path, t.index], value });
    s.configSelect([...t.path, t.index]);
    s.setFlash(`added a ${layer ? 'sefs layer' : 'hostfs mount'}; edit its fields (types: ${FS_TYPES.join(', ')})`);
    return;
  }
  s.configSetMode('insert');
}

export function insertPrompt(store: StudioStore): string {
  const t = insertTarget(store);
  return t?.kind === 'object' ? `new key in ${t.path.length ? formatPath(t.path) : 'the top level'}: ` : 'new item: ';
}

export function commitInsert(store: StudioStore, typed: string): void {
  const s = store.getState();
  s.configSetMode('tree');
  const t = insertTarget(store);
  if (!t || typed === '') return;
  if (t.kind === 'array') {
    s.configEdit({ kind: 'insert', path: [...t.path, t.index], value: typed });
    s.configSelect([...t.path, t.index]);
    return;
  }
  const path = [...t.path, typed.trim()];
  if (valueAt(s.config.text, path) !== undefined || rowsOf(store).some((r) => pathKey(r.path) === pathKey(path))) {
    s.configSelect(path);
    s.setFlash(`${formatPath(path)} already exists`, 'error');
    return;
  }
  s.configEdit({ kind: 'set', path, value: initialValue(path) });
  s.configSelect(path);
}

/** x: delete the selected key or item. */
export function deleteSelected(store: StudioStore): void {
  const { row, rows, index } = selectedRow(store);
  if (!row) return;
  const s = store.getState();
  s.configEdit({ kind: 'remove', path: row.path });
  const after = rowsOf(store);
  const next = after[Math.min(index, after.length - 1)] ?? rows[0];
  if (next) s.configSelect(next.path);
  s.setFlash(`removed ${row.label} (u undoes)`);
}

/** f: apply the fix of the selected problem, or of the first fixable diagnostic on the row. */
export function applyFix(store: StudioStore): void {
  const s = store.getState();
  let d;
  if (s.config.mode === 'problems') d = problems(store)[s.config.problemIndex];
  else d = selectedRow(store).row?.diagnostics.find((x) => x.fix);
  if (!d?.fix) {
    s.setFlash('no mechanical fix here', 'error');
    return;
  }
  s.configApplyFix(d);
}

export function toggleProblems(store: StudioStore): void {
  const s = store.getState();
  s.configSetMode(s.config.mode === 'problems' ? 'tree' : 'problems');
}

/** A click on a tree row: select its key (leaving the problems list). Not while a field is open. */
export function selectFromClick(store: StudioStore, path: JsonPath): void {
  const s = store.getState();
  if (s.config.mode !== 'tree' && s.config.mode !== 'problems') return;
  if (s.config.mode === 'problems') s.configSetMode('tree');
  s.configSelect(path);
}

/** A click on a problem: focus the problems list on it. */
export function selectProblem(store: StudioStore, index: number): void {
  const s = store.getState();
  if (s.config.mode !== 'tree' && s.config.mode !== 'problems') return;
  if (s.config.mode !== 'problems') s.configSetMode('problems');
  s.configSetProblemIndex(index);
}

/** enter in the problems list: select the problem's key in the tree (expanding as needed). */
export function jumpToProblem(store: StudioStore): void {
  const s = store.getState();
  const d = problems(store)[s.config.problemIndex];
  if (!d) return;
  // Open every collapsed ancestor so the row is visible.
  for (let i = 1; i < d.path.length; i++) {
    if (s.config.collapsed.includes(pathKey(d.path.slice(0, i)))) s.configToggleCollapsed(d.path.slice(0, i), false);
  }
  s.configSelect(d.path);
  s.configSetMode('tree');
}

export function startSearch(store: StudioStore): void {
  store.getState().configSetMode('search');
}

/** Selects the next row (after the current one, wrapping) whose key contains the search text. */
export function searchNext(store: StudioStore, from = 1): boolean {
  const s = store.getState();
  const q = s.config.search.toLowerCase();
  if (!q) return false;
  const { rows, index } = selectedRow(store);
  for (let k = 0; k < rows.length; k++) {
    const r = rows[(index + from + k) % rows.length]!;
    if (r.label.toLowerCase().includes(q)) {
      s.configSelect(r.path);
      return true;
    }
  }
  s.setFlash(`no key matches "${s.config.search}"`, 'error');
  return false;
}

export function commitSearch(store: StudioStore, typed: string): void {
  const s = store.getState();
  s.configSetSearch(typed);
  s.configSetMode('tree');
  // Expand everything so keys inside collapsed sections are found too.
  if (s.config.collapsed.length) for (const k of s.config.collapsed) s.configToggleCollapsed(JSON.parse(k), false);
  searchNext(store, 0);
}

export function save(store: StudioStore, force = false): void {
  const s = store.getState();
  if (!s.config.file) return;
  if (!force && s.config.text === s.config.savedText && !s.config.conflict) {
    s.setFlash('no changes to save');
    return;
  }
  s.configSave(force);
}

/** M: apply the one-step migration to the current Occlum version, when offered. */
export function migrate(store: StudioStore): void {
  const s = store.getState();
  const d = problems(store).find((x) => x.code === 'migrate' && x.fix);
  if (!d) {
    s.setFlash('nothing to migrate: the config already has the current shape');
    return;
  }
  s.configApplyFix(d);
}
