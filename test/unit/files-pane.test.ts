// The Files slice and pane against the real Occlum 0.28 image (../shared/fixtures, read-only):
// lazy tree, metadata, text/hex preview with bounded reads, verify with progress and the five
// missing inode files, layer switch, diff against image/, extract (never outside the destination),
// and clear messages for an unbuilt instance, a wrong image key and a sealed run layer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStudioStore, openInstance, type StudioStore } from '../../src/store/index.ts';
import { backendOpener, PREVIEW_BYTES, type FsOpener } from '../../src/store/files-slice.ts';
import { looksBinary } from '../../src/core/files/preview.ts';
import { openInstanceFs } from '../../src/core/backend/occlum/secure-fs.ts';
import { packImage } from '../../src/core/securefs/index.ts';
import type { FsView } from '../../src/core/securefs/types.ts';
import { hexLayout, hexRow, modeString, octal, windowTop, wrapText } from '../../views/panes/files/format.ts';
import { OWN_TEMPLATE, WAMR_FIXTURE, needsCorpus } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';
import { renderStudio } from '../helpers/render-studio.tsx';

const MISSING = [
  '/bin/mywamrc',
  '/bin/wamrc',
  '/lib/libstdc++.so.6',
  '/opt/occlum/glibc/lib/libc.so.6',
  '/opt/occlum/glibc/lib/libm.so.6',
];
const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

/** Counts the listings the pane asks of the real view (to prove the tree is read on demand). */
function counting(open: FsOpener, calls: { list: string[]; walk: number }): FsOpener {
  return async (dir, layer) => {
    const v = await open(dir, layer);
    const wrapped: FsView = {
      ...v,
      list: (p) => {
        calls.list.push(`${layer}:${p}`);
        return v.list(p);
      },
      listing: (p) => {
        calls.list.push(`${layer}:${p}`);
        return v.listing(p);
      },
      walk: () => {
        calls.walk++;
        return v.walk();
      },
    };
    return wrapped;
  };
}

/**
 * A copy of the fixture as the host backend leaves it once it has run there (an empty
 * run/host/upper): the host backend then shows its own run layer. The fixture itself, built by
 * Occlum and never run here, is read as Occlum's (its SEFS run layer, sealed on hardware).
 */
function ranHere(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'files-ran-')), 'inst');
  cpSync(WAMR_FIXTURE, dir, { recursive: true });
  chmodSync(join(dir, 'run'), 0o755);
  mkdirSync(join(dir, 'run/host/upper'), { recursive: true });
  return dir;
}

async function fixtureStore(
  dir = WAMR_FIXTURE,
): Promise<{ store: StudioStore; calls: { list: string[]; walk: number } }> {
  const store = createStudioStore({ launchDir: mkdtempSync(join(tmpdir(), 'files-launch-')), backend: 'host' });
  await openInstance(store, dir);
  const calls = { list: [] as string[], walk: 0 };
  store.getState().filesSetOpener(
    counting(
      backendOpener(() => 'host'),
      calls,
    ),
  );
  await store.getState().filesOpen();
  return { store, calls };
}

function select(store: StudioStore, path: string): void {
  const s = store.getState();
  const parts = path.split('/').filter(Boolean);
  let cur = '';
  for (const part of parts.slice(0, -1)) {
    cur += '/' + part;
    const i = store.getState().files.rows.findIndex((r) => r.entry.path === cur);
    assert.ok(i >= 0, `${cur} is in the tree`);
    s.filesMove(i - store.getState().files.cursor);
    if (!store.getState().files.rows[i]!.expanded) s.filesToggle();
  }
  const i = store.getState().files.rows.findIndex((r) => r.entry.path === path);
  assert.ok(i >= 0, `${path} is in the tree`);
  s.filesMove(i - store.getState().files.cursor);
}

