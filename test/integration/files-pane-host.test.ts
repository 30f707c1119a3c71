// The Files slice on instances built here: a host-backend instance (packed secure image, programs
// run in bubblewrap that write, copy up and delete files), and an encrypted instance whose SEFS
// run layer holds whiteouts, read through the Occlum backend's reader (src/core/backend/occlum).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { openInstanceFs } from '../../src/core/backend/occlum/secure-fs.ts';
import { packImage, readImageKeyFile } from '../../src/core/securefs/index.ts';
import { createStudioStore, openInstance, type StudioStore } from '../../src/store/index.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { waitFor } from '../helpers/wait.ts';

const cleanup: string[] = [];
const stores: StudioStore[] = [];
after(async () => {
  // Opening a built instance starts its dev loop, and this file edits image/: let a build the
  // edit triggered finish before the instance is removed under it.
  for (const s of stores) await s.getState().buildStopWatching();
  cleanup.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function select(store: StudioStore, path: string): void {
  const s = store.getState();
  let cur = '';
  for (const part of path.split('/').filter(Boolean).slice(0, -1)) {
    cur += '/' + part;
    const at = store.getState().files.rows.findIndex((r) => r.entry.path === cur);
    assert.ok(at >= 0, `${cur} is in the tree`);
    s.filesMove(at - store.getState().files.cursor);
    if (!store.getState().files.rows[at]!.expanded) s.filesToggle();
  }
  const i = store.getState().files.rows.findIndex((r) => r.entry.path === path);
  assert.ok(
    i >= 0,
    `${path} is in the tree: ${store
      .getState()
      .files.rows.map((r) => r.entry.path)
      .join(' ')}`,
  );
  s.filesMove(i - store.getState().files.cursor);
}

const tagged = (store: StudioStore, dir: string) =>
  store
    .getState()
    .files.rows.filter(
      (r) =>
        r.entry.path.startsWith(dir === '/' ? '/' : dir + '/') &&
        r.entry.path.split('/').length === (dir === '/' ? 2 : dir.split('/').length + 1),
    )
    .map((r) => `${r.entry.name}:${r.entry.layer ?? '-'}`);

test('host backend: a built and run instance shows run-layer files over the image; verify, diff, extract', async () => {
  const dir = makeInstance(['writer', 'hello']);
  cleanup.push(dirname(dir));
  // Not /etc/hosts: the host backend writes the host's over it at every boot, as Occlum does.
  writeFileSync(join(dir, 'image/etc/app.conf'), '127.0.0.1   localhost\n');
  const b = new HostBackend(dir);
  const built = await b.build();
  assert.ok(built.ok, built.errors.join('\n'));

  const store = createStudioStore({ launchDir: dir, backend: 'host' });
  stores.push(store);
  await openInstance(store, dir);
  await store.getState().filesOpen();
  assert.equal(store.getState().files.status, 'ready');
  assert.equal(store.getState().files.rootMac, readFileSync(join(dir, 'build/mount/.ROOT_MAC'), 'utf8').trim());

  select(store, '/etc/app.conf');
  assert.equal(store.getState().filesSelected()!.layer, 'image');
  // Programs write a new file, copy one up and delete one.
  const run = (args: string[]) => b.run('/bin/writer', args, { stdio: 'pipe' });
  assert.equal((await run([])).status, 0); // /root/counter.txt
  assert.equal((await run(['write', '/etc/app.conf'])).status, 0);
  assert.equal((await run(['unlink', '/bin/hello'])).status, 0);
  // r reopens (also done when the pane is shown again): the run layer appears, the selection stays.
  await store.getState().filesOpen(true);
  const f = () => store.getState().files;
  assert.equal(store.getState().filesSelected()!.path, '/etc/app.conf');
  assert.equal(store.getState().filesSelected()!.layer, 'run');
  assert.deepEqual(f().layers, ['merged', 'image', 'run']);
  select(store, '/root/counter.txt');
  assert.equal(store.getState().filesSelected()!.layer, 'run');
  await waitFor(() => f().preview.kind === 'text', 'preview of a run-layer file');
  assert.deepEqual(store.getState().filesPreviewData().lines, ['run', '']);
  select(store, '/etc/app.conf');
  assert.equal(store.getState().filesSelected()!.layer, 'run', 'copied up');
  await waitFor(() => f().preview.kind === 'text' && f().preview.path === '/etc/app.conf', 'hosts preview');
  assert.deepEqual(store.getState().filesPreviewData().lines, ['127.0.0.1   localhost', 'x', '']);
  select(store, '/bin/writer');
  // /bin/hello was deleted at run time (an overlayfs whiteout): shown as deleted, not previewed.
  assert.deepEqual(tagged(store, '/bin'), ['hello:deleted', 'writer:image']);
  await waitFor(() => f().preview.kind === 'hex', 'ELF preview is hex');

  // The image layer alone still has the originals.
  store.getState().filesSetLayer('image');
  assert.deepEqual(tagged(store, '/bin'), ['hello:-', 'writer:-']);
  select(store, '/etc/app.conf');
  await waitFor(() => f().preview.kind === 'text' && f().preview.path === '/etc/app.conf', 'image hosts preview');
  assert.deepEqual(store.getState().filesPreviewData().lines, ['127.0.0.1   localhost', '']);

  // Run layer only: what the programs wrote.
  store.getState().filesSetLayer('run');
  const runPaths = f().rows.map((r) => r.entry.path);
  assert.ok(runPaths.includes('/root') && runPaths.includes('/etc'), runPaths.join(' '));
  assert.ok(!runPaths.includes('/lib'), 'image-only directories are not in the run view');
  select(store, '/bin/hello');
  assert.equal(store.getState().filesSelected()!.layer, 'deleted');
  assert.equal(f().preview.kind, 'deleted');
  assert.deepEqual(tagged(store, '/bin'), ['hello:deleted'], 'the run view has the deletion, not the image files');
  select(store, '/root/counter.txt');

  // Extract a run-layer file.
  await store.getState().filesExtract(join(dir, '..', 'out'));
  assert.equal(readFileSync(join(dir, '..', 'out', 'counter.txt'), 'utf8'), 'run\n');

  // Verify the merged view: OK (the host run layer is plain files; the image chain is checked).
  store.getState().filesSetLayer('merged');
  await store.getState().filesVerify();
  const v = f().verify!;
  assert.equal(v.error, null);
  assert.equal(v.report?.ok, true, JSON.stringify(v.report?.problems));
  assert.ok(v.report!.files > 0);
  assert.equal(v.done, v.report!.files);

  // Diff: identical after the build; then image/ changes and the diff shows what a rebuild changes.
  await store.getState().filesDiff();
  assert.deepEqual(f().diff!.items, []);
  writeFileSync(join(dir, 'image/etc/new.conf'), 'x=1\n');
  writeFileSync(join(dir, 'image/etc/hosts'), '127.0.0.1   localhost\n::1 localhost\n');
  rmSync(join(dir, 'image/bin/hello'));
  await store.getState().filesDiff();
  assert.deepEqual(
    f().diff!.items.map((i) => `${i.change} ${i.path}`),
    ['removed /bin/hello', 'changed /etc/hosts', 'added /etc/new.conf'],
  );
});

test('SEFS run layer with whiteouts (Occlum reader, image key): deleted entries are shown and tagged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'files-union-'));
  cleanup.push(dir);
  const keyFile = join(dir, 'image_key');
  writeFileSync(keyFile, '01-23-45-67-89-ab-cd-ef-fe-dc-ba-98-76-54-32-10\n');
  const key = readImageKeyFile(keyFile);
  const w = (p: string, s: string) => {
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, s);
  };
  w(join(dir, 'image/etc/hosts'), '127.0.0.1 localhost\n');
  w(join(dir, 'image/etc/motd'), 'hello\n');
  w(join(dir, 'image/bin/app'), '\x7fELF\0\0binary');
  symlinkSync('../etc/motd', join(dir, 'image/bin/motd-link'));
  // A run layer as Occlum's UnionFS leaves it: a new file, a changed file, a whiteout.
  w(join(dir, 'upper/etc/motd'), 'changed at run time\n');
  w(join(dir, 'upper/etc/.ufs.wh.hosts'), '');
  w(join(dir, 'upper/root/log.txt'), 'ran\n');
  await packImage({
    src: join(dir, 'image'),
    outRoot: join(dir, 'build/mount/__ROOT'),
    macFile: join(dir, 'build/mount/.ROOT_MAC'),
    key,
  });
  await packImage({
    src: join(dir, 'upper'),
    outRoot: join(dir, 'run/mount/__ROOT'),
    macFile: join(dir, 'run/mount/.ROOT_MAC'),
    key,
  });
  w(join(dir, 'build/image_config.json'), JSON.stringify({ image_type: 'encrypted' }));
  w(join(dir, 'Occlum.json'), '{}');

  const store = createStudioStore({ launchDir: dir, backend: 'occlum' });
  stores.push(store);
  await openInstance(store, dir);
  store.getState().filesSetOpener(async (d, layer) => openInstanceFs(d, { layer, imageKey: keyFile }));
  await store.getState().filesOpen();
  const f = () => store.getState().files;
  assert.equal(f().status, 'ready', f().error ?? '');
  assert.deepEqual(f().layers, ['merged', 'image', 'run']);
  select(store, '/etc/motd');
  assert.deepEqual(tagged(store, '/etc'), ['hosts:deleted', 'motd:run']);
  await waitFor(() => f().preview.kind === 'text' && f().preview.path === '/etc/motd', 'run-layer motd');
  assert.deepEqual(store.getState().filesPreviewData().lines, ['changed at run time', '']);
  select(store, '/etc/hosts');
  assert.equal(f().preview.kind, 'deleted');
  assert.match(f().preview.message!, /whiteout/);
  store.getState().filesStartExtract();
  assert.equal(f().prompt, null);
  assert.match(store.getState().flash!.text, /deleted in the run layer/);
  select(store, '/bin/app');
  assert.equal(store.getState().filesSelected()!.layer, 'image');
  await waitFor(() => f().preview.kind === 'hex', 'binary preview');
  select(store, '/bin/motd-link');
  assert.equal(store.getState().filesSelected()!.type, 'symlink');
  assert.equal(store.getState().filesSelected()!.target, '../etc/motd');
  assert.equal(f().preview.kind, 'symlink');
  assert.equal(f().preview.message, 'symbolic link to ../etc/motd');

  store.getState().filesSetLayer('run');
  assert.deepEqual(
    f()
      .rows.map((r) => `${r.entry.path}:${r.entry.layer}`)
      .filter((x) => !x.startsWith('/:')),
    ['/etc:run', '/etc/hosts:deleted', '/etc/motd:run', '/root:run'],
  );
  select(store, '/root/log.txt');
  assert.equal(store.getState().filesSelected()!.layer, 'run');

  // Verify checks both layers with the image key.
  store.getState().filesSetLayer('merged');
  await store.getState().filesVerify();
  assert.equal(f().verify!.report?.ok, true, JSON.stringify(f().verify!.report?.problems));
  assert.equal(f().verify!.report?.note, undefined, 'an encrypted image has no integrity-only note');
});
