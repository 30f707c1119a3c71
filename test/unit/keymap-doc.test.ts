import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { globalBindings, startBindings } from '../../views/keymap.ts';
import { KEYMAP_DOC_REGIONS, keymapDocRegions, renderKeymapDoc } from '../../views/keymap-doc.ts';
import { panes } from '../../views/panes/registry.ts';
import { ROOT } from '../helpers/paths.ts';

const DOC = resolve(ROOT, 'docs', 'keymap.md');

test('docs/keymap.md has every generated region once and they match the keymap (else: npm run docs:keymap)', () => {
  const doc = readFileSync(DOC, 'utf8');
  assert.deepEqual(keymapDocRegions(doc).sort(), [...KEYMAP_DOC_REGIONS].sort());
  assert.ok(renderKeymapDoc(doc) === doc, 'docs/keymap.md is stale: run `npm run docs:keymap` and commit it');
});

test('a changed binding makes the document stale: every key, command and pane is in the tables', () => {
  const doc = readFileSync(DOC, 'utf8');
  for (const b of [...globalBindings, ...startBindings, ...panes.flatMap((p) => p.bindings)]) {
    const keys = b.keys.map((k) => '`' + k.replace(/\|/g, '\\|') + '`').join(' / ');
    assert.ok(doc.includes(`| ${keys} | ${b.command ?? '—'} |`), `${b.keys.join(' ')} (${b.scope}) is not documented`);
  }
  for (const p of panes) assert.ok(doc.includes(`### ${p.title} (\`${p.key}\`)`), `pane ${p.id}`);
  const edited = doc.replace('| `?` | help |', '| `?` | help-me |');
  assert.notEqual(renderKeymapDoc(edited), edited);
});
