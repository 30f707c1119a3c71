// A sandboxed program cannot reach the host's abstract unix sockets (docs/security.md, "Sandbox").
// The sandbox shares the host's network namespace, and the abstract socket namespace is the
// network namespace's: an X server's @/tmp/.X11-unix/X0 (keystrokes into the user's session) or
// any other abstract socket of the host was one connect(2) away. In Occlum a program's unix
// sockets live inside the LibOS. Each launch scopes the program with Landlock
// (LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET): sockets of the host fail with EPERM, its own still work.
// The host side here: the probe itself, run on the host, holds a stream listener and a datagram
// socket at names of exact length, as X11 does (Node's listen('\0name') pads the name to 107 bytes).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { closeInheritedDescriptors } from '../../src/core/sandbox/inherited-fds.ts';
import { HostWatchBackend } from '../../src/core/watch/host-backend.ts';
import { CLI } from '../helpers/paths.ts';
import { runCli, ensureBuilt } from '../helpers/cli.ts';
import { fixturePath, hasMuslGcc } from '../helpers/fixtures.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { asNobodyIn, unprivilegedSkip } from '../helpers/unprivileged.ts';
import { waitFor } from '../helpers/wait.ts';

// As the CLI does at startup: the test runner's inheritable descriptors would reach any launch.
closeInheritedDescriptors();

const skip = !hasMuslGcc() ? 'musl-gcc is not installed' : false;
const rootOnly = skip || (process.getuid?.() === 0 ? false : 'runs as root (CI does); as nobody below');

const tag = randomBytes(6).toString('hex');
/** The host's sockets: a stream listener (as an X server's) and a datagram socket. */
const STREAM = `occlum-studio-test-${tag}-s`;
const DGRAM = `occlum-studio-test-${tag}-d`;
/** The probe's operations: the host's two sockets, then its own. */
const PROBE = ['/bin/abstractprobe', 'connect', STREAM, 'sendto', DGRAM, 'own'];

const holders: ChildProcess[] = [];
const dirs: string[] = [];

before(async () => {
  if (skip) return;
  for (const op of [
    ['listen', STREAM],
    ['recv', DGRAM],
  ]) {
    const holder = spawn(fixturePath('abstractprobe'), op, { stdio: ['ignore', 'pipe', 'inherit'] });
    holders.push(holder);
    let said = '';
    holder.stdout!.on('data', (c: Buffer) => (said += c.toString()));
    await waitFor(() => said.includes('listening'), `the host's ${op[0]} socket`);
  }
});

after(() => {
  for (const h of holders) h.kill('SIGKILL');
  for (const d of dirs) rmSync(dirname(d), { recursive: true, force: true });
});

async function instance(): Promise<string> {
  const dir = makeInstance(['abstractprobe']);
  dirs.push(dir);
  const built = await new HostBackend(dir).build();
  assert.ok(built.ok, built.errors.join('\n'));
  return dir;
}

/** The probe's report: the host's sockets refused with EPERM, its own reached. */
function checkScoped(out: string, how: string): void {
  assert.match(out, new RegExp(`^connect @${STREAM}: errno=1 \\(Operation not permitted\\)$`, 'm'), `${how}\n${out}`);
  assert.match(out, new RegExp(`^sendto @${DGRAM}: errno=1 \\(Operation not permitted\\)$`, 'm'), `${how}\n${out}`);
  assert.match(out, /^own stream: ok\nown dgram: ok$/m, `${how}: its own abstract sockets still work\n${out}`);
}

const probeOut = (r: { stdout: string; stderr: string }, how: string) => {
  assert.doesNotMatch(r.stderr, /Landlock|abstract unix sockets/, `${how}: no warning on this kernel\n${r.stderr}`);
  return r.stdout;
};

test('run (cold, through the stager): fork watch and --allow-fork', { skip: rootOnly }, async () => {
  const dir = await instance();
  checkScoped(probeOut(runCli(['run', ...PROBE], { cwd: dir }), 'run'), 'run with the fork watch');
  checkScoped(probeOut(runCli(['run', '--allow-fork', ...PROBE], { cwd: dir }), 'run'), 'run --allow-fork');
});

test("run in a prepared sandbox (the dev loop's go)", { skip: rootOnly }, async () => {
  const dir = await instance();
  const backend = new HostWatchBackend();
  try {
    backend.prepareRerun();
    const preparedPid = backend.preparedPid;
    assert.ok(preparedPid, 'a sandbox was prepared');
    let out = '';
    const [path, ...args] = PROBE;
    const proc = await backend.run(dir, { path: path!, args }, { onOutput: (c) => (out += c), onExit: () => {} });
    await proc.exited;
    assert.equal(proc.pid, preparedPid, 'the program ran in the prepared sandbox');
    checkScoped(out, 'prepared');
  } finally {
    await backend.dropPrepared();
  }
});

