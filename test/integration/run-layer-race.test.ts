// The run layer's view (`fs --layer run|merged`, the Files pane) reads what a program wrote while
// it may still run. Before the fix it checked the ancestors of a path with lstat, then opened the
// path: a program swapping an ancestor for a link to a host directory in between (here a real
// racer, renameat2(RENAME_EXCHANGE) in a loop, as test/integration/extract-race.test.ts) got the
// studio to read a file of its user's through the link. Now the path is walked from the layer's
// descriptor with no link followed, and directories are listed through their descriptor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hostOpenFs } from '../../src/core/backend/host/fs-view.ts';
import { runCli } from '../helpers/cli.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { ROOT } from '../helpers/paths.ts';

const hasGcc = spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status === 0;
const READS = 3000;

test('a program swapping a run-layer directory for a link meanwhile gets no host file read', async (t) => {
  if (!hasGcc) return t.skip('gcc is not installed');
  const dir = makeInstance([]);
  const ws = dirname(dir);
  const racer = join(ws, 'rename-exchange');
  execFileSync('gcc', ['-O2', '-o', racer, join(ROOT, 'test/helpers/rename-exchange.c')]);
  try {
    assert.equal(runCli(['build'], { cwd: dir }).status, 0);
    const secret = join(ws, 'private');
    mkdirSync(secret, { mode: 0o700 });
    writeFileSync(join(secret, 'f'), 'HOST-SECRET\n', { mode: 0o600 });
    // What a program leaves in its file system: /d/f, and a link /l to the host directory.
    const upper = join(dir, 'run/host/upper');
    mkdirSync(join(upper, 'd'), { recursive: true });
    writeFileSync(join(upper, 'd', 'f'), 'program data\n');
    symlinkSync(secret, join(upper, 'l'));
    const view = await hostOpenFs(dir, 'merged');
    const seen = new Map<string, number>();
    const count = (what: string) => seen.set(what, (seen.get(what) ?? 0) + 1);
    const swap = spawn(racer, [join(upper, 'd'), join(upper, 'l'), '300']);
    try {
      for (let i = 0; i < READS; i++) {
        for (const read of [
          () => view.readFile('/d/f'),
          () => view.readRange('/d/f', 0, 64),
          () => view.listing('/d').entries.map((e) => e.name),
        ]) {
          try {
            const got = await read();
            count(Array.isArray(got) ? `list ${got.join(',')}` : got.toString().trim());
          } catch (err) {
            count(`error: ${(err as Error).message.replace(/^\/d\S*: /, '')}`);
          }
        }
      }
    } finally {
      swap.kill('SIGKILL');
    }
    const shown = JSON.stringify([...seen]);
    assert.equal(seen.get('HOST-SECRET') ?? 0, 0, `a host file was read through the link: ${shown}`);
    assert.ok((seen.get('program data') ?? 0) > 0, shown);
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
});
