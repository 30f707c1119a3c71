// System errors reach users as one line with the path and the fix, never a stack trace
// (issue 11, defect 6): new, build and run on a really full disk (a small tmpfs, mounted as
// root) and a program environment too large for execve (E2BIG).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { installFixtures } from '../helpers/fixtures.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { newInstance } from '../../src/core/instance/init.ts';
import { createStudioStore, openInstance } from '../../src/store/index.ts';

const mounts: string[] = [];

/** A tmpfs of `size` (e.g. "2m"), or null when this process may not mount (not root). */
function smallDisk(size: string): string | null {
  if (process.getuid?.() !== 0) return null;
  const dir = mkdtempSync(join(tmpdir(), 'occlum-full-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  if (r.status !== 0) return null;
  mounts.push(dir);
  return dir;
}

after(() => {
  for (const m of mounts) {
    spawnSync('umount', ['-l', m]);
    rmSync(m, { recursive: true, force: true });
  }
});

let fillers = 0;

/** Fills the file system of `dir` until `leaveKiB` KiB are left. */
function fill(dir: string, leaveKiB: number): void {
  const st = statfsSync(dir);
  const free = Math.floor((st.bavail * st.bsize) / 1024);
  if (free > leaveKiB)
    execFileSync('fallocate', ['-l', `${(free - leaveKiB) * 1024}`, join(dir, `filler-${++fillers}`)]);
}

/** One line on stderr, naming the error, a path under `where` and a fix; no stack frames. */
function assertOneLine(stderr: string, code: RegExp, where: string): void {
  assert.doesNotMatch(stderr, /\n\s+at |node:internal|Error: E[A-Z]+:/, `a stack trace leaked:\n${stderr}`);
  const line = stderr.trim().split('\n').at(-1)!;
  assert.match(line, code);
  assert.ok(line.includes(where), `the message names a path under ${where}: ${line}`);
}

const noRoot = process.getuid?.() !== 0 ? 'needs root to mount a small tmpfs' : false;

test('new on a full disk: ENOSPC in one line, nothing left behind', { skip: noRoot }, () => {
  const disk = smallDisk('1m');
  if (!disk) return;
  const r = runCli(['new', join(disk, 'inst')]);
  assert.equal(r.status, 1, r.stderr);
  assertOneLine(r.stderr, /^occlum-studio: no space left on device \(ENOSPC\) copying .*: free space/, disk);
  assert.deepEqual(
    spawnSync('ls', ['-A', disk], { encoding: 'utf8' }).stdout.trim(),
    '',
    'the half-made instance is removed',
  );
});

test('build on a full disk: staging, and the build lock itself, fail in one line', { skip: noRoot }, () => {
  const disk = smallDisk('40m');
  if (!disk) return;
  const dir = join(disk, 'inst');
  newInstance(dir);
  installFixtures(dir, ['hello']);
  writeFileSync(join(dir, 'image', 'bin', 'blob'), Buffer.alloc(6 << 20, 1));
  fill(disk, 1500);
  const staging = runCli(['build'], { cwd: dir });
  assert.equal(staging.status, 1, staging.stderr);
  assertOneLine(staging.stderr, /no space left on device \(ENOSPC\) (copying|writing) /, dir);
  fill(disk, 0);
  const lock = runCli(['build'], { cwd: dir });
  assert.equal(lock.status, 1, lock.stderr);
  assertOneLine(lock.stderr, /no space left on device \(ENOSPC\) writing .*build\.lock: free space/, dir);
});

test('run on a full disk: one line naming the state file', { skip: noRoot }, () => {
  const disk = smallDisk('40m');
  if (!disk) return;
  const dir = join(disk, 'inst');
  newInstance(dir);
  installFixtures(dir, ['hello']);
  assert.equal(runCli(['build'], { cwd: dir }).status, 0);
  // A first run writes the sandbox's one-time files; the next one needs space for its state only.
  assert.equal(runCli(['run', '/bin/hello'], { cwd: dir }).status, 0);
  fill(disk, 0);
  const r = runCli(['run', '/bin/hello'], { cwd: dir });
  assert.notEqual(r.status, 0);
  assertOneLine(r.stderr, /no space left on device \(ENOSPC\) writing /, dir);
});

test('run with a 200,000-byte env entry: the entry is named, no E2BIG stack', () => {
  const dir = makeInstance(['hello'], (cfg) => cfg.env.default.push(`BIG=${'x'.repeat(200_000)}`));
  assert.equal(runCli(['build'], { cwd: dir }).status, 0);
  const r = runCli(['run', '/bin/hello'], { cwd: dir });
  assert.equal(r.status, 1, r.stderr);
  assertOneLine(
    r.stderr,
    /environment entry BIG=… is 200005 bytes; .*\(E2BIG\): shorten it in Occlum\.json/,
    'Occlum.json',
  );
});

test('run whose whole environment exceeds ARG_MAX: spawn E2BIG in one line', () => {
  // 24 entries of 120 KB each pass the per-string check but not the kernel's total limit.
  const dir = makeInstance(['hello'], (cfg) => {
    for (let i = 0; i < 24; i++) cfg.env.default.push(`V${i}=${'y'.repeat(120_000)}`);
  });
  assert.equal(runCli(['build'], { cwd: dir }).status, 0);
  const r = runCli(['run', '/bin/hello'], { cwd: dir });
  assert.notEqual(r.status, 0);
  assertOneLine(
    r.stderr,
    /argument list too long \(E2BIG\) starting .*: .*shorten the env entries in Occlum\.json/,
    '',
  );
  const debug = runCli(['run', '/bin/hello'], { cwd: dir, env: { OCCLUM_STUDIO_DEBUG: '1' } });
  assert.match(debug.stderr, /\n\s+at /, 'OCCLUM_STUDIO_DEBUG shows the stack');
});

test('a read-only file system: build says so and names the path', { skip: noRoot }, () => {
  const disk = smallDisk('40m');
  if (!disk) return;
  const dir = join(disk, 'inst');
  newInstance(dir);
  installFixtures(dir, ['hello']);
  assert.equal(spawnSync('mount', ['-o', 'remount,ro', disk]).status, 0);
  const ro = runCli(['build'], { cwd: dir });
  assert.equal(ro.status, 1, ro.stderr);
  assertOneLine(ro.stderr, /read-only file system \(EROFS\) .*: use an instance on a writable file system/, dir);
});

test(
  'Run pane on a full disk: the tab shows the one-line error, the studio keeps running',
  { skip: noRoot },
  async () => {
    const disk = smallDisk('40m');
    if (!disk) return;
    const dir = join(disk, 'inst');
    newInstance(dir);
    installFixtures(dir, ['hello']);
    assert.equal(runCli(['build'], { cwd: dir }).status, 0);
    assert.equal(runCli(['run', '/bin/hello'], { cwd: dir }).status, 0);
    const store = createStudioStore({ launchDir: dir, backend: 'host' });
    await openInstance(store, dir);
    try {
      fill(disk, 0);
      const id = await store.getState().runStart('run', '/bin/hello', []);
      const tab = store.getState().run.tabs.find((t) => t.id === id)!;
      assert.equal(tab.state, 'refused');
      assert.match(tab.error?.[0] ?? '', /^no space left on device \(ENOSPC\) writing .*run\.json: free space/);
    } finally {
      store.getState().runDisposeAll();
      await store.getState().buildStopWatching();
    }
  },
);
