// Secure-FS engine throughput, each against a baseline measured in this run on this machine:
//  * pack (integrity-only and image key) vs min(2-core `openssl speed -evp aes-128-gcm`, `cp -a`)
//    of the same tree (goal >= 70%);
//  * verify vs 2-core GCM (goal >= 70%);
//  * incremental one-file rebuild of a 200 MB / 2000-file tree vs a full pack (goal < 50 ms, >= 50x),
//    with a `changed` hint as a watcher gives it (and, for reference, without one);
//  * native GCM sealing in one call vs a per-node node:crypto loop.
// BENCH_MB / BENCH_FILES shrink the tree for a quick run.
import { spawnSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage, packImage, type KeyMode } from '../../src/core/securefs/index.ts';
import { loadNative } from '../../src/core/securefs/native.ts';
import { median, report } from './helpers.ts';

const MB = Number(process.env.BENCH_MB ?? 200);
const FILES = Number(process.env.BENCH_FILES ?? 2000);
const MiB = 1048576;
const dir = mkdtempSync(join(tmpdir(), 'bench-securefs-'));
const src = join(dir, 'image');
const KEY: KeyMode = { kind: 'image-key', key: Uint8Array.from(randomBytes(16)) };

function gcmRate(cores: number): number {
  const r = spawnSync(
    'openssl',
    [
      'speed',
      '-mr',
      '-evp',
      'aes-128-gcm',
      '-bytes',
      '4096',
      '-seconds',
      '2',
      ...(cores > 1 ? ['-multi', String(cores)] : []),
    ],
    { encoding: 'utf8' },
  );
  const line = r.stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('+F:'));
  if (!line) throw new Error(`openssl speed gave no result: ${r.stderr}`);
  return Number(line.split(':').at(-1)) / MiB; // MiB/s
}

function makeTree(): number {
  const per = Math.floor((MB * MiB) / FILES);
  const dirs = 20;
  const chunk = randomBytes(per + 4096);
  for (let d = 0; d < dirs; d++) mkdirSync(join(src, `d${d}`), { recursive: true });
  for (let i = 0; i < FILES; i++) {
    const b = Buffer.from(chunk.subarray(i % 4096, (i % 4096) + per));
    b.writeUInt32LE(i, 0); // distinct content per file
    writeFileSync(join(src, `d${i % dirs}`, `f${i}.bin`), b);
  }
  return per * FILES;
}

function time<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const r = f();
  return [r, performance.now() - t0];
}
async function timeAsync<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, performance.now() - t0];
}

