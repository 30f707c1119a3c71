// The host backend's run layer (run/host/upper) holds what programs wrote, as plain host files:
// links and FIFOs a program made are input. `fs cat|ls|stat --layer run|merged` and the Files
// pane read it; before the fix they followed a program's links on the host (a link to a file of
// the studio's user showed that file; a link to a directory, with a trailing slash or as an
// ancestor, listed and read the host directory) and blocked on a FIFO or read /dev/zero without
// end. In the program's own view (Occlum's too) those links resolve inside the image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { hasMuslGcc } from '../helpers/fixtures.ts';
import { makeInstance } from '../helpers/host-instance.ts';

test('fs on the run layer does not follow a program’s links on the host, nor block on its FIFOs', (t) => {
  if (!hasMuslGcc()) return t.skip('musl-gcc is not installed');
  const dir = makeInstance(['writer']);
  const ws = dirname(dir);
  try {
    const secretDir = join(ws, 'private');
    mkdirSync(secretDir, { mode: 0o700 });
    writeFileSync(join(secretDir, 'secret'), 'HOST-SECRET\n', { mode: 0o600 });
    assert.equal(runCli(['build'], { cwd: dir }).status, 0);
    for (const [target, link] of [
      [join(secretDir, 'secret'), '/root/link'],
      [secretDir, '/root/dirlink'],
      ['/dev/zero', '/root/zero'],
    ]) {
      const r = runCli(['run', '/bin/writer', 'symlink', target!, link!], { cwd: dir });
      assert.match(r.stdout, /: ok/, r.stderr);
    }
    // A program may make a FIFO in its file system (mkfifo works in the sandbox and in Occlum).
    assert.equal(spawnSync('mkfifo', [join(dir, 'run/host/upper/root/fifo')]).status, 0);

    const fs = (...args: string[]) => {
      const r = runCli(['fs', ...args, '--layer', 'run'], { cwd: dir, timeout: 30_000 });
      assert.notEqual(r.status, -1, `fs ${args.join(' ')} blocked (killed after 30 s)`);
      assert.doesNotMatch(r.stdout + r.stderr, /HOST-SECRET/, `fs ${args.join(' ')}`);
      return r;
    };
    const link = fs('cat', '/root/link');
    assert.equal(link.status, 2, 'as for a directory of the image');
    assert.match(link.stderr, /\/root\/link: a symlink .*not a file/);
    assert.equal(fs('cat', '/root/dirlink/secret').status, 2);
    assert.equal(fs('stat', '/root/dirlink/secret').status, 2);
    const ls = fs('ls', '/root/dirlink/');
    assert.doesNotMatch(ls.stdout, /secret/, 'the host directory is not listed');
    const fifo = fs('cat', '/root/fifo');
    assert.equal(fifo.status, 2);
    assert.match(fifo.stderr, /FIFO|not a file/);
    const zero = fs('cat', '/root/zero');
    assert.equal(zero.status, 2);
    assert.equal(zero.stdout, '');
    // What the program wrote as plain files still reads.
    assert.match(runCli(['run', '/bin/writer', 'write', '/root/plain'], { cwd: dir }).stdout, /ok/);
    assert.equal(fs('cat', '/root/plain').stdout, 'x\n');
    assert.match(fs('ls', '/root').stdout, /link -> .*secret/);
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
});
