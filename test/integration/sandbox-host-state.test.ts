// A sandboxed program must never get host-root powers (issue 11, defect 1): from inside, it opens
// for writing every file with a write bit under /proc and /sys (fixtures/c/hoststate.c) and
// writes kernel.core_pattern's own value back. Nothing outside its own /proc/<pid> may open,
// whether the studio runs as root or as a normal user, and the program still sees itself as
// root (uid 0 of its user namespace, mapped to an unprivileged host uid), and starts with no
// descriptor of the launcher's beyond 0, 1 and 2. Nor can it take over PID 1 of its namespace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensureBuilt, runCli } from '../helpers/cli.ts';
import { fixturePath, hasMuslGcc } from '../helpers/fixtures.ts';
import { CLI } from '../helpers/paths.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { asNobodyIn, unprivilegedSkip } from '../helpers/unprivileged.ts';
import { SANDBOX_UID } from '../../src/core/sandbox/identity.ts';
import { HostBackend } from '../../src/core/backend/host/index.ts';

function checkProbe(out: { status: number | null; stdout: string; stderr: string }, hostUid: number): void {
  assert.equal(out.status, 0, out.stderr);
  const inherited = out.stdout.split('\n').filter((l) => l.startsWith('inherited'));
  assert.deepEqual(inherited, [], 'the program starts with stdin, stdout and stderr only');
  const tried = Number(out.stdout.match(/^tried (\d+)$/m)?.[1] ?? 0);
  assert.ok(tried > 100, `the walk opened only ${tried} files: did it reach /proc/sys?`);
  const writable = out.stdout.split('\n').filter((l) => l.startsWith('writable '));
  assert.deepEqual(writable, [], 'no host-state file under /proc or /sys opens for writing');
  assert.match(out.stdout, /^core_pattern: (Permission denied|Read-only file system)$/m);
  // PID 1 (bwrap's init, a server's holder) has no seccomp filter, and its death with its parent
  // ends the sandbox with the studio: taken over, it forks, or clears that and outlives the studio.
  const pid1 = out.stdout.split('\n').filter((l) => l.startsWith('pid 1 '));
  assert.equal(pid1.length, 3, out.stdout.slice(-500));
  assert.deepEqual(
    pid1.filter((l) => l.endsWith(': ok')),
    [],
    'PID 1 of its namespace cannot be traced or written',
  );
  const ids = out.stdout.match(/^uid (\d+) euid (\d+) uid_map\s+(\d+)\s+(\d+)\s+(\d+)$/m);
  assert.ok(ids, out.stdout.slice(0, 500));
  assert.deepEqual(ids.slice(1).map(Number), [0, 0, 0, hostUid, 1], 'root inside, one unprivileged host uid outside');
}

test('as root: the program cannot write host state under /proc and /sys; it runs as the sandbox uid', async () => {
  if (process.getuid?.() !== 0) return;
  const dir = makeInstance(['hoststate', 'writer']);
  assert.equal(runCli(['build'], { cwd: dir }).status, 0);
  checkProbe(runCli(['run', '/bin/hoststate'], { cwd: dir }), SANDBOX_UID);
  // Started with a host directory on fd 3 (openat() from it would reach the host): not passed on.
  const hostDir = openSync('/etc', 'r');
  try {
    checkProbe(
      runCli(['run', '/bin/hoststate'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe', hostDir] }),
      SANDBOX_UID,
    );
  } finally {
    closeSync(hostDir);
  }
  const w = runCli(['run', '/bin/writer', 'write', '/bin/hoststate', '/root/new'], { cwd: dir });
  assert.match(w.stdout, /write \/bin\/hoststate: ok\nwrite \/root\/new: ok/, 'the program still owns its file system');
  const created = statSync(join(dir, 'run/host/upper/root/new'));
  assert.deepEqual([created.uid, created.gid], [0, 0], "stored owned by the studio's user (root), not the sandbox uid");
  const merged = await new HostBackend(dir).openFs();
  assert.equal(merged.stat('/root/new').layer, 'run', "the Files pane's view reads it");
  checkServer((...a) => runCli(a, { cwd: dir }), SANDBOX_UID);
});

test('as a normal user: the same walk finds nothing writable', { skip: unprivilegedSkip() }, () => {
  const asNobody = asNobodyIn(makeInstance(['hoststate']));
  assert.equal(asNobody('build').status, 0);
  checkProbe(asNobody('run', '/bin/hoststate'), 65534);
  checkServer(asNobody, 65534);
});

/** The same from a program started with exec in a server. */
function checkServer(
  cli: (...args: string[]) => { status: number | null; stdout: string; stderr: string },
  hostUid: number,
): void {
  const s = cli('start');
  assert.equal(s.status, 0, s.stderr);
  try {
    checkProbe(cli('exec', '--exit-status', '/bin/hoststate'), hostUid);
  } finally {
    assert.equal(cli('stop').status, 0);
  }
}

test('the program cannot read the session keyring it inherits from the studio', async (t) => {
  if (!hasMuslGcc()) return t.skip('musl-gcc is not installed');
  // A process inherits its parent's session keyring and, possessing it, may read its keys
  // (Kerberos tickets, tokens put there with keyctl): the studio's are the user's.
  const dir = makeInstance(['keyring']);
  try {
    const built = await new HostBackend(dir).build();
    assert.ok(built.ok, built.errors.join('\n'));
    ensureBuilt();
    for (const extra of [[], ['--allow-fork']]) {
      // The helper joins a session keyring of its own, puts a key in it and starts the studio.
      const args = ['add', process.execPath, CLI, 'run', ...extra, '/bin/keyring'];
      const r = spawnSync(fixturePath('keyring'), args, { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'keyring: Function not implemented\n', `run ${extra.join(' ')}`);
    }
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});
