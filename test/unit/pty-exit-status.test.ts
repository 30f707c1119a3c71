// Exit statuses explained as Occlum defines them (specs/occlum-cli-config.md 1.3.1 and 4.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeExecError, explainExit, signalName } from '../../src/core/pty/exit-status.ts';

test('0 is success for every kind', () => {
  for (const kind of ['run', 'exec', 'process'] as const) {
    const e = explainExit(0, kind);
    assert.equal(e.ok, true);
    assert.match(e.summary, /exited normally/);
  }
});

test('run: 127 means Occlum could not launch the program, and says why it may be', () => {
  const e = explainExit(127, 'run');
  assert.equal(e.ok, false);
  assert.equal(e.summary, 'could not launch (127)');
  assert.match(e.detail, /entry point/);
  assert.match(e.detail, /absolute/);
  assert.match(e.detail, /position-independent ELF/);
});

test('run: 1 is a boot failure or the program’s own exit(1)', () => {
  const e = explainExit(1, 'run');
  assert.match(e.detail, /failed to boot/);
  assert.match(e.detail, /exited with status 1/);
});

test('128+n names signal n, with hints for the common ones', () => {
  const segv = explainExit(139, 'run');
  assert.equal(segv.summary, 'killed by SIGSEGV (11)');
  assert.deepEqual(segv.signal, { number: 11, name: 'SIGSEGV' });
  assert.match(explainExit(132, 'run').detail, /panic inside the enclave/);
  assert.equal(explainExit(143, 'process').signal?.name, 'SIGTERM');
  assert.equal(explainExit(137, 'exec').signal?.name, 'SIGKILL');
  assert.equal(signalName(34), 'SIGRTMIN');
  assert.equal(signalName(40), 'SIGRTMIN+6');
});

test('other run statuses are the program’s exit code folded to 7 bits', () => {
  const e = explainExit(72, 'run');
  assert.equal(e.summary, 'exited with status 72');
  assert.match(e.detail, /200/);
});

test('exec: 1 covers every failure and points at the Error: line', () => {
  const e = explainExit(1, 'exec');
  assert.equal(e.ok, false);
  assert.match(e.detail, /Error: <status>/);
});

test('decodeExecError reads the raw wait status of `occlum exec`', () => {
  assert.deepEqual(decodeExecError('hello\nError: 256\n'), {
    raw: 256,
    exitCode: 1,
    text: 'the program exited with status 1',
  });
  assert.equal(decodeExecError('Error: 9')?.signal, 9);
  assert.match(decodeExecError('Error: 9')!.text, /SIGKILL/);
  assert.match(decodeExecError('Error: -1')!.text, /server/);
  assert.equal(decodeExecError('all good\n'), null);
});

test('nonsense statuses do not throw', () => {
  assert.equal(explainExit(-1).ok, false);
  assert.equal(explainExit(1000).ok, false);
});

test('127 after the program ran is its own exit code (folded), unless the output shows a launch failure', () => {
  assert.equal(explainExit(127, 'run', 'Hello\n').summary, 'exited with status 127');
  assert.match(explainExit(127, 'run', '').detail, /ran and exited with 127 or 255/);
  const pal =
    '\x1b[31m[ERROR] occlum-pal: occlum_ecall_new_process returns ENOENT (line 165, file src/pal_api.c)\x1b[0m\n';
  assert.equal(explainExit(127, 'run', pal).summary, 'could not launch (127)');
  assert.equal(
    explainExit(127, 'run', 'bwrap: execvp /bin/x: No such file or directory\n').summary,
    'could not launch (127)',
  );
  assert.equal(explainExit(127, 'run').summary, 'could not launch (127)');
});
