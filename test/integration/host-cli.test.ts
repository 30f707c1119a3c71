// The headless commands as users run them (built CLI): build, run, exec, start, stop, status.
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { installFixtures } from '../helpers/fixtures.ts';
import { asNobodyIn, unprivilegedSkip } from '../helpers/unprivileged.ts';

test('build and run like occlum: output, exit status, launch errors (127), log records on stderr', () => {
  const dir = makeInstance(['hello']);
  const notBuilt = runCli(['run', '/bin/hello'], { cwd: dir });
  assert.equal(notBuilt.status, 1);
  assert.match(notBuilt.stderr, /not built yet/);
  assert.ok(notBuilt.stderr.includes(`occlum-studio build --backend host -C ${dir}`), notBuilt.stderr);
  const b = runCli(['build'], { cwd: dir });
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout, /Built the Occlum image successfully/);
  const r = runCli(['run', '/bin/hello', 'one', 'exit=7'], { cwd: dir, env: { OCCLUM_LOG_LEVEL: 'info' } });
  assert.equal(r.status, 7);
  assert.equal(r.stdout, 'Hello from /bin/hello\narg: one\n');
  assert.match(r.stderr, /\[ INFO\]\[T0\]\[#0\]\[process\] Process exited: elf = \/bin\/hello, status = 7/);
  const quiet = runCli(['run', '-C', dir, '/bin/hello'], { env: { OCCLUM_LOG_LEVEL: 'bogus' } });
  assert.equal(quiet.status, 0);
  assert.equal(quiet.stderr, '', 'unknown level = off');
  const denied = runCli(['run', '/lib/libc.so'], { cwd: dir });
  assert.equal(denied.status, 127);
  assert.match(
    denied.stderr,
    /^failed to boot up LibOS: EACCES \(#13, Permission denied\): program path is NOT a valid entry point\n\[ERROR\] occlum-pal: occlum_ecall_new_process returns EACCES\n/,
  );
  const usage = runCli(['run'], { cwd: dir });
  assert.equal(usage.status, 2);
});

test('run and build outside an instance: Occlum’s line, then how to make one or point at one', () => {
  const dir = dirname(makeInstance([])); // the instance's parent: not an instance
  for (const [verb, ...rest] of [['run', '/bin/hello'], ['build']]) {
    const r = runCli([verb!, '--backend', 'host', ...rest], { cwd: dir });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^Error: the current working directory is not initialized as an Occlum instance\./m);
    assert.ok(
      r.stderr.includes(
        `occlum-studio: ${dir} is not an Occlum instance (no .__occlum_status): make one with ` +
          `occlum-studio init ${dir} (or new DIR), or give an instance with -C DIR`,
      ),
      r.stderr,
    );
  }
});

test('run: a fork() failure the program reports on stderr ends with the counted hint only; with --allow-fork, none', () => {
  const dir = makeInstance(['hello']);
  // A program as shells and servers are: perror("fork") on stderr, then carries on (status 0).
  const src = join(dirname(dir), 'forkperror.c');
  writeFileSync(
    src,
    '#include <stdio.h>\n#include <sys/wait.h>\n#include <unistd.h>\n' +
      'int main(void) { pid_t p = fork(); if (p < 0) perror("fork"); else if (p == 0) _exit(0); ' +
      'else { waitpid(p, 0, 0); puts("forked"); } puts("done"); return 0; }\n',
  );
  execFileSync('musl-gcc', ['-fPIE', '-pie', '-o', join(dir, 'image', 'bin', 'forkperror'), src]);
  const b = runCli(['build'], { cwd: dir });
  assert.equal(b.status, 0, b.stderr);
  const r = runCli(['run', '/bin/forkperror'], { cwd: dir });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'done\n');
  assert.match(
    r.stderr,
    // The count replaces the output's guess: one hint, not two.
    /^fork: Function not implemented\nhint: \/bin\/forkperror tried fork\(\) once, which Occlum does not have \(ENOSYS\): .*posix_spawn.*--allow-fork[^\n]*\n$/,
  );
  const allowed = runCli(['run', '--allow-fork', '/bin/forkperror'], { cwd: dir });
  assert.equal(allowed.status, 0, allowed.stderr);
  assert.equal(allowed.stdout, 'forked\ndone\n');
  assert.doesNotMatch(allowed.stderr, /hint:/);
  assert.doesNotMatch(runCli(['run', '/bin/hello'], { cwd: dir }).stderr, /hint:/);
});

