// A process that can write the root swaps a directory under it with a symlink to somewhere else
// (renameat2 RENAME_EXCHANGE in a loop, test/helpers/rename-exchange.c) while `bom copy` writes
// 3000 files into that directory. Nothing may be written outside the root: the copy completes
// inside it or stops with an error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT } from '../helpers/paths.ts';
import { ensureBuilt } from '../helpers/cli.ts';

const hasGcc = spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status === 0;
let d = '';
let racer = '';
const SPINS = [300, 3000, 30000];

before(() => {
  d = mkdtempSync(join(tmpdir(), 'bom-race-'));
  if (!hasGcc) return;
  ensureBuilt();
  racer = join(d, 'rename-exchange');
  execFileSync('gcc', ['-O2', '-o', racer, join(ROOT, 'test/helpers/rename-exchange.c')]);
  mkdirSync(join(d, 'src', 'd'), { recursive: true });
  for (let i = 0; i < 3000; i++) writeFileSync(join(d, 'src', 'd', `f${i}`), `file ${i}\n`);
  writeFileSync(join(d, 'app.yaml'), 'targets:\n  - target: /data\n    copy:\n      - dirs: [../src/d]\n');
});
after(() => rmSync(d, { recursive: true, force: true }));

test(
  'bom copy never writes outside the root while a directory under it is swapped with a symlink',
  {
    skip: !hasGcc && 'needs gcc',
  },
  async () => {
    const outcomes: string[] = [];
    const leaks: string[] = [];
    for (let attempt = 0; attempt < 12; attempt++) {
      const inst = join(d, `inst${attempt}`);
      const root = join(inst, 'image');
      const outside = join(d, `outside${attempt}`);
      mkdirSync(join(root, 'data', 'd'), { recursive: true });
      mkdirSync(outside);
      symlinkSync(outside, join(root, 'data', 'x'));
      const swap = spawn(
        racer,
        [join(root, 'data', 'd'), join(root, 'data', 'x'), String(SPINS[attempt % 3]), join(root, 'data', 'd', 'f10')],
        { stdio: 'ignore' },
      );
      const r = spawnSync(process.execPath, [CLI, 'bom', 'copy', '-f', '../app.yaml', '--root', 'image'], {
        cwd: inst,
        encoding: 'utf8',
        timeout: 120_000,
      });
      swap.kill('SIGKILL');
      await once(swap, 'exit');
      outcomes.push(r.status === 0 ? 'copied' : (r.stderr.split('\n')[0] ?? ''));
      const found = readdirSync(outside);
      if (found.length) leaks.push(`attempt ${attempt}: ${found.length} entries outside, e.g. ${found[0]}`);
    }
    for (const o of outcomes) assert.match(o, /^copied$|is a symbolic link or not a directory any more/, o);
    assert.deepEqual(leaks, [], `written outside the root: ${leaks.join('; ')}\n${outcomes.join('\n')}`);
  },
);
