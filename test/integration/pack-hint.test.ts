// The hint of the live packer (fs pack --watch): change-set paths -> `changed` paths (renames,
// directories, collapsing), when the hint is withheld, and the DirectoryScope that feeds it; last,
// a real Watcher over a real tree whose change sets, as hints, keep a packed image equal to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { hintPaths, PackHint } from '../../src/core/securefs/pack-hint.ts';
import { diffWithSource, openImage, packImage, type KeyMode } from '../../src/core/securefs/index.ts';
import { DirectoryScope } from '../../src/core/watch/scope.ts';
import { Watcher } from '../../src/core/watch/watcher.ts';
import type { ChangeSet } from '../../src/core/watch/types.ts';

test('hintPaths: both sides of a rename, directories covering their subtree, normalised and sorted', () => {
  // A file renamed across directories: both sides stay.
  assert.deepEqual(hintPaths(['etc/f4-moved', 'bin/f4']), ['bin/f4', 'etc/f4-moved']);
  // A directory renamed: the old and new directory cover every path below them.
  assert.deepEqual(hintPaths(['lib/x/a.so', 'lib/x', 'lib/y', 'lib/y/a.so', 'lib/y/sub/b']), ['lib/x', 'lib/y']);
  // A sibling whose name extends the directory's is not below it.
  assert.deepEqual(hintPaths(['a', 'a-b/c', 'a/b', 'a.txt']), ['a', 'a-b/c', 'a.txt']);
  // Separators, duplicates, "." segments; the root itself and paths outside the source are dropped.
  assert.deepEqual(hintPaths(['./x//y', 'x/y/', '', '.', '../out/metadata', 'a/../b', 'back\\slash']), [
    'back\\slash',
    'x/y',
  ]);
  assert.deepEqual(hintPaths([]), []);
});

test('PackHint: the first pack walks; later packs get the paths until something makes them untrustworthy', () => {
  const h = new PackHint();
  assert.equal(h.pending, false);
  h.add(['early']);
  assert.deepEqual(h.take(), { paths: ['early'], unhinted: 'first pack' });
  h.add(['b/x', 'b', 'a']);
  assert.equal(h.pending, true);
  assert.equal(h.size, 3);
  assert.deepEqual(h.take(), { paths: ['a', 'b'], changed: ['a', 'b'] });
  assert.equal(h.pending, false);
  // A failed pack: the next pack (due at the next change, not now) walks.
  h.invalidate('previous pack failed');
  assert.equal(h.pending, false);
  h.add(['c']);
  h.invalidate('watcher error'); // the first reason is kept
  assert.deepEqual(h.take(), { paths: ['c'], unhinted: 'previous pack failed' });
  assert.deepEqual(h.take(), { paths: [], changed: [] });
  // Lost watcher events: a walk is due right away, with no path known.
  h.invalidate('watcher error', true);
  assert.equal(h.pending, true);
  assert.deepEqual(h.take(), { paths: [], unhinted: 'watcher error' });
  assert.equal(h.pending, false);
});

test('DirectoryScope: everything below the directory counts (editor temp files too), excluded paths do not', () => {
  const s = new DirectoryScope('/w/src', ['/w/src/out', '/w/.ROOT_MAC']);
  assert.deepEqual(s.roots(), ['/w/src']);
  assert.equal(s.classify('/w/src'), null);
  assert.equal(s.classify('/w/src/build/x'), 'image'); // build/ and run/ are ordinary names here
  assert.equal(s.classify('/w/src/.a.swp'), 'image');
  assert.equal(s.classify('/w/src/out'), null);
  assert.equal(s.classify('/w/src/out/metadata'), null);
  assert.equal(s.classify('/w/src/outer'), 'image');
  assert.equal(s.classify('/w/other'), null);
  assert.equal(s.ignored('/w/src'), false);
  assert.equal(s.ignored('/w/src/out'), true);
  assert.equal(s.ignored('/w/src/run'), false);
});

