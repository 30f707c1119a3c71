// `exec` into a running server is capped like `run`, through the built CLI: the programs of one
// server share max_num_of_threads and the memory cap, as processes of one enclave share its TCSs
// and user space (src/core/sandbox/server-limits.ts, docs/backends.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, runCli } from '../helpers/cli.ts';
import { CLI } from '../helpers/paths.ts';
import { makeInstance, treeLimitsSkip } from '../helpers/host-instance.ts';
import { waitFor } from '../helpers/wait.ts';
import { allPids, namespaceOf, signal } from '../../src/core/backend/host/procs.ts';

const skip = treeLimitsSkip();

/** An exec in the background, its output collected. */
function execInBackground(dir: string, args: string[]): { child: ChildProcess; out: () => string } {
  ensureBuilt();
  const child = spawn(process.execPath, [CLI, 'exec', '-C', dir, '--exit-status', ...args], {
    env: { ...process.env, NO_COLOR: '1' },
  });
  let text = '';
  child.stdout!.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (text += c.toString()));
  return { child, out: () => text };
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

const exited = (c: ChildProcess) =>
  new Promise<number>((r) => (c.exitCode !== null ? r(c.exitCode) : c.on('exit', (code) => r(code ?? -1))));

/** The server's cgroup directory in the pids hierarchy (as start recorded it). */
function serverGroupName(dir: string): string {
  return JSON.parse(readFileSync(join(dir, 'run', 'host', 'server.json'), 'utf8')).cgroup;
}

test('exec: the programs of one server share max_num_of_threads, launchers not counted', { skip }, async (t) => {
  const dir = makeInstance(['threads', 'sleeper'], (c) => (c.resource_limits.max_num_of_threads = 8));
  assert.equal(runCli(['build'], { cwd: dir }).status, 0);
  assert.equal(runCli(['start', '-C', dir]).status, 0);
  const sleepers: ReturnType<typeof execInBackground>[] = [];
  t.after(() => {
    for (const s of sleepers) s.child.kill('SIGKILL');
    runCli(['stop', '-C', dir]);
  });
  const name = serverGroupName(dir);
  assert.match(name, /^occlum-studio-\d+-\d+$/);

  // Alone, a program gets all 8: the main thread and 7 more.
  const alone = runCli(['exec', '-C', dir, '--exit-status', '/bin/threads', '7']);
  assert.equal(alone.status, 0, alone.stdout + alone.stderr);
  const over = runCli(['exec', '-C', dir, '--exit-status', '/bin/threads', '8']);
  assert.notEqual(over.status, 0);
  assert.match(over.stdout, /pthread_create 8 of 8 failed: Resource temporarily unavailable/);
  assert.match(
    over.stderr,
    /Out of TCS \(SGX error 0x1003\).* max_num_of_threads = 8 \(host backend: cgroup pids\.max\)/,
  );

  // Three programs running in the server hold three of the 8.
  for (let i = 0; i < 3; i++) sleepers.push(execInBackground(dir, ['/bin/sleeper', '60']));
  await waitFor(() => sleepers.every((s) => s.out().includes('ready')), 'three sleepers running in the server');
  const shared = runCli(['exec', '-C', dir, '--exit-status', '/bin/threads', '5']);
  assert.notEqual(shared.status, 0, 'with 3 threads held elsewhere, 6 more do not fit in 8');
  assert.match(shared.stdout, /pthread_create 5 of 5 failed/);
  const fits = runCli(['exec', '-C', dir, '--exit-status', '/bin/threads', '4']);
  assert.equal(fits.status, 0, `3 held + 5 = 8 fit: ${fits.stdout}${fits.stderr}`);

  // End the programs themselves (a killed exec client would leave its program running, as in Occlum).
  const ns = namespaceOf(JSON.parse(readFileSync(join(dir, 'run', 'host', 'server.json'), 'utf8')).nsInit, 'pid');
  const inServer = allPids().filter((p) => namespaceOf(p, 'pid') === ns && comm(p) === 'sleeper');
  assert.equal(inServer.length, 3);
  signal(inServer, 'SIGTERM');
  await Promise.all(sleepers.map((s) => exited(s.child)));
  const again = runCli(['exec', '-C', dir, '--exit-status', '/bin/threads', '7']);
  assert.equal(again.status, 0, 'the ended execs gave their threads back');

  assert.equal(runCli(['stop', '-C', dir]).status, 0);
  for (const h of ['pids', 'memory']) {
    const left = existsSync(join('/sys/fs/cgroup', h, name));
    assert.equal(left, false, `stop removed the server's ${h} group`);
  }
});

test('exec: the memory cap holds all programs of the server together', { skip }, async (t) => {
  // Cap: user space 80 MB + kernel heap 16 MB. Each program alone (56 MB touched) fits.
  const dir = makeInstance(['bigalloc'], (c) => {
    c.resource_limits.user_space_size = '80MB';
    c.resource_limits.kernel_space_heap_size = '16MB';
  });
  assert.equal(runCli(['build'], { cwd: dir }).status, 0);
  assert.equal(runCli(['start', '-C', dir]).status, 0);
  let holder: ReturnType<typeof execInBackground> | null = null;
  t.after(() => {
    holder?.child.kill('SIGKILL');
    runCli(['stop', '-C', dir]);
  });
  const alone = runCli(['exec', '-C', dir, '--exit-status', '/bin/bigalloc', '56']);
  assert.equal(alone.status, 0, alone.stdout + alone.stderr);

  holder = execInBackground(dir, ['/bin/bigalloc', '56', '60000']);
  await waitFor(() => /malloc: 56 MB touched|Killed|status|Error/.test(holder!.out()), 'the first program holds 56 MB');
  const second = runCli(['exec', '-C', dir, '--exit-status', '/bin/bigalloc', '56']);
  // The kernel picks the victim (both hold 56 MB): one of the two is killed, with the pal line.
  const first = second.status === 137 ? null : await exited(holder.child);
  const killed = second.status === 137 ? second.stderr : holder.out();
  assert.ok(second.status === 137 || first === 137, `one program is OOM-killed:\n${second.stdout}${holder.out()}`);
  assert.match(killed, /run out of reserved memory: 1 process\(es\) killed at user_space_size \+ kernel heap/);
});
