// Mutations of config texts for the fuzz test and the checker benchmark: bit flips, truncation,
// wrong types, huge and negative numbers, deep nesting, multi-MB strings, stray comments/commas.
import { parseTree, type Node } from 'jsonc-parser';
export { rng } from './rng.ts';

function valueNodes(text: string): Node[] {
  let root: Node | undefined;
  try {
    root = parseTree(text, [], { allowTrailingComma: true, disallowComments: false });
  } catch {
    return []; // the mutation nested deeper than jsonc-parser's recursion allows
  }
  const out: Node[] = [];
  const walk = (n: Node | undefined) => {
    if (!n) return;
    if (n.type !== 'property') out.push(n);
    for (const c of n.children ?? []) {
      if (n.type === 'property' && c === n.children![0]) continue;
      walk(c);
    }
  };
  walk(root);
  return out;
}

const REPLACEMENTS = [
  '"x"',
  '""',
  '0',
  '-1',
  '4294967296',
  '99999999999999999999999',
  '1e309',
  '-0.5',
  '1.5',
  'true',
  'false',
  'null',
  '[]',
  '{}',
  '[1, "a", null]',
  '{"a": {"b": []}}',
  '"256mb"',
  '"1.5GB"',
  '"-4KB"',
  '" 12 MB "',
  '"\\u0000"',
  '"relative/path"',
];

export function mutate(text: string, r: () => number, allowHuge = true): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  const pos = Math.floor(r() * (text.length + 1));
  const kind = Math.floor(r() * 10);
  switch (kind) {
    case 0: {
      // bit flip
      if (text.length === 0) return text;
      const i = Math.min(pos, text.length - 1);
      return (
        text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ (1 << Math.floor(r() * 7))) + text.slice(i + 1)
      );
    }
    case 1: // truncation
      return text.slice(0, pos);
    case 2:
    case 3:
    case 4: {
      // wrong type / huge / negative value
      const nodes = valueNodes(text);
      if (nodes.length === 0) return text + pick(REPLACEMENTS);
      const n = pick(nodes);
      return text.slice(0, n.offset) + pick(REPLACEMENTS) + text.slice(n.offset + n.length);
    }
    case 5: {
      // deep nesting
      const depth = pick([10, 127, 129, 1000, 50_000]);
      const nodes = valueNodes(text);
      const n = nodes.length ? pick(nodes) : { offset: pos, length: 0 };
      const open = r() < 0.5 ? '['.repeat(depth) : '{"a":'.repeat(depth);
      const close = open.startsWith('[') ? ']'.repeat(depth) : '}'.repeat(depth);
      return text.slice(0, n.offset) + open + '1' + (r() < 0.8 ? close : '') + text.slice(n.offset + n.length);
    }
    case 6: {
      // multi-MB string
      if (!allowHuge || r() < 0.9) return text.slice(0, pos) + ',' + text.slice(pos);
      const nodes = valueNodes(text).filter((x) => x.type === 'string');
      const n = nodes.length ? pick(nodes) : { offset: pos, length: 0 };
      return (
        text.slice(0, n.offset) +
        JSON.stringify('A'.repeat(2 * 1024 * 1024 + Math.floor(r() * 100))) +
        text.slice(n.offset + n.length)
      );
    }
    case 7: // stray comment
      return text.slice(0, pos) + pick(['// c\n', '/* c */', '/* unterminated', '#']) + text.slice(pos);
    case 8: {
      // delete a span
      const len = Math.floor(r() * 40);
      return text.slice(0, pos) + text.slice(pos + len);
    }
    default: {
      // duplicate a span (duplicate keys, repeated items)
      const len = Math.floor(r() * 80);
      return text.slice(0, pos) + text.slice(pos, pos + len) + text.slice(pos);
    }
  }
}
