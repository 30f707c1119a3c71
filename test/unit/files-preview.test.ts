// Ranged reads and what they serve: FsView.readRange on images, merged views and the host
// backend's run layer; the preview pager (text lines found as it pages, hex windows, bounded
// reads); the Files pane previewing a file past the old 64 MiB limit, paging it, and still
// previewing its start when a node near its end is damaged (only the nodes shown are read);
// extract and diff reporting progress in the store while the event loop keeps turning.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage, openUnion, packImage, type KeyMode } from '../../src/core/securefs/index.ts';
import { openHostFs } from '../../src/core/backend/host/fs-view.ts';
import { PreviewPager, LINE_MAX, VISIBLE, WINDOW, displayLine } from '../../src/core/files/preview.ts';
import { createStudioStore, openInstance, type StudioStore } from '../../src/store/index.ts';
import { hexRow } from '../../views/panes/files/format.ts';
import { OWN_TEMPLATE } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const scratch = (tag: string) => {
  const d = mkdtempSync(join(tmpdir(), `files-preview-${tag}-`));
  dirs.push(d);
  return d;
};

/** Line i of the big text file: fixed width, so line i starts at byte 16 * i. */
const line = (i: number) => `line ${String(i).padStart(10, '0')}`;
/** 70 MiB: more than the 64 MiB the preview used to refuse. */
const BIG_LINES = (70 * 1048576) / 16;

function bigText(): Buffer {
  const b = Buffer.allocUnsafe(BIG_LINES * 16);
  for (let i = 0; i < BIG_LINES; i++) b.write(`${line(i)}\n`, i * 16, 'latin1');
  return b;
}

/** A reader over a buffer that counts the bytes it hands out. */
function memReader(data: Buffer) {
  const stats = { calls: 0, bytes: 0 };
  const read = async (off: number, len: number) => {
    stats.calls++;
    const b = data.subarray(Math.min(off, data.length), Math.min(off + len, data.length));
    stats.bytes += b.length;
    return Buffer.from(b);
  };
  return { read, stats };
}

test('readRange equals the same slice of readFile on an image, a merged view and the host run layer', async () => {
  const d = scratch('range');
  const key: KeyMode = { kind: 'image-key', key: Uint8Array.from({ length: 16 }, (_, i) => i * 3) };
  const data = Buffer.from(Array.from({ length: 3072 + 4096 * 100 + 5 }, (_, i) => (i * 7 + (i >> 12)) & 255));
  mkdirSync(join(d, 'img/dir'), { recursive: true });
  writeFileSync(join(d, 'img/dir/data.bin'), data);
  writeFileSync(join(d, 'img/small'), 'small\n');
  mkdirSync(join(d, 'run/dir'), { recursive: true });
  writeFileSync(join(d, 'run/dir/small'), 'run layer\n');
  await packImage({ src: join(d, 'img'), outRoot: join(d, 'i/__ROOT'), macFile: join(d, 'i/.ROOT_MAC'), key });
  await packImage({ src: join(d, 'run'), outRoot: join(d, 'r/__ROOT'), macFile: join(d, 'r/.ROOT_MAC'), key });
  const image = openImage(join(d, 'i/__ROOT'), key);
  const union = openUnion(join(d, 'i/__ROOT'), join(d, 'r/__ROOT'), { imageKey: key });
  const cases: [number, number][] = [
    [0, 0],
    [0, 10],
    [3070, 10],
    [3072, 4096],
    [3072 + 4096 * 96 - 2, 5],
    [data.length - 3, 100],
    [data.length, 10],
    [data.length + 99, 1],
  ];
  for (const v of [image, union]) {
    for (const [off, len] of cases) {
      assert.ok(
        (await v.readRange('/dir/data.bin', off, len)).equals(data.subarray(off, off + len)),
        `${v.kind} ${off}+${len}`,
      );
    }
    await assert.rejects(v.readRange('/dir', 0, 10), /is a directory/);
    await assert.rejects(v.readRange('/nope', 0, 10), /no such file/);
    await assert.rejects(v.readRange('/small', -1, 10), RangeError);
    await assert.rejects(v.readRange('/small', 0, 1.5), RangeError);
  }
  assert.equal((await union.readRange('/dir/small', 4, 100)).toString(), 'layer\n');
  // The host backend's merged view: run-layer files are plain files of the upper directory.
  const upper = join(d, 'upper');
  mkdirSync(join(upper, 'dir'), { recursive: true });
  writeFileSync(join(upper, 'dir/small'), 'host run layer\n');
  const host = openHostFs(image, upper);
  assert.equal((await host.readRange('/dir/small', 5, 3)).toString(), 'run');
  assert.equal((await host.readRange('/dir/small', 100, 3)).length, 0);
  assert.ok((await host.readRange('/dir/data.bin', 5000, 20)).equals(data.subarray(5000, 5020)));
});

