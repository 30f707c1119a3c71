// start / exec / stop on the host backend: one long-lived sandbox per instance whose programs
// share the run layer and ramfs; stop leaves no process behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { HostBackend, SERVER_NOT_STARTED, SERVER_STARTED } from '../../src/core/backend/host/index.ts';
import { BackendError } from '../../src/core/backend/types.ts';
import { allPids, isAlive, namespaceOf, procInfo } from '../../src/core/backend/host/procs.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { waitFor } from '../helpers/wait.ts';

function cmdlineHas(pid: number, text: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
  } catch {
    return false;
  }
}

/** Sleepers running in this instance's server (other tests on the machine run sleepers too). */
function serverSleepers(dir: string, ignoringTerm = false): number[] {
  const ns = namespaceOf(JSON.parse(readFileSync(`${dir}/run/host/server.json`, 'utf8')).nsInit, 'pid');
  return allPids().filter((p) => {
    try {
      if (namespaceOf(p, 'pid') !== ns || readFileSync(`/proc/${p}/comm`, 'utf8').trim() !== 'sleeper') return false;
      const ign = readFileSync(`/proc/${p}/status`, 'utf8').match(/^SigIgn:\s+([0-9a-f]+)$/m)?.[1] ?? '0';
      return !ignoringTerm || (BigInt(`0x${ign}`) & (1n << 14n)) !== 0n;
    } catch {
      return false;
    }
  });
}

test('start, concurrent execs sharing the run layer and ramfs, stop leaves nothing running', async () => {
  const dir = makeInstance(['writer', 'sleeper', 'hello'], (c) => c.mount.push({ target: '/tmp', type: 'ramfs' }));
  const out: string[] = [];
  const b = new HostBackend(dir, { output: (_s, c) => out.push(c.toString()) });
  assert.ok((await b.build()).ok);
  await assert.rejects(
    b.exec('/bin/hello', []),
    // Occlum's line, and the fix as the message.
    (e: unknown) =>
      e instanceof BackendError && e.occlumLines.includes(SERVER_NOT_STARTED) && /start it first/.test(e.message),
  );
  await b.start();
  try {
    assert.equal(await b.status(), 'serving');
    await assert.rejects(b.start(), (e: unknown) => e instanceof BackendError && e.message === SERVER_STARTED);
    await assert.rejects(
      b.run('/bin/hello', []),
      /stop the server first \(S in the Run pane, or occlum-studio stop\), or use exec: the server of this instance is running/,
    );
    const exec = async (path: string, args: string[]) => {
      out.length = 0;
      const r = await b.exec(path, args, { stdio: 'pipe' });
      return { status: r.status, out: out.join('') };
    };
    assert.match((await exec('/bin/writer', ['/tmp/f'])).out, /has 1 line/);
    assert.match((await exec('/bin/writer', ['/tmp/f'])).out, /has 2 line/, 'ramfs is shared between execs until stop');
    assert.match((await exec('/bin/writer', [])).out, /has 1 line/);
    assert.match((await exec('/bin/writer', [])).out, /has 2 line/);
    // concurrent: two long sleepers and a quick program
    const s1 = b.exec('/bin/sleeper', ['60'], { stdio: 'pipe' });
    const s2 = b.exec('/bin/sleeper', ['60'], { stdio: 'pipe' });
    assert.equal((await exec('/bin/hello', ['exit=4'])).status, 4);
    const sleepers = await waitFor(
      () => serverSleepers(dir).length === 2 && serverSleepers(dir),
      'both execs run at once',
    );
    const holder = JSON.parse(readFileSync(`${dir}/run/host/server.json`, 'utf8')).pid as number;
    await b.stop(2000);
    const [e1, e2] = await Promise.all([s1, s2]);
    assert.equal(e1.status, 128 + 15, 'programs get SIGTERM first');
    assert.equal(e2.status, 128 + 15);
    for (const p of [...sleepers, holder]) assert.ok(!isAlive(p), `pid ${p} still alive`);
    assert.equal(await b.status(), 'built');
    await assert.rejects(b.stop(), (e: unknown) => e instanceof BackendError && e.message === SERVER_NOT_STARTED);
    // the run layer outlives the server, as run/ does in Occlum
    await b.start();
    assert.match((await exec('/bin/writer', [])).out, /has 3 line/);
    assert.match((await exec('/bin/writer', ['/tmp/f'])).out, /has 1 line/, 'ramfs is new after a restart');
  } finally {
    if ((await b.status()) === 'serving') await b.stop(500);
  }
  assert.ok(!allPids().some((p) => procInfo(p) !== null && cmdlineHas(p, dir)), 'no process of the instance is left');
});

test('stop kills what ignores SIGTERM after the timeout; a second run while one is alive is refused', async () => {
  const dir = makeInstance(['sleeper']);
  const b = new HostBackend(dir);
  assert.ok((await b.build()).ok);
  const r1 = b.run('/bin/sleeper', ['60'], { stdio: 'pipe' });
  await waitFor(() => b.lastChild?.pid, 'the run started');
  assert.equal(await b.status(), 'running');
  await assert.rejects(b.run('/bin/sleeper', ['1']), /the process of current Occlum instance is running/);
  process.kill(b.lastChild!.pid!, 'SIGTERM');
  await r1;
  await b.start();
  const stubborn = b.exec('/bin/sleeper', ['60', 'ignore-term'], { stdio: 'pipe' });
  await waitFor(() => serverSleepers(dir, true).length === 1, 'the sleeper ignores SIGTERM');
  await b.stop(300);
  assert.equal((await stubborn).status, 128 + 9, 'SIGKILL after the timeout');
  assert.equal(await b.status(), 'built');
});

test('programs of one server share a PID space (as LibOS processes do); a run has its own', async () => {
  const dir = makeInstance(['sleeper', 'writer']);
  const b = new HostBackend(dir);
  assert.ok((await b.build()).ok);
  await b.start();
  try {
    const s = b.exec('/bin/sleeper', ['60'], { stdio: 'pipe' });
    const [host] = await waitFor(() => serverSleepers(dir).length === 1 && serverSleepers(dir), 'the sleeper runs');
    // the sleeper's pid as seen inside the server's PID namespace
    const nsPid = readFileSync(`/proc/${host}/status`, 'utf8')
      .match(/^NSpid:\s+(.*)$/m)![1]
      .trim()
      .split(/\s+/)
      .at(-1);
    const out: string[] = [];
    const b2 = new HostBackend(dir, { output: (_s, c) => out.push(c.toString()) });
    await b2.exec('/bin/writer', ['probe', `/proc/${nsPid}/cmdline`], { stdio: 'pipe' });
    assert.match(out.join(''), new RegExp(`read /proc/${nsPid}/cmdline: ok`));
    await b.stop(1000);
    await s;
    out.length = 0;
    await b2.run('/bin/writer', ['probe', `/proc/${nsPid}/cmdline`], { stdio: 'pipe' });
    assert.match(out.join(''), /No such file or directory/);
  } finally {
    if ((await b.status()) === 'serving') await b.stop(500);
  }
});
