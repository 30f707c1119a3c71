// The Files pane's tree model and entry notes (src/core/files), without the store or a terminal,
// over a real packed image: directories are listed only when expanded, rows follow expand and
// collapse, a vanished path falls back to its nearest ancestor, and entries without content say
// what they are.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage, packImage } from '../../src/core/securefs/index.ts';
import type { FsView } from '../../src/core/securefs/types.ts';
import { FsTree, parentOf, rowNear, type FilesLayer } from '../../src/core/files/tree.ts';
import { entryNote } from '../../src/core/files/preview.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function image(): Promise<{ view: FsView; listed: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'files-tree-'));
  dirs.push(dir);
  const src = join(dir, 'src');
  mkdirSync(join(src, 'a', 'b'), { recursive: true });
  writeFileSync(join(src, 'a', 'x.txt'), 'hello\n');
  writeFileSync(join(src, 'a', 'b', 'y'), 'y');
  symlinkSync('a/x.txt', join(src, 'link'));
  const outRoot = join(dir, 'mount', '__ROOT');
  await packImage({ src, outRoot, macFile: join(dir, 'mount', '.ROOT_MAC'), key: { kind: 'integrity-only' } });
  const v = openImage(outRoot);
  const listed: string[] = [];
  return {
    listed,
    view: {
      ...v,
      listing: (p) => {
        listed.push(p);
        return v.listing(p);
      },
    },
  };
}

test('the tree lists a directory only when it is expanded and flattens what is open', async () => {
  const { view, listed } = await image();
  let layer: FilesLayer = 'merged';
  const tree = new FsTree(() => layer);
  assert.deepEqual(tree.setViews(view, undefined), ['merged', 'image'], 'no run layer: no run view');
  const paths = () => tree.rows().map((r) => `${'  '.repeat(r.depth)}${r.entry.path}`);
  assert.deepEqual(paths(), ['/', '  /a', '  /link']);
  assert.deepEqual(listed, ['/']);
  tree.setExpanded('/a', true);
  assert.deepEqual(paths(), ['/', '  /a', '    /a/b', '    /a/x.txt', '  /link']);
  assert.deepEqual(listed, ['/', '/a'], '/a/b stays unlisted while collapsed');
  assert.equal(tree.listed('/a'), 2);
  assert.equal(tree.listed('/a/b'), undefined);
  tree.setExpanded('/a', false);
  tree.expandAncestors('/a/b/y');
  assert.ok(tree.isExpanded('/a') && tree.isExpanded('/a/b') && !tree.isExpanded('/a/b/y'));
  assert.ok(paths().includes('      /a/b/y'));
  layer = 'image';
  tree.forgetListings();
  tree.rows();
  assert.deepEqual(listed.slice(-3), ['/', '/a', '/a/b'], 'listings are read again, expansion kept');
  tree.reset();
  assert.deepEqual(tree.rows(), [], 'no view after reset');
});

test('rowNear falls back to the nearest listed ancestor; parentOf', async () => {
  const { view } = await image();
  const tree = new FsTree(() => 'image');
  tree.setViews(view, undefined);
  tree.setExpanded('/a', true);
  const rows = tree.rows();
  assert.equal(rows[rowNear(rows, '/a/x.txt')]!.entry.path, '/a/x.txt');
  assert.equal(rows[rowNear(rows, '/a/gone/deeper')]!.entry.path, '/a');
  assert.equal(rows[rowNear(rows, '/nothing')]!.entry.path, '/');
  assert.deepEqual(['/', '/a', '/a/b/c'].map(parentOf), ['/', '/', '/a/b']);
});

test('entry notes: directory (listed or not, with what was left out), link, deleted, special; files are read', async () => {
  const { view } = await image();
  const stat = (p: string) => view.stat(p);
  assert.deepEqual(entryNote(stat('/a'), view, undefined, []), { kind: 'dir', message: 'directory (enter lists it)' });
  assert.deepEqual(entryNote(stat('/a'), view, 1, []), { kind: 'dir', message: 'directory, 1 entry' });
  assert.equal(
    entryNote(stat('/a'), view, 2, [{ name: 'bad', reason: 'illegal name \x1b[31m' } as never])!.message,
    'directory, 2 entries; 1 left out: illegal name \\e[31m',
  );
  assert.deepEqual(entryNote(stat('/link'), view, undefined, []), {
    kind: 'symlink',
    message: 'symbolic link to a/x.txt',
  });
  assert.equal(entryNote({ ...stat('/a/x.txt'), layer: 'deleted' }, view, undefined, [])!.kind, 'deleted');
  assert.deepEqual(entryNote({ ...stat('/a/x.txt'), type: 'fifo' as never }, view, undefined, []), {
    kind: 'special',
    message: 'fifo: no content to show',
  });
  assert.equal(entryNote(stat('/a/x.txt'), view, undefined, []), null);
});
