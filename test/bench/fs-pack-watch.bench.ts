// `fs pack --watch` (built CLI, --json) on a 200 MB / 2000-file tree, against a full pack of the
// same tree measured in this run:
//  * the pack of a one-file edit (the `ms` of its line: the engine's warm path);
//  * save-to-line latency (write -> the pack line arrives), whose floor is the 100 ms debounce;
//  * a structural change (a new file) for reference (regular hinted path).
// BENCH_MB / BENCH_FILES shrink the tree for a quick run.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packImage } from '../../src/core/securefs/index.ts';
import { ensureBuilt } from '../helpers/cli.ts';
import { CLI } from '../helpers/paths.ts';
import { median, report } from './helpers.ts';

const MB = Number(process.env.BENCH_MB ?? 200);
const FILES = Number(process.env.BENCH_FILES ?? 2000);
const EDITS = 10;
const DEBOUNCE_MS = 100;
const dir = mkdtempSync(join(tmpdir(), 'bench-pack-watch-'));
const src = join(dir, 'image');

function makeTree(): void {
  const per = Math.floor((MB * 1048576) / FILES);
  const chunk = randomBytes(per + 4096);
  for (let d = 0; d < 20; d++) mkdirSync(join(src, `d${d}`), { recursive: true });
  for (let i = 0; i < FILES; i++) {
    const b = Buffer.from(chunk.subarray(i % 4096, (i % 4096) + per));
    b.writeUInt32LE(i, 0);
    writeFileSync(join(src, `d${i % 20}`, `f${i}.bin`), b);
  }
}

interface Line {
  rootMac?: string;
  filesPacked?: number;
  ms?: number;
  hinted?: boolean;
  error?: string;
}

try {
  makeTree();
  console.log(`tree: ${FILES} files, ${MB} MiB`);
  const full: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await packImage({
      src,
      outRoot: join(dir, `full${i}/__ROOT`),
      macFile: join(dir, `full${i}/.ROOT_MAC`),
      key: { kind: 'integrity-only' },
    });
    full.push(r.ms);
  }
  const fullMs = median(full);

  ensureBuilt();
  const child = spawn(
    process.execPath,
    [
      CLI,
      'fs',
      'pack',
      src,
      '--watch',
      '--json',
      '--out',
      join(dir, 'w/__ROOT'),
      '--mac-file',
      join(dir, 'w/.ROOT_MAC'),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const waiting: ((l: Line) => void)[] = [];
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (c: string) => {
    buf += c;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const l = JSON.parse(buf.slice(0, nl)) as Line;
      buf = buf.slice(nl + 1);
      waiting.shift()?.(l);
    }
  });
  const nextLine = () => new Promise<Line>((r) => waiting.push(r));
  await nextLine(); // initial pack

  const packMs: number[] = [];
  const latency: number[] = [];
  for (let i = 0; i < EDITS; i++) {
    const line = nextLine();
    const t0 = performance.now();
    writeFileSync(join(src, 'd3', 'f3.bin'), `edit ${i}\n`);
    const l = await line;
    latency.push(performance.now() - t0);
    if (!l.hinted || l.filesPacked !== 1) throw new Error(`edit ${i}: ${JSON.stringify(l)}`);
    packMs.push(l.ms!);
    await new Promise((r) => setTimeout(r, 300)); // let the watcher's reconcile pass run
  }
  const addLine = nextLine();
  writeFileSync(join(src, 'd5', 'new.bin'), 'new\n');
  const add = await addLine;
  if (add.error) throw new Error(`new file: ${add.error}`);
  child.kill('SIGINT');
  await new Promise((r) => child.on('exit', r));

  const hint = median(packMs);
  report('watch: one-file edit, pack', hint, 'ms', { name: 'full pack', value: fullMs }, '~1 ms');
  console.log(`  = ${(fullMs / hint).toFixed(0)}x faster than the full pack`);
  report('watch: save -> pack line', median(latency), 'ms', { name: 'debounce', value: DEBOUNCE_MS });
  report('watch: new file (structural), pack', add.ms!, 'ms', { name: 'full pack', value: fullMs });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
