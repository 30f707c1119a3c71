// Throughput of the Run pane's terminal engine: bytes per second through PtySession (pty →
// headless xterm → a full SGR snapshot on every throttled change, as the pane renders) against
// the same bytes through a bare node-pty `cat` (the ceiling). Also: the cost of one snapshot.
import pty from 'node-pty';
import xtermHeadless from '@xterm/headless';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PtySession } from '../../src/core/pty/session.ts';
import { createStudioStore, openInstance } from '../../src/store/index.ts';
import { median, report } from './helpers.ts';

const RUNS = 5;
const COLS = 120;
const ROWS = 40;
const MIB = 1024 * 1024;

// Coloured, mixed-width text like compiler or test output: SGR runs, 256-colour and RGB.
function makeInput(bytes: number): string {
  const parts: string[] = [];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const line =
      `\x1b[1;32m[ OK ]\x1b[0m test ${i} \x1b[38;5;${i % 256}mpalette\x1b[0m ` +
      `\x1b[38;2;${i % 256};100;200mrgb\x1b[0m ${'x'.repeat(i % 60)} \x1b[4munderlined\x1b[24m done\r\n`;
    parts.push(line);
    n += Buffer.byteLength(line);
  }
  return parts.join('');
}

const dir = mkdtempSync(join(tmpdir(), 'bench-pty-'));
const file = join(dir, 'input.txt');
const SIZE = 8 * MIB;
writeFileSync(file, makeInput(SIZE));

function rawCat(): Promise<{ ms: number; bytes: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let bytes = 0;
    const p = pty.spawn('cat', [file], { cols: COLS, rows: ROWS, env: process.env as Record<string, string> });
    p.onData((d) => (bytes += Buffer.byteLength(d)));
    p.onExit(() => resolve({ ms: performance.now() - t0, bytes }));
  });
}

async function sessionCat(): Promise<{ ms: number; bytes: number; snapshots: number }> {
  const t0 = performance.now();
  let bytes = 0;
  let snapshots = 0;
  const s = PtySession.spawn({ file: 'cat', args: [file] }, { cols: COLS, rows: ROWS, scrollback: 5000 });
  s.onData((d) => (bytes += Buffer.byteLength(d)));
  s.onChange(() => {
    s.snapshot({ paintCursor: true });
    snapshots++;
  });
  await s.exited;
  const ms = performance.now() - t0;
  s.dispose();
  return { ms, bytes, snapshots };
}

// The emulator alone, fed the whole file at once: the parsing ceiling.
async function emulatorOnly(): Promise<number> {
  const term = new xtermHeadless.Terminal({ cols: COLS, rows: ROWS, scrollback: 5000, allowProposedApi: true });
  const data = readFileSync(file);
  const t0 = performance.now();
  await new Promise<void>((r) => term.write(data, r));
  const ms = performance.now() - t0;
  term.dispose();
  return data.length / MIB / (ms / 1000);
}

// The Run pane's whole path: the run slice's session, a snapshot per store update, and the
// terminal output fed to the Logs pane's parser (the pty merges stdout and stderr).
const inst = join(dir, 'inst');
mkdirSync(inst);
writeFileSync(join(inst, 'Occlum.json'), '{}\n');
async function slicePath(): Promise<number> {
  const store = createStudioStore({ launchDir: inst });
  await openInstance(store, inst);
  store
    .getState()
    .runSetLauncher(async (r) => ({ file: r.path, args: r.args, env: process.env as Record<string, string> }));
  store.getState().runResize({ cols: COLS, rows: ROWS });
  const unsub = store.subscribe(() => void store.getState().runSnapshot());
  const t0 = performance.now();
  await store.getState().runStart('run', 'cat', [file]);
  await new Promise<void>((resolve) => {
    const u = store.subscribe(() => {
      if (store.getState().run.tabs[0]?.state === 'exited') {
        u();
        resolve();
      }
    });
  });
  const ms = performance.now() - t0;
  unsub();
  store.getState().runDisposeAll();
  return SIZE / MIB / (ms / 1000);
}

const raw: number[] = [];
const sess: number[] = [];
const emu: number[] = [];
const slice: number[] = [];
let snaps = 0;
for (let i = 0; i < RUNS; i++) {
  const r = await rawCat();
  raw.push(r.bytes / MIB / (r.ms / 1000));
  const s = await sessionCat();
  sess.push(s.bytes / MIB / (s.ms / 1000));
  snaps = s.snapshots;
  emu.push(await emulatorOnly());
  slice.push(await slicePath());
}
const rawMed = median(raw);
const sessMed = median(sess);
report('bare node-pty cat', rawMed, 'MiB/s');
report('headless xterm alone (no pty)', median(emu), 'MiB/s', { name: 'bare node-pty', value: rawMed });
report('PtySession + snapshots', sessMed, 'MiB/s', { name: 'bare node-pty', value: rawMed });
report('PtySession + snapshots', sessMed, 'MiB/s', { name: 'headless xterm alone', value: median(emu) });
report('Run slice + Logs feed', median(slice), 'MiB/s', { name: 'PtySession + snapshots', value: sessMed });
console.log(
  `  (${(SIZE / MIB).toFixed(0)} MiB of coloured lines, ${COLS}x${ROWS}, ${snaps} snapshots in the last run)`,
);

// One full snapshot of a busy coloured screen.
const s = PtySession.spawn({ file: 'sh', args: ['-c', `head -c 200000 ${file}`] }, { cols: COLS, rows: ROWS });
await s.exited;
const times: number[] = [];
for (let i = 0; i < 200; i++) {
  const t0 = performance.now();
  s.snapshot({ paintCursor: true });
  times.push(performance.now() - t0);
}
s.dispose();
const snapMs = median(times);
report('one snapshot (120x40, coloured)', snapMs * 1000, 'µs', undefined, 'well under a 16 ms frame');
console.log(`  = ${((snapMs / 16) * 100).toFixed(1)}% of a 16 ms frame`);
rmSync(dir, { recursive: true, force: true });
