// Ranged reads for the Files pane, and extract/diff off the main thread, each against a baseline
// measured in this run:
//  * the first screen of a preview of a big file (one ranged read of the first window + its text
//    lines) vs reading the whole file (what the preview did before ranged reads), and a window at
//    the end of the file (hex rows there) vs the same whole read;
//  * worst main-thread timer delay while the async extract / diff run vs while a synchronous copy /
//    compare loop does the same work (what extract and diff did before), plus their total times.
// BENCH_MB sizes the big file (default 256), BENCH_TREE_MB / BENCH_FILES the tree (100 MB, 2000).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diffWithSource, extract, openImage, packImage } from '../../src/core/securefs/index.ts';
import { PreviewPager, WINDOW } from '../../src/core/files/preview.ts';
import { median, report, worstDelay } from './helpers.ts';

const MB = Number(process.env.BENCH_MB ?? 256);
const TREE_MB = Number(process.env.BENCH_TREE_MB ?? 100);
const FILES = Number(process.env.BENCH_FILES ?? 2000);
const dir = mkdtempSync(join(tmpdir(), 'bench-files-preview-'));

try {
  // A big text file (fixed 16-byte lines) and a tree of many files.
  const lines = Math.floor((MB * 1048576) / 16);
  const big = Buffer.allocUnsafe(lines * 16);
  for (let i = 0; i < lines; i++) big.write(`line ${String(i).padStart(10, '0')}\n`, i * 16, 'latin1');
  mkdirSync(join(dir, 'src/big'), { recursive: true });
  writeFileSync(join(dir, 'src/big/big.log'), big);
  const per = Math.floor((TREE_MB * 1048576) / FILES);
  for (let i = 0; i < FILES; i++) {
    const d = join(dir, 'src/tree', `d${i % 40}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `f${i}.bin`), randomBytes(per));
  }
  const root = join(dir, 'build/mount/__ROOT');
  await packImage({
    src: join(dir, 'src'),
    outRoot: root,
    macFile: join(dir, 'build/mount/.ROOT_MAC'),
    key: { kind: 'integrity-only' },
  });
  const view = openImage(root);

  const first: number[] = [];
  const end: number[] = [];
  const whole: number[] = [];
  for (let i = 0; i < 5; i++) {
    let t = performance.now();
    const p = new PreviewPager((o, l) => view.readRange('/big/big.log', o, l), big.length);
    await p.open();
    await p.fillText(0);
    first.push(performance.now() - t);
    t = performance.now();
    await p.fillHex(p.hexLines - 1);
    end.push(performance.now() - t);
    t = performance.now();
    await view.readFileAsync('/big/big.log');
    whole.push(performance.now() - t);
  }
  console.log(`preview of a ${MB} MiB file: first window ${WINDOW / 1024} KiB`);
  report('preview first screen (ranged read + text lines)', median(first), 'ms', {
    name: 'whole-file read',
    value: median(whole),
  });
  report('preview window at the end (hex rows)', median(end), 'ms', { name: 'whole-file read', value: median(whole) });

  // Extract: async (ranged chunks, loop turns) vs a synchronous read-and-write loop.
  let n = 0;
  const asyncExtract = await worstDelay(() => extract(view, '/tree', join(dir, `out${n++}`)));
  const syncExtract = await worstDelay(() => {
    const out = join(dir, `out${n++}`);
    for (const e of view.walk().filter((x) => x.path.startsWith('/tree/'))) {
      if (e.type === 'dir') mkdirSync(join(out, e.path), { recursive: true });
      else writeFileSync(join(out, e.path), view.readFile(e.path));
    }
  });
  console.log(
    `extract of ${FILES} files, ${TREE_MB} MB: async ${asyncExtract.ms.toFixed(0)} ms, synchronous loop ${syncExtract.ms.toFixed(0)} ms`,
  );
  report('extract total time', asyncExtract.ms, 'ms', { name: 'synchronous loop', value: syncExtract.ms });
  report(
    'worst main-thread timer delay during extract',
    asyncExtract.worst,
    'ms',
    { name: 'synchronous loop', value: syncExtract.worst },
    'a few frames at most',
  );

  // Diff: the source tree is identical, so every file is read and compared.
  const asyncDiff = await worstDelay(() => diffWithSource(view, join(dir, 'src')));
  const syncDiff = await worstDelay(() => {
    const visit = (d: string, ip: string) => {
      for (const name of readdirSync(d).sort()) {
        const hp = join(d, name);
        const p = `${ip}/${name}`;
        if (statSync(hp).isDirectory()) visit(hp, p);
        else view.readFile(p).equals(readFileSync(hp));
      }
    };
    visit(join(dir, 'src'), '');
  });
  report('diff total time', asyncDiff.ms, 'ms', { name: 'synchronous loop', value: syncDiff.ms });
  report(
    'worst main-thread timer delay during diff',
    asyncDiff.worst,
    'ms',
    { name: 'synchronous loop', value: syncDiff.worst },
    'a few frames at most',
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