test('build failure shows the loader errors with fixes and exits 1', () => {
  const dir = makeInstance(['hello']);
  installFixtures(dir, ['nonpie']);
  const b = runCli(['build'], { cwd: dir });
  assert.equal(b.status, 1);
  assert.match(b.stderr, /error: \/bin\/nonpie: ENOEXEC \(#8, Exec format error\): unknown executable file format/);
  assert.match(b.stderr, /fix: .*-fPIE -pie/);
  const j = runCli(['build', '--json'], { cwd: dir });
  assert.equal(j.status, 1);
  assert.equal(JSON.parse(j.stdout).problems[0].code, 'not-pie');
});

test('start / exec / stop / status from the command line', () => {
  const dir = makeInstance(['hello', 'writer']);
  assert.equal(runCli(['build', dir]).status, 0);
  const noServer = runCli(['exec', '/bin/hello'], { cwd: dir });
  assert.equal(noServer.status, 1);
  assert.match(noServer.stderr, /Error: the server of current Occlum instance has not been started\./);
  assert.match(noServer.stderr, /start it first \(s in the Run pane, or occlum-studio start\)/);
  // `occlum stop` without a server: refused before "server is stopping." (check_has_not_start).
  const noStop = runCli(['stop'], { cwd: dir });
  assert.equal(noStop.status, 1);
  assert.equal(noStop.stdout, '');
  assert.match(noStop.stderr, /Error: the server of current Occlum instance has not been started\./);
  const s = runCli(['start'], { cwd: dir });
  assert.equal(s.status, 0, s.stderr);
  assert.equal(s.stdout, 'server is running.\n');
  try {
    assert.equal(runCli(['status'], { cwd: dir }).stdout, 'serving\n');
    const e = runCli(['exec', '/bin/hello', 'exit=2'], { cwd: dir });
    assert.equal(e.status, 1, 'occlum exec exits 1 on any failure');
    assert.match(e.stderr, /^Error: 512$/m);
    assert.equal(runCli(['exec', '--exit-status', '/bin/hello', 'exit=2'], { cwd: dir }).status, 2);
    const denied = runCli(['exec', '/lib/libc.so'], { cwd: dir });
    assert.equal(denied.status, 1, 'occlum exec: 1 for a launch failure too');
    assert.match(denied.stderr, /program path is NOT a valid entry point/);
    assert.match(runCli(['exec', '/bin/writer'], { cwd: dir }).stdout, /has 1 line/);
    assert.match(runCli(['exec', '/bin/writer'], { cwd: dir }).stdout, /has 2 line/);
  } finally {
    const stop = runCli(['stop'], { cwd: dir });
    assert.equal(stop.status, 0, stop.stderr);
    assert.equal(stop.stdout, 'server is stopping.\nserver stopped.\n');
  }
  const st = runCli(['status', '--json'], { cwd: dir });
  assert.deepEqual(JSON.parse(st.stdout).status, 'built');
});

test('unprivileged: as a normal user the sandbox runs in a user namespace', { skip: unprivilegedSkip() }, () => {
  const asNobody = asNobodyIn(makeInstance(['hello', 'forker', 'writer']));
  const b = asNobody('build');
  assert.equal(b.status, 0, b.stderr);
  const r = asNobody('run', '/bin/hello', 'exit=3');
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stdout, /Hello from \/bin\/hello/);
  assert.match(asNobody('run', '/bin/forker').stdout, /fork failed: Function not implemented/);
  assert.equal(asNobody('start').status, 0);
  try {
    assert.match(asNobody('exec', '/bin/writer').stdout, /has 1 line/);
    assert.match(asNobody('exec', '/bin/writer').stdout, /has 2 line/);
  } finally {
    assert.equal(asNobody('stop').status, 0);
  }
});
