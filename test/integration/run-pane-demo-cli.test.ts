// `occlum-studio demo` through the built CLI without a terminal: it creates, compiles, builds,
// then says how to run the program (the TUI part is in test/e2e/run-pane.test.ts).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'demo-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('demo without a terminal builds the instance and prints how to run it; the program runs', () => {
  const dir = join(work, 'demo');
  const r = runCli(['demo', dir]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Created an Occlum instance in .*demo/);
  assert.match(r.stdout, /Compiled src\/hello.c into \/bin\/hello with musl-gcc -fPIE -pie/);
  assert.match(r.stdout, /each save recompiles, rebuilds and reruns it/);
  assert.match(r.stdout, /Built the image with the host backend/);
  assert.match(r.stdout, new RegExp(`occlum-studio run -C ${dir} /bin/hello`));
  const run = runCli(['run', '-C', dir, '/bin/hello', 'x'], { input: 'Ann\n' });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /Hello from inside Occlum's image!/);
  assert.match(run.stdout, /Nice to meet you, .*Ann/);
  const empty = runCli(['run', '-C', dir, '/bin/hello'], { input: '\n' });
  assert.equal(empty.status, 3);

  // The dev-loop settings it wrote are valid (check reads them) and name its source.
  const settings = readFileSync(join(dir, '.occlum-studio.json'), 'utf8');
  assert.match(settings, /"prebuild": "musl-gcc -O2 -fPIE -pie -o image\/bin\/hello src\/hello.c"/);
  assert.equal(runCli(['check', dir]).status, 0);

  // Again on the same directory: reuses and rebuilds it, keeping the user's edited source.
  writeFileSync(
    join(dir, 'src', 'hello.c'),
    readFileSync(join(dir, 'src', 'hello.c'), 'utf8').replace('Hello from', 'Hi from'),
  );
  const again = runCli(['demo', dir, '--json']);
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(
    { ...JSON.parse(again.stdout), build: undefined },
    { ok: true, dir, created: false, entry: '/bin/hello', build: undefined },
  );
  assert.match(runCli(['run', '-C', dir, '/bin/hello'], { input: 'x\n' }).stdout, /Hi from inside/);
});

test('demo refuses a directory that holds something else', () => {
  const dir = join(work, 'busy');
  mkdirSync(dir);
  writeFileSync(join(dir, 'notes.txt'), 'mine');
  const r = runCli(['demo', dir]);
  assert.equal(r.status, 2, 'an input the demo needs is missing or wrong (README "Exit status")');
  assert.match(r.stderr, /exists and is not an Occlum instance; give a new or empty directory/);
  assert.equal(runCli(['demo', 'a', 'b']).status, 2);
});

test('demo without musl-gcc explains how to install it and creates nothing', () => {
  const dir = join(work, 'no-musl');
  const r = runCli(['demo', dir], { env: { PATH: join(work, 'empty-path') } });
  assert.equal(r.status, 2, 'an input the demo needs is missing or wrong (README "Exit status")');
  assert.match(r.stderr, /musl-gcc not found/);
  assert.match(r.stderr, /apt-get install musl-tools/);
  assert.equal(existsSync(dir), false);
});
