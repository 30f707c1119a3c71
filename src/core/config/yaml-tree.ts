// Reads Occlum.yaml (the 1.0 preview and NGO branches) into the same located tree the JSON
// rules walk (jsonc-parser's Node shape, offsets into the YAML text), so one set of helpers
// (paths, line:col, did-you-mean) serves both formats. Never throws.
import type { Node } from 'jsonc-parser';
import { isAlias, isMap, isPair, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import { LineIndex } from './location.ts';
import { MAX_DEPTH, type ParsedConfig } from './parse.ts';
import type { Diagnostic } from './types.ts';

export function parseYamlConfig(text: string): ParsedConfig {
  const lines = new LineIndex(text);
  const syntax: Diagnostic[] = [];
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const error = (offset: number, message: string) => {
    const at = lines.position(offset);
    syntax.push({ severity: 'error', code: 'syntax', path: [], line: at.line, column: at.column, message });
  };
  for (const e of doc.errors) {
    const first = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    error(
      e.pos[0],
      e.code === 'MULTIPLE_DOCS'
        ? 'not valid YAML for Occlum: a second document starts here (`---`); the build converts one document, keep one'
        : `not valid YAML: ${first}`,
    );
  }
  if (doc.errors.length > 0) return { text, lines, root: undefined, syntax };
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    error(0, 'the file is empty: Occlum.yaml needs the sections resource_limits, process, … (run `occlum init`)');
    return { text, lines, root: undefined, syntax };
  }
  const budget = { nodes: MAX_NODES, resolve: (a: unknown) => (isAlias(a) ? a.resolve(doc) : undefined) };
  const root = convert(doc.contents, undefined, 0, budget);
  return { text, lines, root, syntax };
}

/** Aliases are expanded; this many nodes at most, so a "billion laughs" file stays cheap. */
const MAX_NODES = 20_000;

interface Budget {
  nodes: number;
  resolve: (alias: unknown) => unknown;
}

/** jsonc-parser's Node, writable while we build it. */
type Mut = { -readonly [K in keyof Node]: Node[K] };

function span(y: YamlNode | null | undefined): { offset: number; length: number } {
  const r = y?.range;
  if (!r) return { offset: 0, length: 0 };
  return { offset: r[0], length: Math.max(0, r[1] - r[0]) };
}

function convert(y: unknown, parent: Node | undefined, depth: number, budget: Budget): Node | undefined {
  if (y === null || y === undefined) return undefined;
  const node = { ...span(y as YamlNode), parent } as Mut;
  if (depth > MAX_DEPTH || --budget.nodes < 0) {
    node.type = 'null';
    node.value = null;
    return node;
  }
  if (isMap(y)) {
    node.type = 'object';
    node.children = [] as Node[];
    for (const pair of y.items) {
      if (!isPair(pair)) continue;
      const k = pair.key as YamlNode | null;
      const ks = span(k);
      const prop = { type: 'property', offset: ks.offset, length: 0, parent: node, children: [] } as Mut;
      const keyNode = {
        type: 'string',
        ...ks,
        parent: prop,
        value: isScalar(k) ? String(k.value) : '',
      } as Node;
      const v = convert(pair.value, prop, depth + 1, budget) ?? nullAt(pair.value as YamlNode | null, ks, prop);
      prop.children = [keyNode, v];
      prop.length = Math.max(ks.length, v.offset + v.length - ks.offset);
      node.children.push(prop);
    }
    return node;
  }
  if (isSeq(y)) {
    node.type = 'array';
    node.children = [] as Node[];
    for (const item of y.items) {
      const c = convert(item, node, depth + 1, budget);
      if (c) node.children.push(c);
    }
    return node;
  }
  if (isScalar(y)) {
    const v = y.value;
    if (v === null || v === undefined) {
      node.type = 'null';
      node.value = null;
    } else if (typeof v === 'boolean') {
      node.type = 'boolean';
      node.value = v;
    } else if (typeof v === 'number' || typeof v === 'bigint') {
      node.type = 'number';
      node.value = Number(v);
    } else {
      node.type = 'string';
      node.value = String(v);
    }
    return node;
  }
  if (isAlias(y)) {
    // The anchored value, located at the alias (where the reader looks).
    const target = convert(budget.resolve(y), parent, depth + 1, budget);
    return target ? relocate(target, node.offset, node.length) : undefined;
  }
  return undefined;
}

/** `key:` with nothing after it: a null located right after the key. */
function nullAt(y: YamlNode | null, key: { offset: number; length: number }, parent: Node): Node {
  const s = y?.range ? span(y) : { offset: key.offset + key.length, length: 0 };
  return { type: 'null', ...s, parent, value: null } as Node;
}

/** Moves an expanded alias (and everything in it) to the alias's place in the text. */
function relocate(n: Node, offset: number, length: number): Node {
  const m = n as Mut;
  m.offset = offset;
  m.length = length;
  for (const c of n.children ?? []) relocate(c, offset, length);
  return n;
}