test(
  'the tree is listed on demand, with layers, metadata and previews of the real image',
  { skip: needsCorpus(WAMR_FIXTURE) },
  async () => {
    const { store, calls } = await fixtureStore(ranHere());
    const f = () => store.getState().files;
    assert.equal(f().status, 'ready');
    assert.equal(f().rootMac, readFileSync(join(WAMR_FIXTURE, 'build/mount/.ROOT_MAC'), 'utf8').trim());
    // Only the root was listed to show the first screen (merged, and the image's to find deletions).
    assert.deepEqual(calls.list, ['merged:/', 'image:/']);
    assert.equal(calls.walk, 0);
    assert.deepEqual(
      f().rows.map((r) => r.entry.name),
      ['/', 'bin', 'dev', 'etc', 'host', 'lib', 'lib64', 'opt', 'proc', 'root', 'tmp'],
    );
    assert.ok(
      f()
        .rows.slice(1)
        .every((r) => r.entry.layer === 'image'),
    );

    select(store, '/etc/hosts');
    assert.deepEqual(calls.list, ['merged:/', 'image:/', 'merged:/etc', 'image:/etc']);
    const e = store.getState().filesSelected()!;
    assert.equal(e.type, 'file');
    assert.equal(e.size, 22);
    assert.match(e.mac ?? '', /^[0-9a-f]{2}(-[0-9a-f]{2}){15}$/);
    assert.match(e.hostFile ?? '', /^[0-9a-f]{32}$/);
    assert.ok(existsSync(join(WAMR_FIXTURE, 'build/mount/__ROOT', e.hostFile!)));
    await waitFor(() => f().preview.kind === 'text', 'text preview');
    assert.deepEqual(store.getState().filesPreviewData().lines, ['127.0.0.1   localhost', '']);

    // ELF: hex rows of the whole 1.3 MB file, of which one window of PREVIEW_BYTES is read.
    select(store, '/lib/libgomp.so.1');
    await waitFor(() => f().preview.kind === 'hex', 'hex preview');
    assert.equal(f().preview.size, 1303704);
    assert.equal(f().preview.shown, PREVIEW_BYTES);
    assert.equal(f().preview.lines, Math.ceil(1303704 / 16));
    assert.equal(store.getState().filesPreviewData().bytes.subarray(0, 4).toString('latin1'), '\x7fELF');
    store.getState().filesScroll(10);
    assert.equal(f().preview.offset, 10);
    store.getState().filesToggleHex();
    assert.equal(f().preview.kind, 'text');
    assert.equal(f().preview.forced, 'text');

    // A file whose inode file is missing from the copy: a clear error, no crash.
    select(store, '/lib/libstdc++.so.6');
    await waitFor(() => f().preview.kind === 'error', 'error preview');
    assert.match(f().preview.message!, /cannot read: .*(missing|no such)/i);

    // Collapse with left: the directory closes; again: the cursor goes to the parent.
    store.getState().filesCollapse();
    assert.equal(store.getState().filesSelected()!.path, '/lib');
    store.getState().filesCollapse();
    assert.ok(!f().rows.find((r) => r.entry.path === '/lib')!.expanded);
    assert.equal(calls.walk, 0, 'browsing never walks the whole tree');
  },
);

test('display helpers: rwx modes, hex rows for the panel width, tree window, wrapping', () => {
  assert.equal(modeString({ type: 'file', mode: 0o755 }), '-rwxr-xr-x');
  assert.equal(modeString({ type: 'dir', mode: 0o1777 }), 'drwxrwxrwt');
  assert.equal(modeString({ type: 'file', mode: 0o4754 }), '-rwsr-xr--');
  assert.equal(modeString({ type: 'symlink', mode: 0o2644 }), 'lrw-r-Sr--');
  assert.equal(octal(0o644), '0644');
  const b = Buffer.from('\x7fELF0123456789abcdefXYZ', 'latin1');
  assert.equal(hexRow(b, 0, 'full'), '00000000  7f 45 4c 46 30 31 32 33  34 35 36 37 38 39 61 62  |.ELF0123456789ab|');
  assert.equal(hexRow(b, 0, 'compact'), '00000000 7f454c46 30313233 34353637 38396162 .ELF0123456789ab');
  assert.equal(hexRow(b, 1, 'bare').trimEnd(), '00000010 63646566 58595a');
  assert.equal(hexLayout(100), 'full');
  assert.equal(hexLayout(47), 'bare');
  assert.equal(windowTop(0, 30, 10, 100), 21);
  assert.equal(windowTop(21, 25, 10, 100), 21);
  assert.equal(windowTop(21, 5, 10, 100), 5);
  assert.deepEqual(wrapText('aaaa bbbb cccc dddd', 10), ['aaaa bbbb', 'cccc dddd']);
  assert.deepEqual(wrapText('x'.repeat(25), 10), ['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(5)]);
});

test('binary detection', () => {
  assert.equal(looksBinary(Buffer.from('plain text\nwith lines\n')), false);
  assert.equal(looksBinary(Buffer.from('ünïcödé ✓\n')), false);
  assert.equal(looksBinary(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1])), true);
  assert.equal(looksBinary(Buffer.from([0xff, 0xfe, 0x41, 0x42])), true);
});

