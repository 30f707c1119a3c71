// Format-preserving edits, undo/redo, atomic saves and outside-change conflicts, on real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTree, type Node } from 'jsonc-parser';
import {
  applyOp,
  checkDisk,
  detectFormatting,
  EditHistory,
  loadConfigFile,
  saveConfigFile,
  SaveConflictError,
} from '../../src/core/config/index.ts';
import { corpusConfigs, ownConfigs, SKIP_WITHOUT_CONFIG_CORPUS, type CorpusFile } from '../helpers/config-corpus.ts';
import { OWN_TEMPLATE } from '../helpers/paths.ts';

/** First scalar value node in document order (a size string or a number). */
function firstScalar(root: Node): Node | undefined {
  const stack = [root];
  while (stack.length) {
    const n = stack.shift()!;
    if (n.type === 'string' && n.parent?.type === 'property' && n.parent.children![1] === n) return n;
    if (n.type === 'number') return n;
    stack.unshift(...(n.children ?? []));
  }
  return undefined;
}

function pathOf(n: Node): (string | number)[] {
  const out: (string | number)[] = [];
  let cur: Node | undefined = n;
  while (cur?.parent) {
    const p: Node = cur.parent;
    if (p.type === 'property') {
      out.unshift(p.children![0]!.value);
      cur = p.parent;
    } else {
      out.unshift(p.children!.indexOf(cur));
      cur = p;
    }
  }
  return out;
}

/** Edits the first scalar of each file through a save; returns how many files were edited. */
function editEachFirstValue(files: CorpusFile[]): number {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-edit-'));
  let edited = 0;
  for (const f of files) {
    const root = parseTree(f.text, [], { allowTrailingComma: true, disallowComments: false });
    if (!root) continue;
    const node = firstScalar(root);
    if (!node) continue;
    const file = join(dir, `${edited}.json`);
    writeFileSync(file, f.text);
    const loaded = loadConfigFile(file);
    const value = node.type === 'number' ? node.value + 1 : `${node.value}X`;
    const next = applyOp(loaded.text, { kind: 'set', path: pathOf(node), value });
    saveConfigFile(file, next, loaded.disk);
    const before = Buffer.from(f.text, 'utf8');
    const after = readFileSync(file);
    let start = 0;
    while (start < before.length && before[start] === after[start]) start++;
    let eb = before.length;
    let ea = after.length;
    while (eb > start && ea > start && before[eb - 1] === after[ea - 1]) {
      eb--;
      ea--;
    }
    const valueStart = Buffer.byteLength(f.text.slice(0, node.offset));
    const valueEnd = Buffer.byteLength(f.text.slice(0, node.offset + node.length));
    assert.ok(
      start >= valueStart && eb <= valueEnd,
      `${f.name}: bytes ${start}..${eb} changed outside the value at ${valueStart}..${valueEnd}`,
    );
    assert.equal(after.subarray(valueStart, valueEnd + (ea - eb)).toString(), JSON.stringify(value));
    edited++;
  }
  return edited;
}

test("editing one value in each of our config cases and saving changes only that value's bytes", () => {
  const own = ownConfigs();
  assert.equal(editEachFirstValue(own), own.length);
});

test(
  "editing one value in each corpus file and saving changes only that value's bytes",
  { skip: SKIP_WITHOUT_CONFIG_CORPUS },
  () => {
    const edited = editEachFirstValue(corpusConfigs());
    assert.ok(edited >= 25, `edited ${edited} files`);
  },
);

const TEMPLATE = readFileSync(OWN_TEMPLATE, 'utf8');

function reindent(text: string, unit: string): string {
  return text.replace(/^( {4})+/gm, (m) => unit.repeat(m.length / 4));
}

for (const [label, unit] of [
  ['2 spaces', '  '],
  ['4 spaces', '    '],
  ['TAB', '\t'],
] as const) {
  test(`adding and removing keys and array items keeps ${label} indentation`, () => {
    const text = reindent(TEMPLATE, unit);
    const fmt = detectFormatting(text);
    assert.equal(fmt.insertSpaces, unit !== '\t');
    let out = applyOp(text, { kind: 'set', path: ['resource_limits', 'kernel_space_heap_max_size'], value: '64MB' });
    assert.ok(out.includes(`\n${unit}${unit}"kernel_space_heap_max_size": "64MB"`), out);
    out = applyOp(out, { kind: 'insert', path: ['entry_points', 1], value: '/usr/bin' });
    assert.ok(out.includes(`\n${unit}${unit}"/usr/bin"`), out);
    out = applyOp(out, { kind: 'insert', path: ['mount', 2], value: { target: '/data', type: 'ramfs' } });
    assert.ok(out.includes(`\n${unit}${unit}${unit}"target": "/data"`), out);
    // Removing what was added restores the original bytes.
    out = applyOp(out, { kind: 'remove', path: ['mount', 2] });
    out = applyOp(out, { kind: 'remove', path: ['entry_points', 1] });
    out = applyOp(out, { kind: 'remove', path: ['resource_limits', 'kernel_space_heap_max_size'] });
    assert.equal(out, text);
  });
}

