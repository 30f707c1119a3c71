// The installed product, checked as a user without Rust gets it (called by .ci/run): packs the
// tarball (prepack builds dist/ and the addon), installs it globally into an empty temporary
// prefix with cargo and rustc hidden from PATH, and runs test/install/ against the installed
// `occlum-studio`. Prints the tarball's packed and unpacked sizes and the install time.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const HIDDEN = ['cargo', 'rustc', 'rustup'];
const work = mkdtempSync(join(tmpdir(), 'occlum-studio-install-'));
const mib = (n) => `${(n / 1048576).toFixed(2)} MiB`;

function fail(what, r) {
  console.error(`ci-install-check: ${what} failed (exit ${r.status})\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  process.exit(1);
}

/**
 * PATH without the Rust tools: a directory that holds them is dropped, or, when it holds other
 * tools too (/usr/bin with Debian's cargo), replaced by a directory of links to everything else.
 */
function pathWithoutRust() {
  const dirs = [];
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    let names;
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    if (!names.some((n) => HIDDEN.includes(n))) {
      dirs.push(dir);
      continue;
    }
    const rest = names.filter((n) => !HIDDEN.includes(n) && !n.startsWith('cargo-') && !n.startsWith('rust'));
    if (rest.length === 0) continue;
    const mirror = join(work, 'path', String(dirs.length));
    mkdirSync(mirror, { recursive: true });
    for (const n of rest) symlinkSync(join(dir, n), join(mirror, n));
    dirs.push(mirror);
  }
  return dirs.join(delimiter);
}

const pack = spawnSync('npm', ['pack', '--json', '--pack-destination', work], {
  cwd: root,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
});
if (pack.status !== 0) fail('npm pack', pack);
const info = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')))[0];
const tarball = join(work, info.filename);
console.log(
  `tarball ${info.filename}: ${mib(info.size)} packed, ${mib(info.unpackedSize)} unpacked, ${info.entryCount} files`,
);
for (const f of info.files.map((x) => x.path)) {
  if (/^(test|\.ci|native\/target|native\/src\/tests)\/|\.map$|bench/.test(f))
    fail(`packing (${f} must not ship)`, { status: 1 });
}

const path = pathWithoutRust();
const prefix = join(work, 'prefix');
const env = { ...process.env, PATH: `${join(prefix, 'bin')}${delimiter}${path}` };
if (spawnSync('cargo', ['--version'], { env, stdio: 'ignore' }).status === 0)
  fail('hiding cargo from PATH', { status: 1 });
const t0 = performance.now();
const install = spawnSync(
  'npm',
  ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--foreground-scripts', tarball],
  {
    cwd: work,
    env,
    encoding: 'utf8',
  },
);
const seconds = ((performance.now() - t0) / 1000).toFixed(1);
if (install.status !== 0) fail('npm install -g of the tarball', install);
process.stdout.write(
  install.stderr
    .split('\n')
    .filter((l) => l.startsWith('occlum-studio:'))
    .map((l) => `${l}\n`)
    .join(''),
);
console.log(`npm install -g (cargo and rustc hidden from PATH): ${seconds} s`);
const bin = join(prefix, 'bin', 'occlum-studio');
if (!existsSync(bin)) fail(`the install (no ${bin})`, { status: 1 });

const tests = spawnSync(
  process.execPath,
  // A hung test fails after 3 min instead of holding CI to its limit.
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-timeout=180000', 'test/install/installed.test.ts'],
  {
    cwd: root,
    env: { ...env, OCCLUM_STUDIO_INSTALLED: bin, FORCE_COLOR: '0' },
    stdio: 'inherit',
  },
);
rmSync(work, { recursive: true, force: true });
process.exit(tests.status === 0 ? 0 : 1);