test('the pager finds text lines as it pages, reads a bounded amount, and keeps hex windows', async () => {
  const text = Buffer.from(Array.from({ length: 5000 }, (_, i) => `${i}\tx\r\n`).join('') + 'last');
  const { read } = memReader(text);
  const p = new PreviewPager(read, text.length);
  await p.open();
  await p.fillText(0);
  assert.equal(p.complete, true, 'a file within the first window is scanned at once');
  assert.equal(p.textLines, 5001);
  let rows = p.textRows();
  assert.equal(rows.firstLine, 0);
  assert.deepEqual(rows.lines.slice(0, 2), ['0    x', '1    x']);
  await p.fillText(4900);
  rows = p.textRows();
  assert.equal(rows.firstLine, 4900);
  assert.equal(rows.lines.at(-1), 'last');
  assert.equal(rows.lines[0], '4900    x');
  assert.equal(displayLine(Buffer.from('a\x01\x7fb')), 'a^A^?b');

  // A big file: the scan goes only as far as the lines asked for.
  const big = bigText();
  const r = memReader(big);
  const q = new PreviewPager(r.read, big.length);
  await q.open();
  await q.fillText(0);
  assert.equal(q.complete, false);
  assert.ok(q.textLines > VISIBLE && q.textLines <= WINDOW / 16 + 1);
  for (let page = 0; page < 2000; page += 10) await q.fillText(page);
  await q.fillText(100_000);
  rows = q.textRows();
  assert.equal(rows.firstLine, 100_000);
  assert.equal(rows.lines[0], line(100_000));
  assert.equal(rows.lines[VISIBLE - 1], line(100_000 + VISIBLE - 1));
  assert.ok(r.stats.bytes < 8 * 1048576, `read ${r.stats.bytes} bytes of ${big.length}`);
  // Hex rows are at fixed offsets: the window is read where the rows are.
  const before = r.stats.bytes;
  await q.fillHex(3_000_000);
  const { bytes, start } = q.hexData();
  assert.equal(hexRow(bytes, 3_000_000, 'full', start).slice(0, 8), (3_000_000 * 16).toString(16).padStart(8, '0'));
  assert.match(hexRow(bytes, 3_000_000, 'full', start), /\|line 0003000000\.\|/);
  assert.ok(r.stats.bytes - before <= WINDOW);
  assert.equal(q.hexReady(3_000_000 + 5), true);

  // One line without newlines: each request scans a bounded amount, the line shows LINE_MAX bytes.
  const flat = Buffer.alloc(40 * 1048576, 0x61);
  const f = memReader(flat);
  const o = new PreviewPager(f.read, flat.length);
  await o.open();
  await o.fillText(0);
  assert.equal(o.textLines, 1);
  assert.equal(o.textRows().lines[0]!.length, LINE_MAX);
  assert.ok(f.stats.bytes < 10 * 1048576, `read ${f.stats.bytes} of ${flat.length}`);
});

/** An instance directory (not built by a backend: image packed here) holding `files`. */
async function instanceWith(files: Record<string, Buffer | string>): Promise<string> {
  const dir = scratch('inst');
  cpSync(OWN_TEMPLATE, join(dir, 'Occlum.json'));
  for (const [p, data] of Object.entries(files)) {
    mkdirSync(join(dir, 'src', p, '..'), { recursive: true });
    writeFileSync(join(dir, 'src', p), data);
  }
  await packImage({
    src: join(dir, 'src'),
    outRoot: join(dir, 'build/mount/__ROOT'),
    macFile: join(dir, 'build/mount/.ROOT_MAC'),
    key: { kind: 'integrity-only' },
  });
  return dir;
}

async function openStore(dir: string): Promise<StudioStore> {
  const store = createStudioStore({ launchDir: dir, backend: 'host' });
  await openInstance(store, dir);
  await store.getState().filesOpen();
  assert.equal(store.getState().files.status, 'ready', store.getState().files.error ?? '');
  return store;
}

function selectPath(store: StudioStore, path: string): void {
  assert.ok(store.getState().filesReveal(path), `${path} is in the tree`);
}