try {
  const bytes = makeTree();
  const mib = bytes / MiB;
  console.log(`tree: ${FILES} files, ${mib.toFixed(0)} MiB in ${src}`);
  const gcm1 = gcmRate(1);
  const gcm2 = gcmRate(2);
  console.log(
    `openssl speed -evp aes-128-gcm (4 KiB): 1 core ${gcm1.toFixed(0)} MiB/s, 2 cores ${gcm2.toFixed(0)} MiB/s`,
  );

  // cp -a of the same tree and the two kinds of full pack, interleaved so that all three see the
  // same I/O conditions (this machine's disk is shared), each after a `sync`.
  const cpTimes: number[] = [];
  const full: number[] = [];
  const enc: number[] = [];
  const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
  for (let i = 0; i < ROUNDS; i++) {
    for (const d of ['cp', 'full', 'enc']) rmSync(join(dir, d), { recursive: true, force: true });
    spawnSync('sync');
    cpTimes.push(time(() => spawnSync('cp', ['-a', src, join(dir, 'cp')]))[1]);
    spawnSync('sync');
    full.push(
      (
        await timeAsync(() =>
          packImage({
            src,
            outRoot: join(dir, 'full/__ROOT'),
            macFile: join(dir, 'full/.ROOT_MAC'),
            key: { kind: 'integrity-only' },
          }),
        )
      )[1],
    );
    spawnSync('sync');
    enc.push(
      (
        await timeAsync(() =>
          packImage({ src, outRoot: join(dir, 'enc/__ROOT'), macFile: join(dir, 'enc/.ROOT_MAC'), key: KEY }),
        )
      )[1],
    );
  }
  rmSync(join(dir, 'cp'), { recursive: true, force: true });
  const cpRate = mib / (median(cpTimes) / 1000);
  const packBase = { name: 'min(2-core GCM, cp -a)', value: Math.min(gcm2, cpRate) };
  console.log(`cp -a: ${cpRate.toFixed(0)} MiB/s (median of ${ROUNDS})`);
  report('pack integrity-only', mib / (median(full) / 1000), 'MiB/s', packBase, '>= 0.70x');
  report('pack image key', mib / (median(enc) / 1000), 'MiB/s', packBase, '>= 0.70x');

  // Verify.
  const vio: number[] = [];
  const venc: number[] = [];
  for (let i = 0; i < 3; i++) {
    const [r1, t1] = await timeAsync(() => openImage(join(dir, 'full/__ROOT')).verify());
    if (!r1.ok) throw new Error(`verify failed: ${JSON.stringify(r1.problems.slice(0, 3))}`);
    vio.push(t1);
    const [r2, t2] = await timeAsync(() => openImage(join(dir, 'enc/__ROOT'), KEY).verify());
    if (!r2.ok) throw new Error('verify (image key) failed');
    venc.push(t2);
  }
  const gcmBase = { name: '2-core GCM', value: gcm2 };
  report('verify integrity-only', mib / (median(vio) / 1000), 'MiB/s', gcmBase, '>= 0.70x');
  report('verify image key', mib / (median(venc) / 1000), 'MiB/s', gcmBase, '>= 0.70x');

  // Incremental one-file rebuild into the same destination.
  const out = {
    src,
    outRoot: join(dir, 'inc/__ROOT'),
    macFile: join(dir, 'inc/.ROOT_MAC'),
    key: { kind: 'integrity-only' } as KeyMode,
    incremental: true,
  };
  await packImage(out);
  const inc: number[] = [];
  for (let i = 0; i < 7; i++) {
    writeFileSync(join(src, 'd3', 'f3.bin'), randomBytes(100_000));
    // Flush the dirty pages of the full packs above, so their writeback does not land in this timing.
    spawnSync('sync');
    const [r, t] = await timeAsync(() => packImage(out));
    if (r.filesPacked !== 1) throw new Error(`incremental rewrote ${r.filesPacked} inode files`);
    inc.push(t);
  }
  const incMs = median(inc);
  report(
    'incremental one-file rebuild, no hint (stats the whole tree)',
    incMs,
    'ms',
    { name: 'full pack', value: median(full) },
    '< 50 ms',
  );
  console.log(`  = ${(median(full) / incMs).toFixed(0)}x faster than the full pack`);
  // The same rebuild with a change-set hint, as a watcher drives it: the packs above, in this
  // process, left their result in memory, so the edit takes the warm path (no walk, metadata
  // re-sealed in place).
  const hinted: number[] = [];
  for (let i = 0; i < 7; i++) {
    writeFileSync(join(src, 'd3', 'f3.bin'), randomBytes(100_000));
    spawnSync('sync');
    const [r, t] = await timeAsync(() => packImage({ ...out, changed: ['d3/f3.bin'] }));
    if (r.filesPacked !== 1) throw new Error(`hinted incremental rewrote ${r.filesPacked} inode files`);
    hinted.push(t);
  }
  const hintMs = median(hinted);
  report(
    'incremental one-file rebuild, changed hint',
    hintMs,
    'ms',
    { name: 'full pack', value: median(full) },
    '< 50 ms and <= 0.02x (>= 50x faster)',
  );
  console.log(
    `  = ${(median(full) / hintMs).toFixed(0)}x faster than the full pack, ${(incMs / hintMs).toFixed(1)}x faster than unhinted`,
  );

  // Native sealing in one call vs node:crypto with a cipher per 4 KiB node.
  const N = 64;
  const native: number[] = [];
  const perNode: number[] = [];
  const buf = Buffer.alloc(N * MiB, 0x5a);
  const iv = Buffer.alloc(12);
  for (let r = 0; r < 3; r++) {
    native.push(Number(loadNative().call('sealBench', [String(N)])));
    perNode.push(
      time(() => {
        const key = Buffer.alloc(16);
        for (let off = 0, i = 0; off < buf.length; off += 4096, i++) {
          key.writeUInt32LE(i, 0);
          const c = createCipheriv('aes-128-gcm', key, iv);
          c.update(buf.subarray(off, off + 4096));
          c.final();
          c.getAuthTag();
        }
      })[1],
    );
  }
  report('native GCM seal (one call, 4 KiB nodes)', N / (median(native) / 1000), 'MiB/s', {
    name: 'node:crypto per-node loop',
    value: N / (median(perNode) / 1000),
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
