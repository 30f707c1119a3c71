// The config as a flat list of tree rows for the Config pane (pure: no UI). Rows are derived
// from the text each time; the selection is a JSON path, so it survives edits.
import { findNodeAtLocation, type Node } from 'jsonc-parser';
import { nodePath, parseConfig } from './parse.ts';
import type { Diagnostic, JsonPath, Severity } from './types.ts';

export interface OutlineRow {
  path: JsonPath;
  depth: number;
  /** Key name, `[i]` for array items, `(root)` for the document. */
  label: string;
  kind: 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null';
  /** Display value for scalars, `{n}` / `[n]` for containers. */
  value: string;
  /** Number of children (containers). */
  size: number;
  collapsed: boolean;
  /** Worst severity of the diagnostics shown on this row, if any. */
  severity?: Severity;
  diagnostics: Diagnostic[];
}

export const pathKey = (p: JsonPath): string => JSON.stringify(p);

const RANK: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/**
 * Rows of the visible tree. `collapsed` holds pathKey()s of closed containers. A diagnostic is
 * shown on the row of its path, or on the nearest existing ancestor (e.g. a missing key on its
 * parent object); a collapsed container also shows its descendants' worst severity.
 */
export function outline(text: string, diagnostics: Diagnostic[], collapsed: ReadonlySet<string>): OutlineRow[] {
  const parsed = parseConfig(text);
  const root = parsed.root;
  if (!root) return [];
  const rows: OutlineRow[] = [];
  const byKey = new Map<string, OutlineRow>();
  const visit = (node: Node, label: string, depth: number) => {
    const path = nodePath(node);
    const k = pathKey(path);
    const isContainer = node.type === 'object' || node.type === 'array';
    const size = isContainer ? (node.children ?? []).length : 0;
    const row: OutlineRow = {
      path,
      depth,
      label,
      kind: node.type as OutlineRow['kind'],
      value: node.type === 'object' ? `{${size}}` : node.type === 'array' ? `[${size}]` : display(node),
      size,
      collapsed: isContainer && collapsed.has(k),
      diagnostics: [],
    };
    rows.push(row);
    byKey.set(k, row);
    if (!isContainer || row.collapsed) return;
    if (node.type === 'object') {
      for (const prop of node.children ?? []) {
        const value = prop.children?.[1];
        if (value) visit(value, String(prop.children![0]!.value), depth + 1);
      }
    } else {
      (node.children ?? []).forEach((item, i) => visit(item, `[${i}]`, depth + 1));
    }
  };
  visit(root, '(root)', 0);
  // The root row itself is not shown: top-level keys are the first level.
  rows.shift();
  for (const r of rows) r.depth -= 1;
  for (const d of diagnostics) {
    let p = d.path.slice();
    let row = byKey.get(pathKey(p));
    while (!row && p.length > 0) {
      p = p.slice(0, -1);
      row = byKey.get(pathKey(p));
    }
    // Descendants of collapsed containers land on the container (the loop above walks up).
    if (!row || row.path.length === 0) continue;
    row.diagnostics.push(d);
    if (!row.severity || RANK[d.severity] < RANK[row.severity]) row.severity = d.severity;
  }
  return rows;
}

function display(node: Node): string {
  if (node.type === 'string') {
    const s = String(node.value);
    return JSON.stringify(s.length > 200 ? s.slice(0, 200) + '…' : s);
  }
  return String(node.value);
}

/** Index of the row with this path, or of its nearest visible ancestor; 0 when none. */
export function rowIndex(rows: OutlineRow[], path: JsonPath): number {
  let p = path.slice();
  while (p.length > 0) {
    const k = pathKey(p);
    const i = rows.findIndex((r) => pathKey(r.path) === k);
    if (i >= 0) return i;
    p = p.slice(0, -1);
  }
  return 0;
}

/** The value at a path, read tolerantly (comments, trailing commas); undefined when absent. */
export function valueAt(text: string, path: JsonPath): unknown {
  const root = parseConfig(text).root;
  const node = root ? findNodeAtLocation(root, path) : undefined;
  return node && node.type !== 'object' && node.type !== 'array' ? node.value : undefined;
}
