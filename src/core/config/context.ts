// What every rule gets: the parsed text, the version whose rules apply, helpers to find nodes,
// describe values the way serde does, and to report located diagnostics with fixes.
import { findNodeAtLocation, type Node } from 'jsonc-parser';
import { opsToEdits, type EditOp } from './edit.ts';
import type { LineIndex } from './location.ts';
import { nodePath } from './parse.ts';
import type { Diagnostic, Fix, JsonPath, Severity, TextEdit } from './types.ts';
import type { Detection, VersionId } from './versions.ts';

export interface CheckOptions {
  /** Rules of this version; default: the version detected from the config's shape. */
  version?: VersionId;
  /** Instance directory: enables host checks (mount sources, image/ mount points). */
  instanceDir?: string;
  /** File name, used for hints (e.g. a *release* config with debuggable true). */
  fileName?: string;
  /** Treat the config as a release/product config (risky-setting warnings). */
  release?: boolean;
}

/** Fixes are skipped for huge texts: each one re-parses the document. */
const MAX_FIX_TEXT = 512 * 1024;

export class RuleContext {
  readonly diagnostics: Diagnostic[] = [];
  /** Paths (joined) already reported by a more specific rule, to avoid double reports. */
  readonly handled = new Set<string>();

  constructor(
    readonly text: string,
    readonly lines: LineIndex,
    readonly root: Node,
    readonly version: VersionId,
    readonly detection: Detection,
    readonly options: CheckOptions,
  ) {}

  get(path: JsonPath, from: Node = this.root): Node | undefined {
    return findNodeAtLocation(from, path);
  }

  /** Raw source text of a node (numbers keep their spelling: 1.0, 1e3). */
  raw(node: Node): string {
    return this.text.slice(node.offset, node.offset + node.length);
  }

  report(severity: Severity, code: string, at: Node | undefined, path: JsonPath, message: string, fix?: Fix): void {
    const node = at ?? this.root;
    const s = this.lines.position(node.offset);
    const e = this.lines.position(node.offset + node.length);
    this.diagnostics.push({
      severity,
      code,
      path: path.length || !at ? path : nodePath(node),
      line: s.line,
      column: s.column,
      endLine: e.line,
      endColumn: e.column,
      message,
      ...(fix && fix.edits.length > 0 ? { fix } : {}),
    });
  }

  /** A fix made of edit operations, or undefined if it would change nothing. */
  fix(title: string, ops: EditOp[]): Fix | undefined {
    if (ops.length === 0) return undefined;
    if (this.text.length > MAX_FIX_TEXT) {
      // Only in-place value changes, from the tree we have: re-parsing costs a pass per fix.
      const edits: TextEdit[] = [];
      for (const o of ops) {
        const node = o.kind === 'set' && isScalar(o.value) ? this.get(o.path) : undefined;
        if (!node || node.type === 'object' || node.type === 'array' || o.kind !== 'set') return undefined;
        edits.push({ offset: node.offset, length: node.length, content: JSON.stringify(o.value) });
      }
      return { title, edits };
    }
    try {
      const edits = opsToEdits(this.text, ops);
      return edits.length ? { title, edits } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Fix replacing one node's text (cheap, exact). */
  replace(title: string, node: Node, value: unknown): Fix {
    return { title, edits: [{ offset: node.offset, length: node.length, content: JSON.stringify(value) }] };
  }
}

function isScalar(v: unknown): boolean {
  return v === null || ['string', 'number', 'boolean'].includes(typeof v);
}

/** The property node (key + value) that holds a value node. */
export function propertyOf(node: Node): Node | undefined {
  return node.parent?.type === 'property' ? node.parent : undefined;
}

/** The key node of a value, for reporting on the key instead of the value. */
export function keyNode(node: Node): Node {
  const p = propertyOf(node);
  return p?.children?.[0] ?? node;
}

/** serde_json's description of an unexpected value: `string "32"`, ``integer `1` ``… */
export function describeValue(node: Node, raw: string): string {
  switch (node.type) {
    case 'string': {
      const v = String(node.value);
      return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
    }
    case 'number':
      return /[.eE]/.test(raw) ? `floating point \`${shorten(raw)}\`` : `integer \`${shorten(raw)}\``;
    case 'boolean':
      return `boolean \`${node.value}\``;
    case 'null':
      return 'null';
    case 'array':
      return 'sequence';
    case 'object':
      return 'map';
    default:
      return node.type;
  }
}

function shorten(s: string): string {
  return s.length > 40 ? s.slice(0, 40) + '…' : s;
}

/** Object members in source order, including duplicates: [key, keyNode, valueNode]. */
export function members(obj: Node): { key: string; keyNode: Node; value: Node | undefined; prop: Node }[] {
  if (obj.type !== 'object') return [];
  return (obj.children ?? []).map((prop) => ({
    key: String(prop.children?.[0]?.value ?? ''),
    keyNode: prop.children![0]!,
    value: prop.children?.[1],
    prop,
  }));
}

/** Levenshtein distance, bounded (returns > limit early for long strings). */
export function editDistance(a: string, b: string, limit = 8): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      cur.push(v);
      rowMin = Math.min(rowMin, v);
    }
    if (rowMin > limit) return limit + 1;
    prev = cur;
  }
  return prev[b.length]!;
}

/** The closest candidate within a typo-sized distance, or undefined. */
export function nearest(key: string, candidates: string[]): string | undefined {
  if (key.length > 80) return undefined;
  let best: string | undefined;
  let bestD = Infinity;
  const limit = Math.max(2, Math.floor(key.length / 3));
  for (const c of candidates) {
    const d = editDistance(key.toLowerCase(), c.toLowerCase(), limit);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= limit ? best : undefined;
}