test(
  'verify reports progress, the five missing inode files by path, and the integrity-only note',
  { skip: needsCorpus(WAMR_FIXTURE) },
  async () => {
    const { store } = await fixtureStore();
    const seen: number[] = [];
    const unsub = store.subscribe((s) => {
      if (s.files.verify?.running) seen.push(s.files.verify.done);
    });
    const run = store.getState().filesVerify();
    // The verify runs off the main thread: the store is already showing it as running.
    assert.equal(store.getState().files.verify?.running, true);
    assert.equal(store.getState().files.panel, 'verify');
    await run;
    unsub();
    const v = store.getState().files.verify!;
    assert.equal(v.running, false);
    assert.ok(v.report);
    assert.equal(v.report.ok, false);
    assert.deepEqual(v.report.problems.map((p) => p.path).sort(), MISSING);
    assert.ok(v.report.problems.every((p) => p.kind === 'missing'));
    assert.match(v.report.note ?? '', /integrity-only/);
    assert.equal(v.done, v.report.files);
    assert.ok(seen.length >= 1);
    assert.deepEqual([...store.getState().files.problemPaths].sort(), MISSING);
    assert.match(store.getState().flash?.text ?? '', /5 problems/);
    // J moves through the results; enter shows the highlighted one in the tree (ancestors expanded).
    store.getState().filesScroll(2);
    store.getState().filesOpenResult();
    assert.equal(store.getState().filesSelected()!.path, v.report.problems[2]!.path);
    assert.equal(store.getState().files.panel, 'verify');
  },
);

test(
  'layers: image alone, merged and run-only; diff against image/; extract stays in its directory',
  { skip: needsCorpus(WAMR_FIXTURE) },
  async () => {
    const inst = ranHere();
    const { store } = await fixtureStore(inst);
    const s = store.getState();
    const f = () => store.getState().files;
    // The host backend's merged view of this instance (run here, nothing written): no run-layer entries.
    assert.deepEqual(f().layers, ['merged', 'image', 'run']);
    select(store, '/bin/writefile');
    s.filesSetLayer('image');
    assert.equal(f().layer, 'image');
    assert.equal(store.getState().filesSelected()!.path, '/bin/writefile', 'the selection survives a layer switch');
    assert.equal(store.getState().filesSelected()!.layer, undefined);
    s.filesSetLayer('run');
    assert.deepEqual(
      f().rows.map((r) => r.entry.path),
      ['/'],
    );
    assert.equal(store.getState().filesSelected()!.path, '/');
    s.filesCycleLayer();
    assert.equal(f().layer, 'merged');

    await s.filesDiff();
    const d = f().diff!;
    assert.equal(d.running, false);
    assert.equal(d.error, null);
    assert.equal(d.src, join(inst, 'image'));
    const change = (p: string) => d.items.find((i) => i.path === p)?.change;
    assert.equal(change('/bin/wamrc'), 'removed');
    s.filesScroll(d.items.findIndex((i) => i.path === '/bin/wamrc'));
    s.filesOpenResult();
    assert.equal(store.getState().filesSelected()!.path, '/bin/wamrc');
    // The same content in image/ (its copy here is read-only, so only the mode may differ).
    assert.ok(!d.items.some((i) => i.path === '/bin/hello.aot' && i.change === 'changed'));

    const launch = store.getState().launchDir;
    select(store, '/etc');
    s.filesStartExtract();
    assert.equal(f().prompt, 'extract');
    assert.equal(store.getState().capture, true);
    await s.filesExtract('out');
    assert.equal(store.getState().capture, false);
    assert.equal(readFileSync(join(launch, 'out/etc/hosts'), 'utf8'), '127.0.0.1   localhost\n');
    assert.deepEqual(readdirSync(join(launch, 'out')), ['etc']);
    assert.deepEqual(f().lastExtract?.result.files, 2);
    // Extracting again over the same files: refused (files are created exclusively), nothing outside.
    await s.filesExtract(join(launch, 'out'));
    assert.equal(store.getState().flash?.kind, 'error');
    assert.match(store.getState().flash!.text, /failed: .*EEXIST|exists/);
    // A destination that is a file is refused before anything is written.
    writeFileSync(join(launch, 'afile'), '');
    await s.filesExtract(join(launch, 'afile'));
    assert.match(store.getState().flash!.text, /exists and is not a directory/);
    assert.equal(statSync(join(launch, 'afile')).size, 0);
  },
);

