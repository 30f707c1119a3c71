// Format-preserving edits on Occlum.json text. Scalars are replaced in place (only the value's
// bytes change); structural edits go through jsonc-parser's modify with the file's own
// indentation (2, 4 spaces or TAB) and line endings, so key order, comments and the
// trailing-newline state survive.
import { applyEdits, findNodeAtLocation, modify, parseTree, type FormattingOptions, type Node } from 'jsonc-parser';
import { looksLikeYaml } from './parse.ts';
import type { JsonPath, TextEdit } from './types.ts';

export interface Formatting {
  insertSpaces: boolean;
  tabSize: number;
  eol: '\n' | '\r\n';
}

/** Indentation and line endings the file already uses (template style when undecidable). */
export function detectFormatting(text: string): Formatting {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  let tabs = 0;
  let spaces = 0;
  let unit = 0;
  const sample = text.length > 200_000 ? text.slice(0, 200_000) : text;
  for (const line of sample.split(/\r?\n/)) {
    const m = /^([ \t]+)\S/.exec(line);
    if (!m) continue;
    if (m[1]!.startsWith('\t')) tabs++;
    else {
      spaces++;
      const n = m[1]!.length;
      unit = unit === 0 ? n : gcd(unit, n);
    }
  }
  if (tabs > spaces) return { insertSpaces: false, tabSize: 1, eol };
  return { insertSpaces: true, tabSize: unit >= 2 && unit <= 8 ? unit : 4, eol };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

export type EditOp =
  /** `order`: canonical key order, used to place a new key among its siblings. */
  | { kind: 'set'; path: JsonPath; value: unknown; order?: string[] }
  | { kind: 'remove'; path: JsonPath }
  | { kind: 'insert'; path: JsonPath; value: unknown };

function tree(text: string): Node | undefined {
  return parseTree(text, [], { allowTrailingComma: true, disallowComments: false });
}

function options(fmt: Formatting): FormattingOptions {
  return { insertSpaces: fmt.insertSpaces, tabSize: fmt.tabSize, eol: fmt.eol, keepLines: false };
}

/** The text edits that perform one operation on `text`. */
export function editsFor(text: string, op: EditOp, fmt = detectFormatting(text)): TextEdit[] {
  // These are JSON edits: on YAML text jsonc-parser would write a JSON object in front of it.
  if (looksLikeYaml(text))
    throw new Error(
      'the file holds YAML, and edits here are JSON edits: change it in a text editor, or convert it to JSON first',
    );
  const root = tree(text);
  if (op.kind === 'set') {
    const node = root ? findNodeAtLocation(root, op.path) : undefined;
    const scalar = op.value === null || ['string', 'number', 'boolean'].includes(typeof op.value);
    if (node && scalar && node.type !== 'object' && node.type !== 'array') {
      // In place: only the value's bytes change.
      return [{ offset: node.offset, length: node.length, content: JSON.stringify(op.value) }];
    }
    const order = op.order;
    return modify(text, op.path, op.value, {
      formattingOptions: options(fmt),
      ...(order
        ? {
            getInsertionIndex: (existing: string[]) =>
              insertionIndex(existing, order, String(op.path[op.path.length - 1])),
          }
        : {}),
    });
  }
  if (op.kind === 'remove') {
    const node = root ? findNodeAtLocation(root, op.path) : undefined;
    if (!node) return [];
    return modify(text, op.path, undefined, { formattingOptions: options(fmt) });
  }
  return modify(text, op.path, op.value, { formattingOptions: options(fmt), isArrayInsertion: true });
}

/** Index among existing keys that keeps `key` after its canonical predecessors. */
function insertionIndex(existing: string[], order: string[], key: string): number {
  const rank = order.indexOf(key);
  if (rank < 0) return existing.length;
  let idx = 0;
  for (let i = 0; i < existing.length; i++) {
    const r = order.indexOf(existing[i]!);
    if (r >= 0 && r < rank) idx = i + 1;
  }
  return idx;
}

/** Applies operations one after the other; returns the new text. */
export function applyOps(text: string, ops: EditOp[]): string {
  const fmt = detectFormatting(text);
  let out = text;
  for (const op of ops) out = applyEdits(out, editsFor(out, op, fmt));
  return out;
}

/** One edit turning `before` into `after` (common prefix and suffix kept). */
export function diffEdit(before: string, after: string): TextEdit {
  let start = 0;
  const max = Math.min(before.length, after.length);
  while (start < max && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  let endB = before.length;
  let endA = after.length;
  while (endB > start && endA > start && before.charCodeAt(endB - 1) === after.charCodeAt(endA - 1)) {
    endB--;
    endA--;
  }
  return { offset: start, length: endB - start, content: after.slice(start, endA) };
}

/** Edits for a sequence of operations, expressed against the original text. */
export function opsToEdits(text: string, ops: EditOp[]): TextEdit[] {
  const after = applyOps(text, ops);
  return after === text ? [] : [diffEdit(text, after)];
}

/** Applies edits given against the same original text (any order, non-overlapping). */
export function applyTextEdits(text: string, edits: TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => b.offset - a.offset);
  let out = text;
  for (const e of sorted) out = out.slice(0, e.offset) + e.content + out.slice(e.offset + e.length);
  return out;
}
