// The host backend's run/ state is checked before use (issue 11, defects 7 and 8): a seccomp
// filter cut short by a full disk is rewritten from its content, not trusted for existing; a
// symlink or a file in place of a run/ directory is refused with what and how to fix, and no
// write lands where it points.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { isAlive } from '../../src/core/backend/host/procs.ts';
import { BackendError, type RuntimeLogRecord } from '../../src/core/backend/types.ts';
import { seccompFilter } from '../../src/core/sandbox/seccomp.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { runCli } from '../helpers/cli.ts';

async function built(names: Parameters<typeof makeInstance>[0]) {
  const dir = makeInstance(names);
  const out: string[] = [];
  const logs: RuntimeLogRecord[] = [];
  const b = new HostBackend(dir, { output: (_s, c) => out.push(c.toString()), log: (r) => logs.push(r) });
  assert.ok((await b.build()).ok);
  const run = async (path: string, args: string[] = []) => {
    out.length = 0;
    const exit = await b.run(path, args, { stdio: 'pipe', logLevel: 'warn' });
    return { status: exit.status, out: out.join('') };
  };
  return { dir, b, run, logs };
}

const refused = (pattern: RegExp) => (e: unknown) => e instanceof BackendError && pattern.test(e.message);

test('a seccomp filter left at 0 bytes or corrupted is rewritten and the next run works', async () => {
  const { dir, run, logs } = await built(['hello', 'forker']);
  const file = join(dir, 'run/host/seccomp-nofork.bpf');
  assert.equal((await run('/bin/hello')).status, 0);
  const want = seccompFilter({ denyFork: true });
  assert.deepEqual(readFileSync(file), want);
  truncateSync(file, 0); // what a full disk left behind
  const r = await run('/bin/hello');
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /Hello from \/bin\/hello/);
  assert.deepEqual(readFileSync(file), want);
  assert.ok(
    logs.some((l) => /seccomp-nofork\.bpf was 0 bytes instead of \d+/.test(l.message)),
    'the rewrite is logged',
  );
  const bad = Buffer.from(want);
  bad.writeUInt32LE(0x7fff0000, bad.length - 4); // the deny turned into an allow
  writeFileSync(file, bad);
  assert.match(
    (await run('/bin/forker')).out,
    /fork failed: Function not implemented/,
    'the filter in force is the right one',
  );
  assert.deepEqual(readFileSync(file), want);
  rmSync(file);
  mkdirSync(file);
  assert.equal((await run('/bin/hello')).status, 0, 'a directory in its place is replaced too');
  assert.deepEqual(readFileSync(file), want);
});

test('a symlinked run/host/upper is refused and nothing is written where it points', async () => {
  const { dir, run } = await built(['writer']);
  const outside = mkdtempSync(join(tmpdir(), 'occlum-outside-'));
  const upper = join(dir, 'run/host/upper');
  rmSync(upper, { recursive: true });
  symlinkSync(outside, upper);
  await assert.rejects(
    run('/bin/writer', ['write', '/root/escaped']),
    refused(/run\/host\/upper is a symbolic link \(to .*occlum-outside-.*\).*remove it/),
  );
  assert.deepEqual(readdirSync(outside), [], 'nothing lands outside the instance');
  rmSync(upper);
  writeFileSync(upper, 'not a directory');
  await assert.rejects(run('/bin/writer', ['write', '/root/x']), refused(/run\/host\/upper is not a directory/));
  rmSync(upper);
  assert.match(
    (await run('/bin/writer', ['write', '/root/x'])).out,
    /write \/root\/x: ok/,
    'a missing layer is recreated empty',
  );
});

test('a symlinked run/host or run/ is refused before anything is created through it', async () => {
  const { dir, run, b } = await built(['writer']);
  const outside = mkdtempSync(join(tmpdir(), 'occlum-outside-'));
  const host = join(dir, 'run/host');
  renameSync(host, join(outside, 'host'));
  symlinkSync(join(outside, 'host'), host);
  await assert.rejects(run('/bin/writer'), refused(/run\/host is a symbolic link/));
  await assert.rejects(b.start(), refused(/run\/host is a symbolic link/));
  rmSync(host);
  rmSync(join(dir, 'run'), { recursive: true });
  symlinkSync(outside, join(dir, 'run'));
  await assert.rejects(run('/bin/writer'), refused(/\/run is a symbolic link/));
  assert.deepEqual(readdirSync(outside), ['host'], 'no directory was created through the link');
});

test('a symlinked server.log is not followed', async () => {
  const { dir, b } = await built(['writer']);
  const target = join(mkdtempSync(join(tmpdir(), 'occlum-outside-')), 'victim');
  writeFileSync(target, 'precious\n');
  symlinkSync(target, join(dir, 'run/host/server.log'));
  await assert.rejects(b.start(), refused(/server\.log is a symbolic link/));
  assert.equal(readFileSync(target, 'utf8'), 'precious\n');
});

test('a FIFO or a device in place of server.log (an instance from a tarball): start refuses at once', async () => {
  const { dir } = await built(['writer']);
  const log = join(dir, 'run/host/server.log');
  // A root tar extracts device nodes as they are: /dev/null's numbers stand in for a disk's.
  const planted: [string, string[]][] = [['mkfifo', [log]]];
  if (process.getuid?.() === 0) planted.push(['mknod', [log, 'c', '1', '3']]);
  for (const [cmd, args] of planted) {
    rmSync(log, { force: true });
    assert.equal(spawnSync(cmd, args).status, 0);
    // Before the fix the open blocked on the FIFO until a reader came (killed after 30 s here).
    const r = runCli(['start'], { cwd: dir, timeout: 30_000 });
    assert.equal(r.status, 1, `${cmd}: ${r.stderr}`);
    assert.match(r.stderr, /server\.log is (a FIFO \(named pipe\)|a character device), not a regular file/, cmd);
  }
  rmSync(log);
  assert.equal(runCli(['start'], { cwd: dir }).status, 0, 'a regular log is used');
  assert.equal(runCli(['stop'], { cwd: dir }).status, 0);
});

test('a forged server.json makes stop signal nothing but a real server', async () => {
  const { dir, b } = await built(['writer']);
  const victim = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const startTime = readFileSync(`/proc/${victim.pid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
    const forged = { pid: victim.pid, startTime, nsInit: victim.pid };
    writeFileSync(join(dir, 'run/host/server.json'), JSON.stringify(forged));
    await b.stop(100);
    assert.ok(isAlive(victim.pid!, startTime), 'the process named in the record is not ours to kill');
    writeFileSync(join(dir, 'run/host/server.json'), JSON.stringify({ ...forged, pid: 1 }));
    assert.equal(await b.status(), 'built', 'pid 1 is never a server');
  } finally {
    victim.kill('SIGKILL');
  }
});