test('the pane previews a 70 MiB file as text and hex, pages it, and reads only what it shows', async () => {
  const big = bigText();
  const dir = await instanceWith({ 'data/big.log': big, 'etc/hosts': '127.0.0.1 localhost\n' });
  const store = await openStore(dir);
  const f = () => store.getState().files;
  const s = store.getState();
  selectPath(store, '/data/big.log');
  await waitFor(() => f().preview.kind === 'text', 'text preview');
  const p = f().preview;
  assert.equal(p.size, big.length);
  assert.equal(p.complete, false, 'the line count of a big file is not known up front');
  assert.ok(p.lines > VISIBLE);
  assert.deepEqual(s.filesPreviewData().lines!.slice(0, 2), [line(0), line(1)]);
  // PgDn pages on; the lines shown are the file's.
  for (let i = 0; i < 30; i++) s.filesScroll(10);
  await waitFor(() => !f().preview.reading && f().preview.offset === 300, 'paged');
  await waitFor(() => s.filesPreviewData().firstLine === 300, 'lines of the new page');
  assert.equal(s.filesPreviewData().lines![0], line(300));
  s.filesScroll(-295);
  await waitFor(() => s.filesPreviewData().firstLine === 5, 'paged back');
  assert.equal(s.filesPreviewData().lines![0], line(5));
  // Hex: rows of the whole file; the last row is the file's last 16 bytes.
  s.filesToggleHex();
  assert.equal(f().preview.kind, 'hex');
  assert.equal(f().preview.lines, big.length / 16);
  s.filesScroll(f().preview.lines);
  await waitFor(() => f().preview.offset === big.length / 16 - 1 && !f().preview.reading, 'hex end');
  await waitFor(() => s.filesPreviewData().start > 0, 'the end window');
  const d = s.filesPreviewData();
  assert.match(hexRow(d.bytes, big.length / 16 - 1, 'full', d.start), new RegExp(`\\|${line(BIG_LINES - 1)}.\\|`));
});

test('a damaged node outside what the preview shows does not stop the preview; inside it does', async () => {
  const big = bigText();
  const dir = await instanceWith({ 'big.log': big });
  const store0 = await openStore(dir);
  selectPath(store0, '/big.log');
  const host = join(dir, 'build/mount/__ROOT', store0.getState().filesSelected()!.hostFile!);
  // Damage a data node about 60 MiB into the file (host node = data node + 2 + data node / 96).
  const dataNode = Math.floor((60 * 1048576 - 3072) / 4096);
  const phys = dataNode + 2 + Math.floor(dataNode / 96);
  chmodSync(host, 0o644);
  const b = readFileSync(host);
  b[phys * 4096 + 100]! ^= 0xff;
  writeFileSync(host, b);

  const store = await openStore(dir);
  const f = () => store.getState().files;
  selectPath(store, '/big.log');
  await waitFor(() => f().preview.kind === 'text', 'text preview despite the damage');
  assert.equal(store.getState().filesPreviewData().lines![0], line(0));
  store.getState().filesToggleHex();
  // Scroll the hex rows to the damaged node: the read there fails, naming the node.
  store.getState().filesScroll(Math.floor((3072 + dataNode * 4096) / 16));
  await waitFor(() => f().preview.kind === 'error', 'error at the damaged node');
  assert.match(f().preview.message!, new RegExp(`cannot read: .*node ${phys}\\b`));
});

test('extract and diff report progress in the store and the event loop keeps turning', async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 300; i++) files[`d${i % 10}/f${i}.txt`] = `file ${i}\n`.repeat(50);
  const dir = await instanceWith(files);
  const store = await openStore(dir);
  const seen: { done: number; total: number }[] = [];
  const unsub = store.subscribe((st) => {
    if (st.files.extracting) seen.push({ done: st.files.extracting.done, total: st.files.extracting.total });
  });
  let ticks = 0;
  const iv = setInterval(() => ticks++, 1);
  const dest = join(dir, 'out');
  await store.getState().filesExtract(dest);
  clearInterval(iv);
  unsub();
  assert.equal(store.getState().files.extracting, null);
  const r = store.getState().files.lastExtract!.result;
  assert.equal(r.files, 300);
  assert.equal(r.dirs, 11);
  assert.equal(readFileSync(join(dest, 'd7/f17.txt'), 'utf8'), files['d7/f17.txt']);
  assert.equal(readdirSync(dest).length, 10);
  assert.ok(
    seen.some((p) => p.total === 311 && p.done > 0 && p.done < p.total),
    JSON.stringify(seen.slice(0, 5)),
  );
  assert.ok(ticks > 0, 'timers ran while extracting');
  // The run-only view extracts only what the run layer holds (nothing here: the instance never ran).
  store.getState().filesSetLayer('run');
  assert.equal(store.getState().files.layer, 'run');
  await store.getState().filesExtract(join(dir, 'out-run'));
  assert.equal(store.getState().files.lastExtract!.result.files, 0);
  assert.deepEqual(readdirSync(join(dir, 'out-run')), []);
  store.getState().filesSetLayer('merged');

  // diff against the source tree: progress while comparing, then the result.
  rmSync(join(dir, 'src/d3/f13.txt'));
  writeFileSync(join(dir, 'src/d4/f14.txt'), 'changed\n');
  cpSync(join(dir, 'src'), join(dir, 'image'), { recursive: true });
  const diffs: { done: number; total: number }[] = [];
  const un2 = store.subscribe((st) => {
    if (st.files.diff?.running) diffs.push({ done: st.files.diff.done, total: st.files.diff.total });
  });
  await store.getState().filesDiff();
  un2();
  const d = store.getState().files.diff!;
  assert.equal(d.error, null);
  assert.deepEqual(
    d.items.map((i) => [i.path, i.change]),
    [
      ['/d3/f13.txt', 'removed'],
      ['/d4/f14.txt', 'changed'],
    ],
  );
  assert.equal(d.done, d.total);
  assert.equal(d.total, 309);
  assert.ok(diffs.some((p) => p.total === 309 && p.done < p.total));
});