test(
  'an unbuilt instance, a wrong image key and a sealed run layer get clear messages',
  { skip: needsCorpus(WAMR_FIXTURE) },
  async () => {
    // Not built.
    const dir = mkdtempSync(join(tmpdir(), 'files-unbuilt-'));
    cpSync(OWN_TEMPLATE, join(dir, 'Occlum.json'));
    writeFileSync(join(dir, '.__occlum_status'), 'initialized');
    const store = createStudioStore({ launchDir: dir, backend: 'host' });
    await openInstance(store, dir);
    await store.getState().filesOpen();
    assert.equal(store.getState().files.status, 'error');
    assert.match(store.getState().files.error!, /not built yet .*build it/);

    // Encrypted image, opened with another key.
    const enc = mkdtempSync(join(tmpdir(), 'files-key-'));
    cpSync(OWN_TEMPLATE, join(enc, 'Occlum.json'));
    mkdirSync(join(enc, 'src/etc'), { recursive: true });
    writeFileSync(join(enc, 'src/etc/hosts'), '127.0.0.1 localhost\n');
    const key = { kind: 'image-key' as const, key: Uint8Array.from({ length: 16 }, (_, i) => i) };
    await packImage({
      src: join(enc, 'src'),
      outRoot: join(enc, 'build/mount/__ROOT'),
      macFile: join(enc, 'build/mount/.ROOT_MAC'),
      key,
    });
    mkdirSync(join(enc, 'build/host'), { recursive: true });
    writeFileSync(join(enc, 'build/host/image_key'), 'ff-11-22-33-44-55-66-77-88-99-aa-bb-cc-dd-ee-ff\n');
    const s2 = createStudioStore({ launchDir: enc, backend: 'host' });
    await openInstance(s2, enc);
    await s2.getState().filesOpen();
    assert.equal(s2.getState().files.status, 'error');
    assert.match(s2.getState().files.error!, /cannot open the image: .*key/i);

    // Opened with the host backend (no Occlum here), the Occlum-built fixture is still read as
    // Occlum's: its run layer is its SEFS one, sealed on hardware, not an empty host layer.
    const s4 = createStudioStore({ launchDir: dir, backend: 'host' });
    await openInstance(s4, WAMR_FIXTURE);
    await s4.getState().filesOpen();
    assert.equal(s4.getState().files.status, 'ready');
    assert.deepEqual(s4.getState().files.layers, ['merged', 'image']);
    assert.match(s4.getState().files.note!, /run layer cannot be read .*HW-mode instance is sealed/);

    // The fixture was built for SGX hardware: through the Occlum backend's reader its run layer is
    // sealed, so the pane shows the image layer and says why.
    const s3 = createStudioStore({ launchDir: dir, backend: 'occlum' });
    await openInstance(s3, WAMR_FIXTURE);
    s3.getState().filesSetOpener(async (d, layer) => openInstanceFs(d, { layer }));
    await s3.getState().filesOpen();
    const f3 = s3.getState().files;
    assert.equal(f3.status, 'ready');
    assert.deepEqual(f3.layers, ['merged', 'image']);
    assert.match(f3.note!, /run layer cannot be read .*sealed.*showing the image layer/);
    s3.getState().filesSetLayer('run');
    assert.equal(s3.getState().files.layer, 'merged');
    assert.match(s3.getState().flash!.text, /run layer is not available/);
  },
);

test(
  'a damaged image: unreadable metadata is a clear error; a damaged directory shows where, and verify names it',
  { skip: needsCorpus(WAMR_FIXTURE) },
  async () => {
    const copy = (): string => {
      const d = mkdtempSync(join(tmpdir(), 'files-damaged-'));
      cpSync(OWN_TEMPLATE, join(d, 'Occlum.json'));
      cpSync(join(WAMR_FIXTURE, 'build/mount'), join(d, 'build/mount'), { recursive: true });
      chmodSync(join(d, 'build/mount/__ROOT'), 0o755);
      return d;
    };
    const flip = (file: string, at: number) => {
      chmodSync(file, 0o644);
      const b = readFileSync(file);
      b[at] = b[at]! ^ 0xff;
      writeFileSync(file, b);
    };
    const opened = async (d: string) => {
      const store = createStudioStore({ launchDir: d, backend: 'host' });
      await openInstance(store, d);
      await store.getState().filesOpen();
      return store;
    };

    const a = copy();
    flip(join(a, 'build/mount/__ROOT/metadata'), 5000);
    const sa = await opened(a);
    assert.equal(sa.getState().files.status, 'error');
    assert.match(sa.getState().files.error!, /^cannot open the image: .+/);

    const b = copy();
    const etc = (await opened(b)).getState().files.rows.find((r) => r.entry.path === '/etc')!.entry;
    flip(join(b, 'build/mount/__ROOT', etc.hostFile!), 1000);
    const sb = await opened(b);
    // The image layer alone (the host backend's merged view treats an unlistable image directory
    // as empty: a gap of src/core/backend/host/fs-view.ts, which swallows image listing errors).
    sb.getState().filesSetLayer('image');
    select(sb, '/etc');
    sb.getState().filesToggle();
    const row = sb.getState().files.rows.find((r) => r.entry.path === '/etc')!;
    assert.match(row.error ?? '', /.+/, 'the listing error is shown under the directory');
    await sb.getState().filesVerify();
    const problems = sb.getState().files.verify!.report!.problems;
    assert.ok(
      problems.some((p) => p.path === '/etc' && p.kind !== 'missing'),
      JSON.stringify(problems),
    );
    assert.ok(sb.getState().files.problemPaths.includes('/etc'));
  },
);

