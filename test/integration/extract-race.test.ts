// Issue 11, defect 5: an attacker who can write in DEST swaps a directory under it with a symlink
// to somewhere else (renameat2 RENAME_EXCHANGE, in a loop, from another process) while an
// extract of 3000 files runs. Nothing may ever be written outside DEST: the extract either
// completes inside DEST or stops with an error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract, openImage, packImage } from '../../src/core/securefs/index.ts';
import { ROOT } from '../helpers/paths.ts';

const hasGcc = spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status === 0;
let d = '';
let racer = '';
/** Pauses between swaps (busy-loop iterations): the window an attack needs depends on timing. */
const SPINS = [300, 3000, 30000];

before(async () => {
  d = mkdtempSync(join(tmpdir(), 'extract-race-'));
  if (!hasGcc) return;
  racer = join(d, 'rename-exchange');
  execFileSync('gcc', ['-O2', '-o', racer, join(ROOT, 'test/helpers/rename-exchange.c')]);
  mkdirSync(join(d, 'src/d'), { recursive: true });
  for (let i = 0; i < 3000; i++) writeFileSync(join(d, 'src/d', `f${i}`), `file ${i}\n`);
  await packImage({
    src: join(d, 'src'),
    outRoot: join(d, 'img/__ROOT'),
    macFile: join(d, 'img/.ROOT_MAC'),
    key: { kind: 'integrity-only' },
  });
});
after(() => rmSync(d, { recursive: true, force: true }));

test(
  'extract never writes outside DEST while a directory under it is swapped with a symlink',
  { skip: !hasGcc && 'needs gcc' },
  async (t) => {
    const view = openImage(join(d, 'img/__ROOT'));
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < 60; attempt++) {
      const dest = join(d, `dest${attempt}`);
      const outside = join(d, `outside${attempt}`);
      mkdirSync(join(dest, 'd'), { recursive: true });
      mkdirSync(outside);
      symlinkSync(outside, join(dest, 'x'));
      // The swaps start once the extract is under way (f10 written), past its first checks.
      const swap = spawn(
        racer,
        [join(dest, 'd'), join(dest, 'x'), String(SPINS[attempt % SPINS.length]), join(dest, 'd', 'f10')],
        { stdio: 'ignore' },
      );
      try {
        const r = await extract(view, '/d', dest);
        outcomes.push(`${r.files} files`);
      } catch (err) {
        outcomes.push((err as Error).message);
      } finally {
        swap.kill('SIGKILL');
        await once(swap, 'exit');
      }
      assert.deepEqual(readdirSync(outside), [], `attempt ${attempt}: written outside DEST (${outcomes.join('; ')})`);
    }
    t.diagnostic(outcomes.map((o) => o.replace(d, '')).join(' / '));
    // Every stop names the swapped directory.
    for (const o of outcomes)
      assert.match(o, /^\d+ files$|^extracting \/d\/f\d+ into .*: d: is a symbolic link or not a directory any more/);
  },
);
