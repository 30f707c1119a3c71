// Runs the whole suite: the native crate's cargo tests, then every test/**/*.test.ts(x) with
// node:test. Node 20's runner neither expands globs nor finds .ts files in a directory, so the
// file list is built here. Usage: node scripts/run-tests.mjs [filter-substring ...]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'bench' || name === 'node_modules') continue;
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (/\.test\.tsx?$/.test(name)) out.push(p);
  }
  return out;
}

let failed = false;
const cargo = { passed: 0, failed: 0 };
const skipCargo = process.env.SKIP_CARGO_TEST === '1' || filters.length > 0;
if (!skipCargo && existsSync(join(root, 'native', 'Cargo.toml'))) {
  const r = spawnSync('cargo', ['test', '--release'], { cwd: join(root, 'native'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(r.stdout ?? '');
  for (const m of (r.stdout ?? '').matchAll(/test result: \w+\. (\d+) passed; (\d+) failed/g)) {
    cargo.passed += Number(m[1]);
    cargo.failed += Number(m[2]);
  }
  if (r.status !== 0) failed = true;
}

const files = findTests(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Human output on stdout (spec); a TAP copy in a temp file gives the counts for the closing line.
const tapFile = join(mkdtempSync(join(tmpdir(), 'occlum-studio-tests-')), 'results.tap');
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`, ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, FORCE_COLOR: '0' } },
);
if (r.status !== 0) failed = true;
const tap = existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : '';
const count = (name) => Number(tap.match(new RegExp(`^# ${name} (\\d+)$`, 'm'))?.[1] ?? 0);
const passed = count('pass') + cargo.passed;
const failedCount = count('fail') + count('cancelled') + cargo.failed;
console.log(`\n${passed} passed, ${failedCount} failed, ${count('skipped')} skipped`);
if (passed === 0) failed = true;
process.exit(failed ? 1 : 0);
