// The host sandbox knows each fork attempt (docs/security.md, "Fork attempts"): fork still fails
// with ENOSYS as in Occlum, vfork and posix_spawn still work, and the hint comes after the run
// from the count, not from the output: with stderr a terminal (the program's own), a pipe, or a
// program that prints nothing; in the Run pane and in `watch --json`. With the watch gone the
// kernel fails fork by itself; the program gets no descriptor of the mechanism.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { descendants, exeOf } from '../../src/core/backend/host/procs.ts';
import { closeInheritedDescriptors } from '../../src/core/sandbox/inherited-fds.ts';
import { forkShimPath, stagerPath } from '../../src/core/sandbox/identity.ts';
import { seccompProgram } from '../../src/core/sandbox/seccomp.ts';
import { evaluate } from '../helpers/seccomp-eval.ts';
import { HostWatchBackend } from '../../src/core/watch/host-backend.ts';
import { ensureBuilt, runCli } from '../helpers/cli.ts';
import { watchJson } from '../helpers/watch-json.ts';
import { fixturePath, hasMuslGcc } from '../helpers/fixtures.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { runFromPane, startTui } from '../helpers/tui.ts';
import { NOBODY, asNobodyIn, unprivilegedSkip } from '../helpers/unprivileged.ts';
import { waitFor } from '../helpers/wait.ts';

closeInheritedDescriptors();

const skip = !hasMuslGcc()
  ? 'musl-gcc is not installed'
  : !stagerPath() || !forkShimPath()
    ? 'the native stager or fork shim is not built (npm run build:native)'
    : false;

const HINT =
  'which Occlum does not have (ENOSYS): use posix_spawn or vfork; `--allow-fork` lets the host sandbox allow it to explore';

let instance: string | null = null;
async function built(): Promise<string> {
  if (instance) return instance;
  const dir = makeInstance(['forkprobe', 'spawner', 'hello']);
  const b = await new HostBackend(dir).build();
  assert.ok(b.ok, b.errors.join('\n'));
  return (instance = dir);
}
after(() => {
  if (instance) rmSync(dirname(instance), { recursive: true, force: true });
});

test('the notifying filter: forks notify, clone3 and x32 are denied, a listener of the program’s own is busy', () => {
  const [X86_64, ALLOW, NOTIFY] = [0xc000003e, 0x7fff0000, 0x7fc00000];
  const deny = seccompProgram({ denyFork: true });
  const notify = seccompProgram({ denyFork: true, notify: true });
  const calls: [string, number, number[], number][] = [
    ['fork', 57, [], NOTIFY],
    ['fork-like clone', 56, [17], NOTIFY],
    ['thread clone', 56, [0x3d0f00], ALLOW],
    ['vfork-style clone', 56, [0x4000 | 17], ALLOW],
    ['clone3', 435, [], 0x50000 | 38],
    ['x32 fork', 0x40000000 | 57, [], 0x50000 | 38],
    ['seccomp with a listener', 317, [1, 8], 0x50000 | 16],
    ['seccomp without one', 317, [1, 0], ALLOW],
    ['TIOCSTI', 16, [0, 0x5412], 0x50000 | 1],
    ['read', 0, [], ALLOW],
  ];
  for (const [what, nr, args, want] of calls) {
    assert.equal(evaluate(notify, X86_64, nr, args), want, what);
    const denied = want === NOTIFY ? 0x50000 | 38 : nr === 317 ? ALLOW : want;
    assert.equal(evaluate(deny, X86_64, nr, args), denied, `${what} (denying filter)`);
  }
});

test('a program that forks and prints nothing gets the hint, stderr a pipe', { skip }, async () => {
  const dir = await built();
  const r = runCli(['run', '/bin/forkprobe', 'silent', '3'], { cwd: dir });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `hint: /bin/forkprobe tried fork() 3 times, ${HINT}\n`);
});

test('… and with stderr a terminal, which the program owns', { skip }, async () => {
  const dir = await built();
  const tui = startTui(['run', '/bin/forkprobe', 'silent', '2'], { cwd: dir, cols: 200, rows: 10 });
  try {
    assert.equal(await tui.exited, 0, tui.screen());
    assert.ok(tui.screen().includes(`hint: /bin/forkprobe tried fork() 2 times, ${HINT}`), tui.screen());
  } finally {
    tui.kill();
  }
});