test('extract leaves no half-written file when a later chunk is damaged; diff calls it unreadable', async () => {
  const data = Buffer.alloc(20 * 1048576, 0x5a);
  const dir = await instanceWith({ 'a/big.bin': data, 'a/ok.txt': 'fine\n' });
  const v = openImage(join(dir, 'build/mount/__ROOT'));
  const host = join(dir, 'build/mount/__ROOT', v.stat('/a/big.bin').hostFile!);
  // Data node past the first 8 MiB chunk (host node = data node + 2 + data node / 96).
  const dataNode = Math.floor((12 * 1048576 - 3072) / 4096);
  const phys = dataNode + 2 + Math.floor(dataNode / 96);
  chmodSync(host, 0o644);
  const b = readFileSync(host);
  b[phys * 4096 + 7]! ^= 1;
  writeFileSync(host, b);
  const { extract, diffWithSource } = await import('../../src/core/securefs/index.ts');
  const out = join(dir, 'out');
  const progress: number[] = [];
  const r = await extract(v, '/a', out, { onProgress: (p) => progress.push(p.bytes) });
  assert.equal(r.files, 1);
  assert.equal(r.skipped.length, 1);
  assert.equal(r.skipped[0]!.path, '/a/big.bin');
  assert.match(r.skipped[0]!.reason, new RegExp(`node ${phys}\\b`));
  assert.deepEqual(readdirSync(join(out, 'a')), ['ok.txt'], 'the partly copied file is removed');
  assert.ok(
    progress.some((n) => n >= 8 * 1048576),
    'bytes are reported chunk by chunk',
  );
  const items = await diffWithSource(v, join(dir, 'src'));
  assert.deepEqual(
    items.map((i) => [i.path, i.change]),
    [['/a/big.bin', 'changed']],
  );
  assert.match(items[0]!.detail!, /^unreadable in image: .*node/);
});

test('a running extract can be cancelled from the pane (X): what was written is complete, the rest is missing', async () => {
  const files: Record<string, Buffer | string> = {};
  for (let i = 0; i < 40; i++) files[`t/f${String(i).padStart(2, '0')}.bin`] = Buffer.alloc(1048576 + i, i);
  const dir = await instanceWith(files);
  const store = await openStore(dir);
  selectPath(store, '/t');
  const dest = join(dir, 'out');
  // Cancel once a few files are through, by the key a user presses.
  let pressed = false;
  const unsub = store.subscribe((st) => {
    if (!pressed && (st.files.extracting?.done ?? 0) >= 5) {
      pressed = true;
      store.getState().filesCancelExtract();
    }
  });
  await store.getState().filesExtract(dest);
  unsub();
  const r = store.getState().files.lastExtract!.result;
  assert.equal(r.cancelled, true);
  assert.ok(r.files >= 4 && r.files < 40, `some files written, not all (${r.files})`);
  const written = readdirSync(join(dest, 't'));
  assert.equal(written.length, r.files, 'no partly written file is left');
  for (const name of written)
    assert.ok(readFileSync(join(dest, 't', name)).equals(files[`t/${name}`] as Buffer), `${name} is complete`);
  assert.match(store.getState().flash!.text, /cancelled: \d+ files/);
  store.getState().filesCancelExtract();
  assert.match(store.getState().flash!.text, /no extract is running/);
});

test('an extract cancelled in the middle of a file removes that file', async () => {
  const big = Buffer.alloc(20 * 1048576, 7); // three 8 MiB chunks
  const dir = await instanceWith({ 'a/1-small': 'small\n', 'a/2-big': big, 'a/3-after': 'after\n' });
  const v = openImage(join(dir, 'build/mount/__ROOT'));
  const { extract } = await import('../../src/core/securefs/index.ts');
  const out = join(dir, 'out');
  const ac = new AbortController();
  // Abort right after the first chunk of the big file has been written.
  const r = await extract(v, '/a', out, { signal: ac.signal, onProgress: (p) => p.bytes >= 8 * 1048576 && ac.abort() });
  assert.equal(r.cancelled, true);
  assert.deepEqual(
    readdirSync(join(out, 'a')),
    ['1-small'],
    'the big file in progress is removed, the next one never started',
  );
  assert.equal(r.files, 1);
});
