// `fs ls|cat|stat|tree --layer run|merged` on a host-backend instance: what its sandboxed
// programs wrote (run/host/upper over the packed image), through the built CLI, as the Files pane
// shows it (both use the host backend's view, src/core/backend/host/fs-view.ts).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { makeInstance } from '../helpers/host-instance.ts';

const cleanup: string[] = [];
after(() => cleanup.forEach((d) => rmSync(d, { recursive: true, force: true })));

const fs = (dir: string, ...args: string[]) => runCli(['fs', ...args, '-C', dir]);

test('fs --layer run|merged shows what a program in the host sandbox wrote, copied up and deleted', () => {
  const dir = makeInstance(['writer', 'hello']);
  cleanup.push(dirname(dir));
  // A file of the image to copy up (not /etc/hosts: each boot writes the host's, as Occlum does).
  writeFileSync(join(dir, 'image', 'etc', 'app.conf'), '127.0.0.1   localhost\n');
  const b = runCli(['build', '--backend', 'host', '-C', dir]);
  assert.equal(b.status, 0, b.stderr);

  // Built, not run: the run layer is empty; a missing path is an input error (exit 2).
  const none = fs(dir, 'cat', '--layer', 'run', '/root/counter.txt');
  assert.equal(none.status, 2, none.stderr);
  assert.match(none.stderr, /\/root\/counter\.txt: no such file or directory/);
  assert.deepEqual(JSON.parse(fs(dir, 'ls', '--layer', 'run', '--json').stdout), []);

  const run = (...args: string[]) => runCli(['run', '--backend', 'host', '-C', dir, '/bin/writer', ...args]);
  assert.equal(run().status, 0); // appends "run" to /root/counter.txt
  assert.equal(run('write', '/etc/app.conf').status, 0); // copies the image's file up
  assert.equal(run('unlink', '/bin/hello').status, 0); // a whiteout

  for (const layer of ['run', 'merged']) {
    const cat = fs(dir, 'cat', '--layer', layer, '/root/counter.txt');
    assert.equal(cat.status, 0, `${layer}: ${cat.stderr}`);
    assert.equal(cat.stdout, 'run\n', layer);
    const hosts = fs(dir, 'cat', '--layer', layer, '/etc/app.conf');
    assert.equal(hosts.stdout, '127.0.0.1   localhost\nx\n', `${layer}: the copied-up file`);
    const st = fs(dir, 'stat', '--layer', layer, '/root/counter.txt', '--json');
    assert.equal(st.status, 0, st.stderr);
    assert.deepEqual([JSON.parse(st.stdout).layer, JSON.parse(st.stdout).size], ['run', 4]);
  }
  // The image itself is unchanged.
  assert.equal(fs(dir, 'cat', '/etc/app.conf').stdout, '127.0.0.1   localhost\n');
  assert.equal(fs(dir, 'cat', '--layer', 'image', '/root/counter.txt').status, 2);

  // Merged: the program's view (the deleted file is gone, image files stay).
  const bin = JSON.parse(fs(dir, 'ls', '--layer', 'merged', '/bin', '--json').stdout) as {
    name: string;
    layer: string;
  }[];
  assert.deepEqual(
    bin.map((e) => `${e.name}:${e.layer}`),
    ['writer:image'],
  );
  // Run: only what the programs wrote; an image-only file is refused, not shown.
  const top = JSON.parse(fs(dir, 'ls', '--layer', 'run', '/', '--json').stdout) as { name: string }[];
  const names = top.map((e) => e.name);
  assert.ok(names.includes('root') && names.includes('etc') && !names.includes('lib'), names.join(' '));
  const imageOnly = fs(dir, 'cat', '--layer', 'run', '/bin/writer');
  assert.equal(imageOnly.status, 2);
  assert.match(imageOnly.stderr, /\/bin\/writer: not in the run layer/);
  const tree = fs(dir, 'tree', '--layer', 'run');
  assert.match(tree.stdout, /counter\.txt {2}\(4\) {2}\[run\]/);
  assert.equal(
    readFileSync(join(dir, 'run/host/upper/root/counter.txt'), 'utf8'),
    'run\n',
    'the host file the view reads',
  );
});