test(
  'fork and a raw fork-like clone still fail with ENOSYS; vfork and posix_spawn work, unhinted',
  { skip },
  async () => {
    const dir = await built();
    const f = runCli(['run', '/bin/forkprobe', 'errno'], { cwd: dir });
    assert.equal(f.stdout, 'fork: errno=38 (Function not implemented)\n');
    assert.equal(f.stderr, `hint: /bin/forkprobe tried fork() once, ${HINT}\n`);
    const c = runCli(['run', '/bin/forkprobe', 'clone'], { cwd: dir });
    assert.equal(c.stdout, 'clone: errno=38 (Function not implemented)\n');
    assert.match(c.stderr, /tried fork\(\) once/);
    const v = runCli(['run', '/bin/forkprobe', 'vfork'], { cwd: dir });
    assert.equal(v.stdout, 'vfork child exited: 7\n');
    assert.equal(v.stderr, '');
    const s = runCli(['run', '/bin/spawner', '/bin/hello'], { cwd: dir });
    assert.match(s.stdout, /child exited: 0/);
    assert.equal(s.stderr, '');
    // The program is what was asked for, as bwrap would have started it.
    const exe = runCli(['run', '/bin/forkprobe', 'exe'], { cwd: dir });
    assert.equal(exe.stdout, 'exe=/bin/forkprobe argv0=/bin/forkprobe\n');
  },
);

test('--allow-fork: fork works, no watch, no hint', { skip }, async () => {
  const dir = await built();
  const r = runCli(['run', '--allow-fork', '/bin/forkprobe', 'errno'], { cwd: dir });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'fork: succeeded\n');
  assert.doesNotMatch(r.stderr, /hint:/);
});

test('the program starts with stdin, stdout and stderr only, and at its exe', { skip }, async () => {
  const dir = await built();
  const r = runCli(['run', '/bin/forkprobe', 'fds'], { cwd: dir });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[0]),
    ['0', '1', '2'],
    r.stdout,
  );
});