test("run in the Run pane's prepared terminal (the go on its own pipe)", { skip: rootOnly }, async () => {
  const dir = await instance();
  const backend = new HostBackend(dir);
  const warm = backend.prepareTerminal({ cols: 160, rows: 30 });
  assert.ok(typeof warm !== 'string', String(warm));
  const [path, ...args] = PROBE;
  const prep = await backend.prepareRun(path!, args, { warm });
  assert.ok(prep.terminal, 'launched in the prepared terminal');
  let out = '';
  prep.terminal.process.onData((b) => (out += b.toString()));
  const ended = new Promise<{ exitCode: number; signal?: number }>((r) => prep.terminal!.process.onExit(r));
  await prep.terminal.start();
  const e = await ended;
  prep.finish(e.exitCode, e.signal ?? null);
  checkScoped(out.replace(/\r\n/g, '\n'), 'prepared terminal');
});

/** A CLI process left running (an exec that waits), with its output so far. */
function startCli(args: string[], cwd: string): { child: ChildProcess; out: () => string } {
  ensureBuilt();
  const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  return { child, out: () => out };
}

test(
  'exec into a server: scoped per exec; another exec of the server may still signal it',
  { skip: rootOnly },
  async () => {
    const dir = await instance();
    const start = runCli(['start'], { cwd: dir });
    assert.equal(start.status, 0, start.stderr);
    const theirs = `occlum-studio-test-${tag}-exec`;
    const first = startCli(['exec', '/bin/abstractprobe', 'listen', theirs], dir);
    try {
      await waitFor(() => /^listening$/m.test(first.out()), 'the first exec listening', 30_000);
      const pid = first.out().match(/^pid (\d+)$/m)![1]!;
      const r = runCli(['exec', ...PROBE, 'connect', theirs, 'kill', pid], { cwd: dir });
      const out = probeOut(r, 'exec');
      checkScoped(out, 'exec');
      // Each exec is its own Landlock domain: another exec's abstract socket is out of reach (a
      // pathname socket in the shared file system is the way between them). Signals are not scoped
      // for execs: the server's programs share one PID namespace, as in one enclave, and may kill each other.
      assert.match(out, new RegExp(`^connect @${theirs}: errno=1 `, 'm'), out);
      assert.match(out, new RegExp(`^kill ${pid}: ok$`, 'm'), out);
      await waitFor(() => first.child.exitCode !== null || first.child.signalCode !== null, 'the first exec ended');
    } finally {
      first.child.kill('SIGKILL');
      assert.equal(runCli(['stop'], { cwd: dir }).status, 0);
    }
  },
);

test('as a normal user: run and exec are scoped the same', { skip: skip || unprivilegedSkip() }, async () => {
  const dir = makeInstance(['abstractprobe']);
  dirs.push(dir);
  const asNobody = asNobodyIn(dir);
  assert.equal(asNobody('build').status, 0);
  checkScoped(probeOut(asNobody('run', ...PROBE), 'run as nobody'), 'run as nobody');
  const s = asNobody('start');
  assert.equal(s.status, 0, s.stderr);
  try {
    checkScoped(probeOut(asNobody('exec', ...PROBE), 'exec as nobody'), 'exec as nobody');
  } finally {
    assert.equal(asNobody('stop').status, 0);
  }
});

/**
 * A kernel without Landlock, made here by a seccomp filter around the studio that fails
 * landlock_create_ruleset (444) with ENOSYS, as a kernel before 5.13 does: python3 installs it
 * and executes the CLI.
 */
const NO_LANDLOCK = `
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
ins = lambda code, k, jt=0, jf=0: struct.pack('HBBI', code, jt, jf, k)
prog = ins(0x20, 0) + ins(0x15, 444, 0, 1) + ins(0x06, 0x00050000 | 38) + ins(0x06, 0x7fff0000)
buf = ctypes.create_string_buffer(prog)
class Fprog(ctypes.Structure):
    _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]
fprog = Fprog(len(prog) // 8, ctypes.addressof(buf))
assert libc.prctl(38, 1, 0, 0, 0) == 0 and libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0
os.execv(sys.argv[1], sys.argv[1:])
`;
const noPython = spawnSync('python3', ['--version']).status !== 0 ? 'python3 is not installed' : false;

test(
  'a kernel without Landlock: the run and the exec go on, with one warning line on their stderr',
  { skip: rootOnly || noPython },
  async () => {
    const dir = await instance();
    ensureBuilt();
    const withoutLandlock = (...args: string[]) =>
      spawnSync('python3', ['-c', NO_LANDLOCK, process.execPath, CLI, ...args], { cwd: dir, encoding: 'utf8' });
    const warning = new RegExp(
      '^occlum-studio: sandbox: warning: this kernel has no Landlock ' +
        '\\(scoping needs Landlock ABI 6, Linux 6\\.12\\): ' +
        "this program can connect to the host's abstract unix sockets .*$",
      'm',
    );
    const check = (r: SpawnSyncReturns<string>, how: string) => {
      assert.equal(r.status, 0, `${how}: ${r.stderr}`);
      assert.equal(r.stderr.match(new RegExp(warning.source, 'gm'))?.length, 1, `${how}: one warning\n${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^connect @${STREAM}: ok$`, 'm'), `${how}: not scoped, and says so`);
      assert.match(r.stdout, /^own stream: ok\nown dgram: ok$/m, how);
    };
    check(withoutLandlock('run', ...PROBE), 'run');
    assert.equal(runCli(['start'], { cwd: dir }).status, 0);
    try {
      check(withoutLandlock('exec', ...PROBE), 'exec');
    } finally {
      assert.equal(runCli(['stop'], { cwd: dir }).status, 0);
    }
  },
);