test('CRLF, comments, key order and a missing final newline survive edits', () => {
  const text = TEMPLATE.replace('"process": {', '// per-process defaults\n    "process": {')
    .trimEnd()
    .replace(/\n/g, '\r\n');
  let out = applyOp(text, { kind: 'set', path: ['process', 'default_heap_size'], value: '64MB' });
  out = applyOp(out, { kind: 'set', path: ['env', 'default'], value: ['OCCLUM=yes', 'A=1'] });
  out = applyOp(out, { kind: 'set', path: ['metadata', 'disable_log'], value: true });
  assert.ok(!/[^\r]\n/.test(out), 'only CRLF line endings');
  assert.ok(out.includes('// per-process defaults\r\n'));
  assert.ok(!out.endsWith('\n'));
  const keys = (t: string) => parseTree(t)!.children!.map((p) => p.children![0]!.value);
  assert.deepEqual(keys(out.replace(/\/\/.*\r\n/, '')), keys(TEMPLATE));
});

test('undo/redo walk the edit history', () => {
  const h = new EditHistory(TEMPLATE);
  const a = applyOp(h.text, { kind: 'set', path: ['resource_limits', 'max_num_of_threads'], value: 64 });
  h.push(a);
  const b = applyOp(h.text, { kind: 'set', path: ['metadata', 'debuggable'], value: false });
  h.push(b);
  assert.equal(h.push(b), false, 'no-op edits are not recorded');
  assert.ok(h.undo());
  assert.equal(h.text, a);
  assert.ok(h.undo());
  assert.equal(h.text, TEMPLATE);
  assert.equal(h.undo(), false);
  assert.ok(h.redo());
  assert.equal(h.text, a);
  h.push(applyOp(h.text, { kind: 'set', path: ['metadata', 'product_id'], value: 7 }));
  assert.equal(h.canRedo, false, 'a new edit clears redo');
});

test('atomic save keeps the file mode and leaves no temp files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-save-'));
  const file = join(dir, 'Occlum.json');
  writeFileSync(file, TEMPLATE);
  chmodSync(file, 0o600);
  const loaded = loadConfigFile(file);
  saveConfigFile(file, applyOp(loaded.text, { kind: 'set', path: ['metadata', 'product_id'], value: 3 }), loaded.disk);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir), ['Occlum.json']);
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).metadata.product_id, 3);
});

test('an outside change since load is a conflict, not an overwrite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-conflict-'));
  const file = join(dir, 'Occlum.json');
  writeFileSync(file, TEMPLATE);
  const loaded = loadConfigFile(file);
  assert.deepEqual(checkDisk(file, loaded.disk), { kind: 'unchanged' });
  const outside = TEMPLATE.replace('"32MB"', '"48MB"');
  writeFileSync(file, outside);
  const check = checkDisk(file, loaded.disk);
  assert.equal(check.kind, 'changed');
  const mine = applyOp(loaded.text, { kind: 'set', path: ['metadata', 'product_id'], value: 3 });
  assert.throws(() => saveConfigFile(file, mine, loaded.disk), SaveConflictError);
  assert.equal(readFileSync(file, 'utf8'), outside, 'the outside change is intact');
  // Rewriting identical content (new mtime, same hash) is not a conflict.
  writeFileSync(file, TEMPLATE);
  const reloaded = loadConfigFile(file);
  writeFileSync(file, TEMPLATE);
  saveConfigFile(file, mine, reloaded.disk);
  assert.equal(readFileSync(file, 'utf8'), mine);
  // force overwrites.
  writeFileSync(file, outside);
  saveConfigFile(file, mine, reloaded.disk, true);
  assert.equal(readFileSync(file, 'utf8'), mine);
});

test('edits refuse YAML text instead of writing a JSON object in front of it', () => {
  const yaml = 'resource_limits:\n  max_num_of_threads: 32\n  user_space_size: 256MB\n';
  assert.throws(
    () => applyOp(yaml, { kind: 'set', path: ['resource_limits', 'user_space_size'], value: '99MB' }),
    /holds YAML/,
  );
});
