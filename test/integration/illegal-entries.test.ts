// Issue 11, defect 4: one illegal directory entry (named '..', '.', empty, with '/', over-long,
// not UTF-8) in an otherwise valid, correctly sealed image. Listing, tree and extract show every
// other entry, report the left-out one (sanitised) and exit 1; verify names it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { renameEntry } from '../helpers/hostile-image.ts';
import { extract, openImage } from '../../src/core/securefs/index.ts';

let d = '';
let inst = '';

const ILLEGAL: [string, Buffer][] = [
  ['dot-dot', Buffer.from('..')],
  ['dot', Buffer.from('.')],
  ['empty', Buffer.alloc(0)],
  ['slash', Buffer.from('../../etc/passwd')],
  ['over-long', Buffer.alloc(256, 0x61)],
  ['not utf-8', Buffer.from([0xff, 0xfe, 0x41])],
  ['escape and slash', Buffer.from('\x1b]0;pwned\x07/x')],
];

before(() => {
  d = mkdtempSync(join(tmpdir(), 'illegal-entries-'));
  inst = join(d, 'inst');
  mkdirSync(join(inst, 'image/d'), { recursive: true });
  writeFileSync(join(inst, 'image/d/a'), 'kept\n');
  writeFileSync(join(inst, 'image/d/b'), 'renamed\n');
  writeFileSync(join(inst, 'image/top'), 'top\n');
  const p = runCli(['fs', 'pack', '-C', inst]);
  assert.equal(p.status, 0, p.stderr);
});
after(() => rmSync(d, { recursive: true, force: true }));

for (const [what, bytes] of ILLEGAL) {
  test(`an entry whose stored name is ${what}: ls, tree, extract and verify report it and exit 1`, async () => {
    const c = join(d, what.replace(/\W/g, '_'));
    execFileSync('cp', ['-a', inst, c]);
    const root = join(c, 'build/mount/__ROOT');
    await renameEntry(root, '/d', 'b', bytes);

    const ls = runCli(['fs', 'ls', '-C', c, '/d']);
    assert.equal(ls.status, 1, ls.stdout + ls.stderr);
    assert.match(ls.stdout, / a\n$/);
    assert.match(ls.stderr, /skipped in \/d entry .*directory inode \d+ entry 3: the name .* skipped/);
    assert.match(ls.stderr, /1 entry was left out/);
    assert.doesNotMatch(ls.stderr + ls.stdout, /[\x07\x1b]/, 'raw control characters reached the terminal');

    const tree = runCli(['fs', 'tree', '-C', c]);
    assert.equal(tree.status, 1);
    assert.equal(tree.stdout, '/\n  d/\n    a  (5)\n  top  (4)\n');
    assert.match(tree.stderr, /skipped in \/d/);

    const dest = join(c, 'out');
    const ex = runCli(['fs', 'extract', '-C', c, '/', dest]);
    assert.equal(ex.status, 1, ex.stdout + ex.stderr);
    assert.match(ex.stdout, /extracted 2 files, 2 directories/);
    assert.match(ex.stdout, /skipped \/d: directory inode \d+ entry 3/);
    assert.doesNotMatch(ex.stdout, /[\x07\x1b]/);
    assert.equal(readFileSync(join(dest, 'd/a'), 'utf8'), 'kept\n');
    assert.ok(!existsSync(join(dest, 'd/b')));

    const v = runCli(['fs', 'verify', '-C', c, '--json']);
    assert.equal(v.status, 1);
    const rep = JSON.parse(v.stdout) as { problems: { path: string; kind: string; message: string }[] };
    assert.deepEqual(
      rep.problems.map((p) => [p.path, p.kind]),
      [['/d', 'format']],
    );
  });
}

test('an illegal entry in / : the extract API reports it, the rest is written', async () => {
  const c = join(d, 'root-entry');
  execFileSync('cp', ['-a', inst, c]);
  const root = join(c, 'build/mount/__ROOT');
  await renameEntry(root, '/', 'top', Buffer.from('..'));
  const view = openImage(root);
  assert.deepEqual(
    view.listing('/').entries.map((e) => e.name),
    ['d'],
  );
  assert.equal(view.listing('/').skipped[0]!.name, '..');
  const r = await extract(view, '/', join(c, 'out'));
  assert.equal(r.files, 2);
  assert.deepEqual(
    r.skipped.map((s) => s.path),
    ['/'],
  );
  const tree = runCli(['fs', 'tree', '-C', c]);
  assert.equal(tree.status, 1);
  assert.ok(tree.stdout.startsWith('/\n'), tree.stdout);
});
