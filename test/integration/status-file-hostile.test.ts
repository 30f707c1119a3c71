// A .__occlum_status that is there but unusable (a FIFO, a link to /dev/zero, a huge file) is
// said to be so, promptly: "not an Occlum instance (no .__occlum_status)" would send the user to
// `init`, which would overwrite an instance that is there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { newInstance } from '../../src/core/instance/init.ts';

test('status and build name an unreadable .__occlum_status instead of calling the directory no instance', () => {
  const d = mkdtempSync(join(tmpdir(), 'status-hostile-'));
  try {
    const cases: [string, (f: string) => void, RegExp][] = [
      ['fifo', (f) => assert.equal(spawnSync('mkfifo', [f]).status, 0), /is a FIFO \(named pipe\), not a regular file/],
      ['link', (f) => symlinkSync('/dev/zero', f), /is a symbolic link/],
      ['huge', (f) => truncateSync(f, 3 * 2 ** 30), /is 3221225472 bytes, more than the 1048576 it may hold/],
    ];
    for (const [name, make, why] of cases) {
      const inst = join(d, name);
      newInstance(inst);
      const f = join(inst, '.__occlum_status');
      unlinkSync(f);
      if (name === 'huge') spawnSync('touch', [f]);
      make(f);
      const s = runCli(['status', '-C', inst], { timeout: 20_000 });
      assert.equal(s.status, 2, `${name}: ${s.stderr}`);
      assert.match(s.stderr, /its \.__occlum_status cannot be read/);
      assert.match(s.stderr, why);
      assert.match(s.stderr, /holding the word "initialized" \(or run init\)/);
      assert.doesNotMatch(s.stderr, /no \.__occlum_status/);
      const b = runCli(['build', '-C', inst, '--backend', 'host'], { timeout: 20_000 });
      assert.equal(b.status, 1, `${name}: ${b.stderr}`);
      assert.match(b.stderr, /its \.__occlum_status cannot be read/);
    }
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('an instance Occlum built, seen by the host backend: "initialized" comes with why', () => {
  const d = mkdtempSync(join(tmpdir(), 'status-occlum-built-'));
  try {
    const inst = join(d, 'inst');
    newInstance(inst);
    writeFileSync(join(inst, '.__occlum_status'), 'built\n');
    mkdirSync(join(inst, 'run/mount/__ROOT'), { recursive: true });
    const s = runCli(['status', '-C', inst, '--backend', 'host']);
    assert.equal(s.status, 0, s.stderr);
    assert.equal(s.stdout, 'initialized\n');
    assert.match(s.stderr, /\.__occlum_status says "built": Occlum built this instance; the host backend has not/);
    // Freshly initialised: nothing to explain.
    const fresh = join(d, 'fresh');
    newInstance(fresh);
    assert.doesNotMatch(runCli(['status', '-C', fresh, '--backend', 'host']).stderr, /Occlum built/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