test('as a normal user too (no stager privilege)', { skip: skip || unprivilegedSkip() }, async () => {
  const dir = makeInstance(['forkprobe']);
  try {
    const run = asNobodyIn(dir);
    assert.equal(run('build').status, 0);
    const r = run('run', '/bin/forkprobe', 'errno');
    assert.equal(r.stdout, 'fork: errno=38 (Function not implemented)\n');
    assert.equal(r.stderr, `hint: /bin/forkprobe tried fork() once, ${HINT}\n`);
    const fds = run('run', '/bin/forkprobe', 'fds').stdout.trim().split('\n');
    assert.deepEqual(
      fds.map((l) => l.split(' ')[0]),
      ['0', '1', '2'],
    );
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

/** forkprobe MODE started through the host backend's run path, once the shim has executed it. */
async function startProbe(mode: string) {
  const dir = await built();
  const prep = await new HostBackend(dir).prepareRun('/bin/forkprobe', [mode]);
  const child = spawn(prep.file, prep.args, { env: prep.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const closed = new Promise<string>((r) => child.on('close', () => r(out)));
  const running = () => descendants([child.pid!]).some((p) => (exeOf(p) ?? '').endsWith('/forkprobe'));
  try {
    await waitFor(running, 'the program running (the shim has sent the listener and executed it)');
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { prep, child, closed };
}

test('with the watch gone (its thread ended), fork still fails with ENOSYS', { skip }, async () => {
  const { prep, child, closed } = await startProbe('line');
  try {
    // What a run's end does: the watch is taken, its thread and the listener end.
    const early = prep.finish(null, null);
    assert.equal(early.forks, undefined, 'nothing counted yet');
    child.stdin.end('go\n');
    assert.equal(await closed, 'fork: errno=38 (Function not implemented)\n');
  } finally {
    child.kill('SIGKILL');
  }
});

test('with the watch gone, a listener of the program’s own cannot let its fork through', { skip }, async () => {
  // Seccomp gives a fork to the newest filter's listener: the program's own, answering "continue",
  // would win once the watch's listener is gone (while it lives the kernel allows no second one).
  const { prep, child, closed } = await startProbe('own');
  try {
    prep.finish(null, null);
    child.stdin.end('go\n');
    assert.equal(await closed, 'own listener: errno=16 (Resource busy)\n');
  } finally {
    child.kill('SIGKILL');
  }
});

test('a program naming itself anew for each fork gets a short hint; names are shown escaped', { skip }, async () => {
  const dir = await built();
  const r = runCli(['run', '/bin/forkprobe', 'names', '3000'], { cwd: dir });
  assert.equal(r.status, 0, r.stderr);
  const names = Array.from({ length: 8 }, (_, i) => `n${i}`).sort();
  const listed = names.map((n) => `${n} (once)`).join(', ');
  assert.equal(r.stderr, `hint: ${listed}, processes of other names (2992 times) tried fork(), ${HINT}\n`);
  const e = runCli(['run', '/bin/forkprobe', 'escname'], { cwd: dir });
  assert.equal(e.stderr, `hint: \\e]0;owned\\x07\\e[2J tried fork() once, ${HINT}\n`);
  const tui = startTui([dir], { cwd: dir, cols: 200, rows: 30 });
  try {
    await runFromPane(tui, '/bin/forkprobe escname');
    await tui.waitFor('hint: \\e]0;owned\\x07\\e[2J tried fork() once');
    assert.ok(!tui.raw().includes('\x1b]0;owned'), 'the name reached the terminal as an escape sequence');
  } finally {
    tui.kill();
  }
});

test(
  'a config mounting its own dir at /proc cannot run something else in place of the fork shim',
  { skip },
  async () => {
    // bwrap runs the shim as /proc/self/fd/11: with the config's hostfs covering /proc, that path
    // named a file of the instance, which ran the program with no fork rule at all.
    const dir = makeInstance(['forkprobe'], (cfg) =>
      cfg.mount.push({ target: '/proc', type: 'hostfs', source: './fakeproc' }),
    );
    try {
      mkdirSync(join(dir, 'fakeproc/self/fd'), { recursive: true });
      // Runs its arguments: what the shim does, without the filter.
      copyFileSync(fixturePath('execargs'), join(dir, 'fakeproc/self/fd/11'));
      const b = await new HostBackend(dir).build();
      assert.ok(b.ok, b.errors.join('\n'));
      const r = runCli(['run', '/bin/forkprobe', 'errno'], { cwd: dir });
      assert.equal(r.stdout, 'fork: errno=38 (Function not implemented)\n');
      assert.equal(r.stderr, `hint: /bin/forkprobe tried fork() once, ${HINT}\n`);
    } finally {
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  },
);

test(
  'a TMPDIR another user can rename in holds no fork watch; a socket of theirs at its path gets nothing',
  { skip: skip || unprivilegedSkip() },
  async () => {
    const dir = await built();
    const prepareIn = async (tmp: string | undefined) => {
      const before = process.env.TMPDIR;
      if (tmp) process.env.TMPDIR = tmp;
      try {
        return await new HostBackend(dir).prepareRun('/bin/forkprobe', ['fds']);
      } finally {
        if (before === undefined) delete process.env.TMPDIR;
        else process.env.TMPDIR = before;
      }
    };
    // Theirs (nobody's): they could swap the socket's directory. No watch; bwrap's filter denies.
    const shared = mkdtempSync(join(tmpdir(), 'shared-tmp-'));
    chownSync(shared, 65534, 65534);
    try {
      const there = await prepareIn(shared);
      there.finish(null, null);
      assert.equal(there.args.indexOf('forkwatch'), -1, 'no fork watch in a TMPDIR of another user');
      assert.deepEqual(readdirSync(shared), [], 'nothing made there');
    } finally {
      rmSync(shared, { recursive: true, force: true });
    }
    // And should a socket of another user be at the watch's path anyway, the stager does not use it.
    const prep = await prepareIn(undefined);
    const socket = prep.args[prep.args.indexOf('forkwatch') + 1]!;
    renameSync(dirname(socket), `${dirname(socket)}.studio`);
    mkdirSync(dirname(socket));
    chownSync(dirname(socket), 65534, 65534);
    const theirs = `require('net').createServer(()=>console.log('connected'))
      .listen(${JSON.stringify(socket)},()=>console.log('listening'))`;
    const other = spawn('setpriv', [...NOBODY, process.execPath, '-e', theirs], { stdio: ['ignore', 'pipe', 'pipe'] });
    let said = '';
    other.stdout.on('data', (c: Buffer) => (said += c.toString()));
    try {
      await waitFor(() => said.includes('listening'), 'the other user listening at the socket path');
      const r = spawnSync(prep.file, prep.args, { env: prep.env, encoding: 'utf8' });
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stderr, /cannot reach the fork watch .*its listener runs as uid 65534, not 0/);
      assert.equal(r.stdout, '', 'the program did not run');
      assert.doesNotMatch(said, /connected/);
    } finally {
      other.kill('SIGKILL');
      rmSync(dirname(socket), { recursive: true, force: true });
      renameSync(`${dirname(socket)}.studio`, dirname(socket));
      prep.finish(1, null);
    }
  },
);

test('the Run pane shows the hint, and says it on the status line', { skip }, async () => {
  const dir = await built();
  const tui = startTui([dir], { cwd: dir, cols: 200, rows: 30 });
  try {
    await runFromPane(tui, '/bin/forkprobe silent 4');
    await tui.waitFor('hint: /bin/forkprobe tried fork() 4 times, which Occlum does not have (ENOSYS)');
    const lines = tui.screen().split('\n');
    assert.ok(
      lines.some((l) => l.includes(`hint: /bin/forkprobe tried fork() 4 times, ${HINT}`)),
      'the footer has the whole hint: ' + tui.screen(),
    );
    assert.match(lines.at(-1)!, /hint: \/bin\/forkprobe tried fork\(\) 4 times/, 'the status line says it');
  } finally {
    tui.kill();
  }
});

test('the dev loop reports fork attempts with the run’s exit, prepared sandbox or cold', { skip }, async () => {
  const dir = await built();
  const backend = new HostWatchBackend();
  try {
    for (const prepared of [true, false]) {
      if (prepared) backend.prepareRerun();
      const preparedPid = backend.preparedPid;
      let forks: unknown;
      const proc = await backend.run(
        dir,
        { path: '/bin/forkprobe', args: ['silent', '2'] },
        { onOutput: () => {}, onExit: (_s, f) => (forks = f) },
      );
      assert.equal(await proc.exited, 0);
      assert.equal(proc.pid === preparedPid, prepared, 'prepared or cold, as asked');
      assert.deepEqual(
        forks,
        { total: 2, byComm: [{ comm: 'forkprobe', count: 2, processes: 1 }] },
        `prepared ${prepared}`,
      );
    }
  } finally {
    await backend.dropPrepared();
  }
});

test('watch --json and size --json report the attempts with the run', { skip }, async () => {
  const dir = makeInstance(['forkprobe']);
  try {
    ensureBuilt();
    const { child, events, exited } = watchJson([dir, '--json', '--run', '/bin/forkprobe', 'silent', '2']);
    try {
      await waitFor(() => events.some((e) => e.event === 'run-exit'), 'the run');
      const exit = events.find((e) => e.event === 'run-exit')!;
      assert.equal(exit.status, 0);
      assert.deepEqual(exit.forks, { total: 2, byComm: [{ comm: 'forkprobe', count: 2, processes: 1 }] });
      assert.equal(exit.hint, `/bin/forkprobe tried fork() 2 times, ${HINT}`);
    } finally {
      child.kill('SIGINT');
      await exited;
    }
    const size = runCli(['size', '--json', '/bin/forkprobe', 'silent', '3'], { cwd: dir });
    assert.equal(size.status, 0, size.stderr);
    assert.equal(JSON.parse(size.stdout).measurement.forks.total, 3);
    assert.match(size.stderr, /^hint: \/bin\/forkprobe tried fork\(\) 3 times/m);
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});
