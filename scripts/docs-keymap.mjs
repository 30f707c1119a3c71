// `npm run docs:keymap`: rewrites the generated key tables of docs/keymap.md from views/keymap.ts
// (runs under tsx, which the tests use too). test/unit/keymap-doc.test.ts fails when it is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderKeymapDoc } from '../views/keymap-doc.ts';

const file = new URL('../docs/keymap.md', import.meta.url);
const before = readFileSync(file, 'utf8');
const after = renderKeymapDoc(before);
if (after !== before) writeFileSync(file, after);
console.log(`docs/keymap.md ${after === before ? 'is up to date' : 'rewritten'}`);
