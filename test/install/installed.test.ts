// The installed product, as a user without Rust gets it: scripts/ci-install-check.mjs packs the
// tarball, installs it globally into a temporary prefix with cargo and rustc hidden from PATH and
// runs this file with OCCLUM_STUDIO_INSTALLED=<prefix>/bin/occlum-studio. Not part of `npm test`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { KEY, runFromPane, startTui, type Tui } from '../helpers/tui.ts';
import type { MachineReport } from '../../src/core/detect/machine.ts';

const BIN = process.env.OCCLUM_STUDIO_INSTALLED ?? '';
if (!BIN) throw new Error('OCCLUM_STUDIO_INSTALLED is not set: run `node scripts/ci-install-check.mjs`');
/** The installed package directory (bin/occlum-studio links to <pkg>/bin/occlum-studio.js). */
const PKG = dirname(dirname(realpathSync(BIN)));
const work = mkdtempSync(join(tmpdir(), 'installed-'));
const demo = join(work, 'demo');
const running: Tui[] = [];

function run(args: string[], input?: string) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', input, timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Moves `file` of the installed package aside for `fn`, as where it could not be built. */
async function without(file: string, fn: () => Promise<void> | void) {
  renameSync(file, `${file}.aside`);
  try {
    await fn();
  } finally {
    renameSync(`${file}.aside`, file);
  }
}

async function helloInRunPane(extra: (tui: Tui) => Promise<void> = async () => {}) {
  const tui = startTui([demo], { bin: BIN, cwd: work, cols: 120, rows: 32 });
  running.push(tui);
  await tui.waitFor('host backend', 60_000);
  await runFromPane(tui, '/bin/hello');
  await tui.waitFor('What is your name?', 60_000);
  tui.type(`Ada${KEY.enter}`);
  await tui.waitFor('Nice to meet you, Ada', 30_000);
  // Until its exit is seen the program has the keyboard: a 'q' typed earlier would go to it.
  await tui.waitFor(/exited normally/, 30_000);
  await extra(tui);
  tui.type('q');
  assert.equal(await tui.exited, 0);
}

before(() => {
  assert.notEqual(spawnSync('cargo', ['--version']).status, 0, 'cargo must not be on PATH here');
  assert.notEqual(spawnSync('rustc', ['--version']).status, 0, 'rustc must not be on PATH here');
});

after(() => {
  running.forEach((t) => t.kill());
  rmSync(work, { recursive: true, force: true });
});

test('--version', () => {
  const r = run(['--version']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^occlum-studio \d+\.\d+\.\d+/);
});

test('demo DIR --no-open builds the demo; run, fs verify and check work on it', () => {
  const d = run(['demo', demo, '--no-open']);
  assert.equal(d.status, 0, d.stderr);
  assert.match(d.stdout, /Built the image with the host backend/);
  const r = run(['run', '-C', demo, '/bin/hello'], 'Ada\n');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Hello from inside Occlum's image!/);
  assert.match(r.stdout, /Nice to meet you, .*Ada/);
  const v = run(['fs', 'verify', '-C', demo]);
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /^OK: \d+ files/);
  const c = run(['check', demo]);
  assert.equal(c.status, 0, c.stdout + c.stderr);
  assert.match(c.stdout, /0 errors/);
});

test('the TUI in a pty: the demo program runs in the Run pane and answers', async () => {
  await helloInRunPane();
});

const NPM_PTY = join(PKG, 'node_modules', 'node-pty');
const SHIPPED_PTY = join(PKG, 'native', 'node-pty');
const ptyProbe = () =>
  (JSON.parse(run(['doctor', '--json']).stdout) as MachineReport).probes.find((p) => p.id === 'node-pty')!;

test('where npm could not compile node-pty (so left it out): the copy the package carries gives the terminal', async () => {
  await without(NPM_PTY, async () => {
    const probe = ptyProbe();
    assert.equal(probe.ok, true, probe.detail);
    assert.ok(probe.detail.includes(SHIPPED_PTY), probe.detail);
    await helloInRunPane(async (tui) => assert.doesNotMatch(tui.screen(), /node-pty cannot load/));
  });
});

test('where no node-pty loads: the Run pane runs the program with pipes and says so', async () => {
  await without(join(NPM_PTY, 'build', 'Release', 'pty.node'), () =>
    without(join(SHIPPED_PTY, 'build', 'Release', 'pty.node'), async () => {
      assert.equal(ptyProbe().ok, false);
      await helloInRunPane(async (tui) => {
        await tui.waitFor('node-pty cannot load');
      });
    }),
  );
});

test('where the secure-FS engine cannot load: one message everywhere; runs still work', async () => {
  const addon = join(PKG, 'native', 'occlum_studio.linux-x64-gnu.node');
  await without(addon, () => {
    const doctor = JSON.parse(run(['doctor', '--json']).stdout) as MachineReport;
    const engine = doctor.probes.find((p) => p.id === 'native-addon')!;
    assert.equal(engine.ok, false);
    assert.equal(doctor.backends.find((b) => b.backend === 'host')!.ready, true);
    const message = `the secure-FS engine (native addon) is not available: ${engine.detail}; fix: ${engine.fix}`;
    const v = run(['fs', 'verify', '-C', demo]);
    assert.notEqual(v.status, 0);
    assert.ok(v.stderr.includes(message), v.stderr);
    // A copy counts as built elsewhere: not refused as tampered for want of the checker.
    const copy = join(work, 'copy');
    cpSync(demo, copy, { recursive: true, verbatimSymlinks: true });
    const r = run(['run', '-C', copy, '/bin/hello'], 'Ada\n');
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /tampered/);
  });
});
