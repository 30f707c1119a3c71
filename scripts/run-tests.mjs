// Runs the whole suite: the native crate's cargo tests, then every test/**/*.test.ts(x) with
// node:test. Node 20's runner neither expands globs nor finds .ts files in a directory, so the
// file list is built here. Usage: node scripts/run-tests.mjs [filter-substring ...]
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    // bench: benchmarks (npm run bench); install: the installed package (scripts/ci-install-check.mjs).
    if (name === 'bench' || name === 'install' || name === 'node_modules') continue;
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (/\.test\.tsx?$/.test(name)) out.push(p);
  }
  return out;
}

// The reference corpus, as test/helpers/paths.ts and native/src/tests/mod.rs find it.
const shared = process.env.OCCLUM_STUDIO_SHARED || join(root, '..', 'shared');
const hasCorpus = existsSync(shared);
// The cargo tests that read the corpus (cargo has no runtime skip): left out by name without it.
const CARGO_CORPUS_TESTS = [
  'tests::pf_vectors::',
  'tests::real_image::',
  'tests::fuzz::fuzz_mutations',
  'tests::pack_verify::verify_real_image_reports_exactly_the_missing_files',
  'tests::pack_verify::tampering_is_reported_by_path_and_node',
  'tests::pack_verify::packing_image_dir_reproduces_the_real_inode_files',
  'tests::read_range::ranged_open_applies_the_recovery_journal_like_the_whole_read',
];

let failed = false;
const cargo = { passed: 0, failed: 0, corpusSkipped: 0 };
const skipCargo = process.env.SKIP_CARGO_TEST === '1' || filters.length > 0;
if (!skipCargo && existsSync(join(root, 'native', 'Cargo.toml'))) {
  const skips = hasCorpus ? [] : ['--', ...CARGO_CORPUS_TESTS.flatMap((t) => ['--skip', t])];
  const r = spawnSync('cargo', ['test', '--release', ...skips], {
    cwd: join(root, 'native'),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.stdout.write(r.stdout ?? '');
  for (const m of (r.stdout ?? '').matchAll(
    /test result: \w+\. (\d+) passed; (\d+) failed; \d+ ignored; \d+ measured; (\d+) filtered out/g,
  )) {
    cargo.passed += Number(m[1]);
    cargo.failed += Number(m[2]);
    if (!hasCorpus) cargo.corpusSkipped += Number(m[3]);
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
// Everything the tests and the code under test put in the temp dir goes into one directory of this
// run, removed at the end: a suite makes thousands of instances and images (gigabytes), and a test
// that fails or is killed midway cleans nothing up itself. Short name: unix socket paths are
// limited to 108 bytes. Mode 1777 as /tmp: tests run programs as other users (nobody).
const runTmp = mkdtempSync(join(tmpdir(), 'ost-'));
chmodSync(runTmp, 0o1777);
const own = join(runTmp, '.run');
mkdirSync(own);
// Human output on stdout (spec); a TAP copy in a temp file gives the counts for the closing line.
const tapFile = join(own, 'results.tap');
const r = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    // Two files at a time: most tests wait on processes, ptys and the disk, not the 2 cores.
    '--test-concurrency=2',
    '--test-timeout=600000', // a hung test fails after 10 min instead of holding CI to its limit
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...files,
  ],
  // XDG_CACHE_HOME: what the code under test caches (bom copy states) stays out of the user's.
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, FORCE_COLOR: '0', TMPDIR: runTmp, XDG_CACHE_HOME: join(own, 'cache') },
  },
);
if (r.status !== 0) failed = true;
const tap = existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : '';
rmSync(runTmp, { recursive: true, force: true, maxRetries: 3 });
const count = (name) => Number(tap.match(new RegExp(`^# ${name} (\\d+)$`, 'm'))?.[1] ?? 0);
const passed = count('pass') + cargo.passed;
const failedCount = count('fail') + count('cancelled') + cargo.failed;
console.log(`\n${passed} passed, ${failedCount} failed, ${count('skipped') + cargo.corpusSkipped} skipped`);
// Tests that need the reference corpus skip with a reason starting with CORPUS_SKIP
// (test/helpers/paths.ts). One line says how many and how to run them; in CI they must run.
const corpusSkips = (tap.match(/# SKIP needs the reference corpus/g) ?? []).length + cargo.corpusSkipped;
if (corpusSkips > 0) {
  console.log(
    `${corpusSkips} corpus tests skipped: the reference corpus (real Occlum images, configs, logs) is not at ${shared}; ` +
      'point OCCLUM_STUDIO_SHARED=DIR at a copy (or place it at ../shared) to run them',
  );
  if (process.env.CI === 'true') {
    console.log('CI=true: a skipped corpus test is a failure here');
    failed = true;
  }
}
if (passed === 0) failed = true;
process.exit(failed ? 1 : 0);