test(
  'a real watcher over a tree: its change sets, as hints, keep the packed image equal to the tree',
  { timeout: 60_000 },
  async () => {
    const d = mkdtempSync(join(tmpdir(), 'pack-hint-'));
    const src = join(d, 'src');
    mkdirSync(join(src, 'bin'), { recursive: true });
    mkdirSync(join(src, 'lib/old'), { recursive: true });
    for (let i = 0; i < 5; i++) writeFileSync(join(src, 'bin', `f${i}`), `file ${i}\n`);
    writeFileSync(join(src, 'lib/old/a.so'), 'a');
    writeFileSync(join(src, 'hello.txt'), 'hello\n');
    const w = new Watcher({ scope: new DirectoryScope(src), debounceMs: 50 });
    const sets: ChangeSet[] = [];
    let wake: (() => void) | null = null;
    w.on('changes', (s) => {
      sets.push(s);
      wake?.();
    });
    const nextSet = async (): Promise<ChangeSet> => {
      while (sets.length === 0) await new Promise<void>((r) => (wake = r));
      return sets.shift()!;
    };
    const opts = {
      src,
      outRoot: join(d, 'mount/__ROOT'),
      macFile: join(d, 'mount/.ROOT_MAC'),
      key: { kind: 'integrity-only' } as KeyMode,
      incremental: true,
    };
    // Waits until the tree's changes have all been reported (one or more sets), then packs with them.
    const packWith = async (what: string, expect: string[]) => {
      const hint = new Set<string>();
      while (!expect.every((p) => hint.has(p))) {
        for (const e of (await nextSet()).entries) hint.add(relative(src, e.path));
      }
      const changed = hintPaths(hint);
      const r = await packImage({ ...opts, changed });
      const v = openImage(opts.outRoot);
      assert.deepEqual(await diffWithSource(v, src), [], what);
      assert.equal((await v.verify()).ok, true, what);
      return { r, changed };
    };
    try {
      await w.start();
      await packImage(opts);
      writeFileSync(join(src, 'hello.txt'), 'edited\n');
      const edit = await packWith('edit', ['hello.txt']);
      assert.deepEqual(edit.changed, ['hello.txt']);
      assert.equal(edit.r.filesPacked, 1);
      renameSync(join(src, 'bin/f1'), join(src, 'lib/f1-moved'));
      assert.deepEqual((await packWith('file rename', ['bin/f1', 'lib/f1-moved'])).changed, ['bin/f1', 'lib/f1-moved']);
      renameSync(join(src, 'lib/old'), join(src, 'lib/new'));
      assert.deepEqual((await packWith('directory rename', ['lib/old', 'lib/new'])).changed, ['lib/new', 'lib/old']);
      mkdirSync(join(src, 'etc/conf'), { recursive: true });
      writeFileSync(join(src, 'etc/conf/app.json'), '{}');
      unlinkSync(join(src, 'bin/f2'));
      const mixed = await packWith('add under new directories + delete', ['etc', 'bin/f2']);
      assert.ok(
        mixed.changed.includes('etc') && !mixed.changed.some((p) => p.startsWith('etc/')),
        mixed.changed.join(' '),
      );
      // A chmod of a file the packs have read (atime past mtime: chokidar drops the event; the
      // watcher's reconcile, woken by the raw event, reports it).
      chmodSync(join(src, 'bin/f0'), 0o700);
      assert.deepEqual((await packWith('chmod of a read file', ['bin/f0'])).changed, ['bin/f0']);
      // A directory's mode: chokidar reports nothing for it at all; the reconcile does.
      chmodSync(join(src, 'lib'), 0o700);
      assert.deepEqual((await packWith('chmod of a directory', ['lib'])).changed, ['lib']);
    } finally {
      await w.close();
      rmSync(d, { recursive: true, force: true });
    }
  },
);