test(
  'the pane in the shell: key 4, expand, preview, hex, verify panel, layer switch, extract prompt, help',
  { skip: needsCorpus(WAMR_FIXTURE) },
  async () => {
    const launch = mkdtempSync(join(tmpdir(), 'files-ui-'));
    const store = createStudioStore({ launchDir: launch, backend: 'host' });
    await openInstance(store, ranHere());
    const { ui, frame, press } = renderStudio(store);
    const waitFrame = (re: RegExp, what: string) => waitFor(() => re.test(frame()), `${what}\n${frame()}`);
    try {
      await press('4');
      await waitFrame(/▸ bin\//, 'tree');
      assert.match(frame(), /4 Files/);
      assert.match(frame(), /merged view \(run layer over image\)/);
      assert.match(frame(), /root MAC 6a-f7-ba/);
      // down to bin, expand it, down to hello.aot.
      await press('j', '\r');
      await waitFrame(/▾ bin\//, 'bin expanded');
      await press('j');
      await waitFrame(/\/bin\/hello\.aot/, 'hello.aot selected');
      assert.match(frame(), /-rwxrwxrwx \(0777\)/);
      assert.match(frame(), /inode \d+ · nlink 1/);
      assert.match(frame(), /host file __ROOT\/[0-9a-f]{32}/);
      await waitFrame(/─ text · lines 1–2 of 2/, 'text preview');
      await press('h');
      await waitFrame(/─ hex \(forced\)/, 'hex preview');
      assert.match(frame(), /00000000 {1,2}68 ?65 ?6c ?6c/);

      await press('v');
      await waitFrame(/✗ FAILED: 36 files/, 'verify result');
      // While it ran, the pane rendered the running state (the engine works off the main thread).
      assert.ok(ui.frames.some((fr) => /─ verify \(merged\) .*%.*verifying on worker threads/s.test(fr)));
      assert.match(frame(), /✗ \/bin\/mywamrc · missing/);
      assert.match(frame(), /note: integrity-only image/);
      assert.match(frame(), /mywamrc +✗img/);
      await press('p');
      await waitFrame(/─ hex/, 'back to preview');

      await press('l');
      await waitFrame(/image layer \(build\/mount\)/, 'image layer');
      await press('l');
      await waitFrame(/run layer only/, 'run layer');

      await press('l', 'x');
      await waitFrame(/extract \/ into directory: /, 'extract prompt');
      assert.equal(store.getState().capture, true);
      await press('\x1b');
      await waitFrame(/enter expand/, 'prompt closed');
      assert.equal(store.getState().capture, false);

      await press('?');
      await waitFrame(/verify the MAC chain of this layer/, 'help lists the pane keys');
      await press('\x1b');
    } finally {
      ui.unmount();
    }
  },
);

test('the pane says when the instance is not built, and shows the tree once it is (pane shown again)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'files-later-'));
  cpSync(OWN_TEMPLATE, join(dir, 'Occlum.json'));
  mkdirSync(join(dir, 'image/etc'), { recursive: true });
  writeFileSync(join(dir, 'image/etc/hosts'), '127.0.0.1 localhost\n');
  const store = createStudioStore({ launchDir: dir, backend: 'host' });
  await openInstance(store, dir);
  const { ui, frame } = renderStudio(store);
  try {
    ui.stdin.write('4');
    await waitFor(() => /not built yet/.test(frame()), `unbuilt message\n${frame()}`);
    assert.match(frame(), /Cannot show the file system/);
    await packImage({
      src: join(dir, 'image'),
      outRoot: join(dir, 'build/mount/__ROOT'),
      macFile: join(dir, 'build/mount/.ROOT_MAC'),
      key: { kind: 'integrity-only' },
    });
    ui.stdin.write('1');
    await tick(50);
    ui.stdin.write('4');
    await waitFor(() => /▸ etc\//.test(frame()), `tree after the build\n${frame()}`);
  } finally {
    ui.unmount();
  }
});
