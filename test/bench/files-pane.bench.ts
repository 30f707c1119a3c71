// Files pane costs, each against a baseline measured in this run:
//  * first screen (open the image and list "/" through the store) vs walking the whole tree
//    (what an eager tree would cost; the pane is lazy);
//  * the main thread while the pane verifies: worst timer delay during verify vs the same timer
//    with nothing running (verify runs on the libuv pool, so the UI keeps rendering).
// BENCH_MB / BENCH_FILES size the tree (default 200 MB in 2000 files).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage, packImage } from '../../src/core/securefs/index.ts';
import { createStudioStore, openInstance } from '../../src/store/index.ts';
import { median, report, worstDelay } from './helpers.ts';

const MB = Number(process.env.BENCH_MB ?? 200);
const FILES = Number(process.env.BENCH_FILES ?? 2000);
const dir = mkdtempSync(join(tmpdir(), 'bench-files-pane-'));

try {
  const per = Math.floor((MB * 1048576) / FILES);
  const chunk = randomBytes(per);
  for (let i = 0; i < FILES; i++) {
    const d = join(dir, 'image', `d${i % 50}`, `s${i % 7}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `f${i}.bin`), chunk);
  }
  writeFileSync(join(dir, 'Occlum.json'), '{}');
  await packImage({
    src: join(dir, 'image'),
    outRoot: join(dir, 'build/mount/__ROOT'),
    macFile: join(dir, 'build/mount/.ROOT_MAC'),
    key: { kind: 'integrity-only' },
  });

  const firstScreen: number[] = [];
  const walks: number[] = [];
  for (let i = 0; i < 5; i++) {
    const store = createStudioStore({ launchDir: dir, backend: 'host' });
    await openInstance(store, dir);
    const t0 = performance.now();
    await store.getState().filesOpen();
    firstScreen.push(performance.now() - t0);
    if (store.getState().files.status !== 'ready') throw new Error(store.getState().files.error ?? 'not ready');
    const t1 = performance.now();
    openImage(join(dir, 'build/mount/__ROOT')).walk();
    walks.push(performance.now() - t1);
  }
  report('files pane first screen (open + list /)', median(firstScreen), 'ms', {
    name: 'full tree walk',
    value: median(walks),
  });

  const store = createStudioStore({ launchDir: dir, backend: 'host' });
  await openInstance(store, dir);
  await store.getState().filesOpen();
  const idle = (await worstDelay(() => new Promise((r) => setTimeout(r, 500)))).worst;
  const { worst: during, ms } = await worstDelay(() => store.getState().filesVerify());
  const v = store.getState().files.verify!;
  console.log(
    `verify through the pane: ${v.report!.files} files, ${(v.report!.bytes / 1048576).toFixed(0)} MiB in ${ms.toFixed(0)} ms, ok=${v.report!.ok}`,
  );
  report(
    'worst main-thread timer delay during verify',
    during,
    'ms',
    { name: 'idle', value: Math.max(0.1, idle) },
    'a few frames at most',
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
