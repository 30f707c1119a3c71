// Runs every test/bench/*.bench.ts (or those matching the given substrings) one after another.
// Benchmarks print their own numbers as ratios against a baseline measured in the same run.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);
const dir = join(root, 'test', 'bench');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
// A bench that fails or is interrupted midway leaves its trees (up to a gigabyte each) behind:
// every bench works in one temp dir of this run, removed at the end (see run-tests.mjs).
const runTmp = mkdtempSync(join(tmpdir(), 'osb-'));
chmodSync(runTmp, 0o1777);
let failed = false;
for (const f of files) {
  console.log(`\n=== ${f}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, f)], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, TMPDIR: runTmp },
  });
  if (r.status !== 0) failed = true;
}
rmSync(runTmp, { recursive: true, force: true, maxRetries: 3 });
process.exit(failed ? 1 : 0);
