// `fs pack --watch --json` (built CLI) under a random storm of creates, edits, deletes, renames,
// chmods (files and directories), symlinks and new directories with files, many while a pack is
// in flight: once the storm is over, the image comes to equal the tree and verifies (hinted packs
// must not leave anything behind). WATCH_SEED replays a run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, runCli } from '../helpers/cli.ts';
import { CLI } from '../helpers/paths.ts';
import { rng } from '../helpers/rng.ts';

const DEADLINE_MS = 120_000;

function walk(root: string, dirs: string[], others: string[]): void {
  for (const d of readdirSync(root, { withFileTypes: true })) {
    const p = join(root, d.name);
    if (d.isDirectory()) {
      dirs.push(p);
      walk(p, dirs, others);
    } else others.push(p);
  }
}

test('random storm: the watched image ends equal to the tree and verifies', { timeout: 300_000 }, async () => {
  const seed = Number(process.env.WATCH_SEED ?? Date.now() % 100000);
  const rand = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  ensureBuilt();
  const d = mkdtempSync(join(tmpdir(), 'fs-pack-watch-random-'));
  const src = join(d, 'src');
  const root = join(d, 'out/__ROOT');
  mkdirSync(src);
  for (let i = 0; i < 40; i++) writeFileSync(join(src, `f${i}`), `initial ${i}\n`);
  const child = spawn(
    process.execPath,
    [CLI, 'fs', 'pack', src, '--watch', '--json', '--out', root, '--mac-file', join(d, 'out/.ROOT_MAC')],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines: { rootMac?: string; hinted?: boolean; error?: string }[] = [];
  let buf = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (c: string) => {
    buf += c;
    for (let nl; (nl = buf.indexOf('\n')) >= 0; buf = buf.slice(nl + 1)) lines.push(JSON.parse(buf.slice(0, nl)));
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    for (const t0 = Date.now(); lines.length === 0; await sleep(50))
      assert.ok(Date.now() - t0 < DEADLINE_MS, 'no initial pack line');
    for (let op = 0; op < 300; op++) {
      const dirs = [src];
      const others: string[] = [];
      walk(src, dirs, others);
      const r = rand();
      try {
        if (r < 0.25 || others.length < 5) writeFileSync(join(pick(dirs), `n${op}`), `new ${op}\n`);
        else if (r < 0.45) writeFileSync(pick(others), `edit ${op} ${'x'.repeat(Math.floor(rand() * 9000))}\n`);
        else if (r < 0.55) rmSync(pick(others));
        else if (r < 0.65) renameSync(pick(others), join(pick(dirs), `r${op}`));
        else if (r < 0.72) {
          const p = pick([...others, ...dirs.slice(1)]);
          if (lstatSync(p).isDirectory()) chmodSync(p, pick([0o700, 0o755]));
          else if (!lstatSync(p).isSymbolicLink()) chmodSync(p, pick([0o600, 0o644, 0o755]));
        } else if (r < 0.78) symlinkSync(`target-${op}`, join(pick(dirs), `l${op}`));
        else if (r < 0.86) {
          const nd = join(pick(dirs), `t${op}`);
          mkdirSync(nd);
          for (let k = 0; k < 1 + Math.floor(rand() * 8); k++) writeFileSync(join(nd, `k${k}`), `${op}.${k}\n`);
        } else if (r < 0.93 && dirs.length > 1) renameSync(pick(dirs.slice(1)), join(src, `moved${op}`));
        else if (dirs.length > 1) rmSync(pick(dirs.slice(1)), { recursive: true });
      } catch (err) {
        // Writing through a dangling symlink into a removed directory, and the like.
        if (!['ENOENT', 'EEXIST', 'ENOTDIR', 'EISDIR', 'EINVAL'].includes((err as NodeJS.ErrnoException).code ?? ''))
          throw err;
      }
      if (rand() < 0.3) await sleep(Math.floor(rand() * 120));
    }
    // Converges: wait (generously) until the image equals the tree.
    let diff = '';
    for (const t0 = Date.now(); ; await sleep(500)) {
      const r = runCli(['fs', 'diff', '-C', root, src, '--json']);
      diff = r.stdout + r.stderr;
      if (r.status === 0) break;
      assert.ok(
        Date.now() - t0 < DEADLINE_MS,
        `seed ${seed}: the image never came to equal the tree: ${diff.slice(0, 2000)}`,
      );
    }
    const v = runCli(['fs', 'verify', '-C', root, '--json']);
    assert.equal(v.status, 0, `seed ${seed}: ${v.stdout}`);
    assert.ok(lines.filter((l) => l.hinted).length > 0, `seed ${seed}: no hinted pack`);
    child.kill('SIGINT');
    assert.equal(await exited, 0, `seed ${seed}`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(d, { recursive: true, force: true });
  }
});
