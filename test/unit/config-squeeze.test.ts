// Long whitespace runs are cut before jsonc-parser reads a config (its scanner is quadratic in
// garbage collection on them); the tree and every diagnostic must still be the original text's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTree, type Node } from 'jsonc-parser';
import { checkConfig, parseConfig } from '../../src/core/config/index.ts';
import { squeezeWhitespace } from '../../src/core/config/squeeze.ts';
import { rng } from '../helpers/rng.ts';

const BASE = `{
  // a comment with "quotes" and      spaces
  "resource_limits": { "user_space_size": "256MB", "kernel_space_heap_size": "32MB" },
  "process": { "default_stack_size": "4MB" ,},
  "env": { "default": ["A=1", "B=\\"x\\"  \\\\"], "untrusted": [] },
  /* block "comment" */ "metadata": { "debuggable": true },
  "mount": []
}
`;

function shape(n: Node): unknown {
  return { t: n.type, o: n.offset, l: n.length, c: n.colonOffset, v: n.value, k: (n.children ?? []).map(shape) };
}

/** BASE with long runs of spaces and tabs inserted at random places (inside strings and comments too). */
function padded(seed: number): string {
  const r = rng(seed);
  const places = Array.from({ length: 6 }, () => Math.floor(r() * BASE.length)).sort((a, b) => b - a);
  let s = BASE;
  for (const at of places)
    s = s.slice(0, at) + (r() < 0.5 ? ' ' : '\t ').repeat(1100 + Math.floor(r() * 1500)) + s.slice(at);
  return s;
}

test('the squeezed parse gives the same tree (offsets, values) as the plain one', () => {
  let cut = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const text = padded(seed);
    if (squeezeWhitespace(text).text !== text) cut++;
    const plain = parseTree(text, [], { allowTrailingComma: true, disallowComments: false });
    const ours = parseConfig(text).root;
    assert.deepEqual(ours && shape(ours), plain && shape(plain), `seed ${seed}`);
    for (const d of checkConfig(text).diagnostics) {
      for (const e of d.fix?.edits ?? []) assert.ok(e.offset >= 0 && e.offset + e.length <= text.length);
    }
  }
  assert.ok(cut > 30, `${cut} of 60 texts had a run cut`);
});

test('whitespace inside strings and comments is never cut', () => {
  const inString = `{"env": {"default": ["A=${' '.repeat(5000)}"]}}`;
  assert.equal(squeezeWhitespace(inString).text, inString);
  const inComment = `{/*${' '.repeat(5000)}*/ "a": 1 // ${'\t'.repeat(5000)}\n}`;
  assert.equal(squeezeWhitespace(inComment).text, inComment);
  const between = `{"a":${' '.repeat(5000)}1}`;
  const s = squeezeWhitespace(between);
  assert.equal(s.text, '{"a": 1}');
  assert.equal(s.toOriginal(5), 5);
  assert.equal(s.toOriginal(6), 5005);
  assert.equal(s.toOriginal(8), between.length);
});
