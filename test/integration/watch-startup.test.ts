// The dev loop's start on the host backend: the first build of a new session updates the last
// good build in place from image/'s difference with that build's manifest (the result equals
// image/, checked with `occlum-studio fs diff`), the first build runs while the watches are set
// up without losing a change made meanwhile, and `watch` reports the start's progress.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { changesSinceBuild } from '../../src/core/backend/host/in-place.ts';
import { instancePaths } from '../../src/core/instance/layout.ts';
import { WatchScope } from '../../src/core/watch/scope.ts';
import { Watcher } from '../../src/core/watch/watcher.ts';
import type { ChangeSet } from '../../src/core/watch/types.ts';
import { ensureBuilt, runCli } from '../helpers/cli.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { CLI } from '../helpers/paths.ts';
import { watchJson } from '../helpers/watch-json.ts';
import { waitFor } from '../helpers/wait.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(dirname(d), { recursive: true, force: true });
});

/** `watch --json --run /bin/hello`: its events and stderr. */
const firstSession = (dir: string, extra?: (events: Record<string, unknown>[]) => void) =>
  watchJson([dir, '--json', '--run', '/bin/hello', 'one'], extra);

test('a new session: the first build updates the last build in place, and the image equals image/', async () => {
  const dir = makeInstance(['hello']);
  dirs.push(dir);
  const first = await new HostBackend(dir).build();
  assert.ok(first.ok, first.errors.join('\n'));
  const p = instancePaths(dir);
  assert.deepEqual(await changesSinceBuild(p), [], 'nothing changed since the build');

  // Between sessions: a new file in a new directory, an edit, a chmod, a removal, a link, a
  // directory's mode.
  mkdirSync(join(dir, 'image', 'data'));
  writeFileSync(join(dir, 'image', 'data', 'new.txt'), 'new\n');
  writeFileSync(join(dir, 'image', 'etc', 'hostname'), 'edited\n');
  writeFileSync(join(dir, 'image', 'etc', 'motd'), 'hi\n');
  chmodSync(join(dir, 'image', 'etc', 'motd'), 0o600);
  rmSync(join(dir, 'image', 'etc', 'hosts'), { force: true });
  symlinkSync('motd', join(dir, 'image', 'etc', 'motd.link'));
  chmodSync(join(dir, 'image', 'etc'), 0o750);
  const changed = (await changesSinceBuild(p))!.sort();
  assert.ok(changed.includes('data') && changed.includes('data/new.txt'), changed.join(' '));
  assert.ok(changed.includes('etc') && changed.includes('etc/motd.link'), changed.join(' '));
  assert.ok(changed.includes('etc/hostname') && changed.includes('etc/motd'), changed.join(' '));
  assert.equal(await changesSinceBuild(p, undefined, 2), null, 'more than max: a staged build');

  const s = await firstSession(dir);
  const of = (name: string) => s.events.filter((e) => e.event === name);
  try {
    await waitFor(() => of('run-exit').length >= 1, `the first run (stderr: ${s.stderr()})`);
    const out = of('build-output').map((e) => e.text as string);
    assert.ok(out.includes('Updating the build in place'), out.join('\n'));
    assert.ok(out.includes(`${changed.length} paths changed since the last build`), out.join('\n'));
    assert.equal(of('build-end')[0]!.outcome, 'ok');
    assert.equal(of('run-exit')[0]!.status, 0);
    // The start said what it did: the scan, the watches (each step's end).
    const ends = of('progress').filter((e) => e.end);
    assert.ok(
      ends.some((e) => e.stage === 'scan' && /^scanned \d+ watched paths$/.test(e.text)),
      JSON.stringify(ends),
    );
    assert.ok(
      ends.some((e) => e.stage === 'watch' && /^watching \d+ directories$/.test(e.text)),
      JSON.stringify(ends),
    );
  } finally {
    s.child.kill('SIGINT');
  }
  assert.equal(await s.exited, 0, s.stderr());
  const diff = runCli(['fs', 'diff', '-C', dir]);
  assert.equal(diff.status, 0, `fs diff:\n${diff.stdout}${diff.stderr}`);
  assert.match(diff.stdout, /^image matches /);
  const verify = runCli(['fs', 'verify', '-C', dir]);
  assert.equal(verify.status, 0, `fs verify:\n${verify.stdout}${verify.stderr}`);
  // The run's layer too (contents and links; fs diff compared the secure image).
  const layer = spawnSync('diff', ['-r', '--no-dereference', join(dir, 'image'), instancePaths(dir).hostRootfs], {
    encoding: 'utf8',
  });
  assert.equal(layer.status, 0, layer.stdout + layer.stderr);

  // Unchanged since: the next session's first build changes nothing and still runs.
  const again = await firstSession(dir);
  const of2 = (name: string) => again.events.filter((e) => e.event === name);
  try {
    await waitFor(() => of2('run-exit').length >= 1, `the second session's run (stderr: ${again.stderr()})`);
    const out = of2('build-output').map((e) => e.text as string);
    assert.ok(out.includes('0 paths changed since the last build'), out.join('\n'));
    assert.ok(out.includes('Updating the build in place'), out.join('\n'));
    assert.equal(of2('build-end')[0]!.outcome, 'ok');
    assert.equal(of2('run-exit')[0]!.status, 0);
  } finally {
    again.child.kill('SIGINT');
  }
  assert.equal(await again.exited, 0, again.stderr());
});

test('a change made while the watches are set up is reported (the view is taken first)', async () => {
  const dir = makeInstance(['hello']);
  dirs.push(dir);
  const w = new Watcher({ scope: new WatchScope(dir, []), debounceMs: 50 });
  const sets: ChangeSet[] = [];
  w.on('changes', (set) => sets.push(set));
  try {
    await w.startView();
    // No watch is in place yet: nothing but the reconcile after the watches can see these.
    writeFileSync(join(dir, 'image', 'etc', 'motd'), 'written before the watches\n');
    mkdirSync(join(dir, 'image', 'later'));
    writeFileSync(join(dir, 'image', 'later', 'f'), 'x\n');
    const watching = w.startEvents();
    writeFileSync(join(dir, 'image', 'etc', 'hostname'), 'written while they are set up\n');
    await watching;
    const paths = () => new Set(sets.flatMap((s) => s.entries.map((e) => e.rel)));
    await waitFor(
      () => ['image/etc/motd', 'image/later', 'image/later/f', 'image/etc/hostname'].every((x) => paths().has(x)),
      `every change reported (got ${[...paths()].join(', ')})`,
      10_000,
    );
    // And the watches work from then on.
    writeFileSync(join(dir, 'image', 'later', 'g'), 'y\n');
    await waitFor(() => paths().has('image/later/g'), 'a change after the start', 10_000);
  } finally {
    await w.close();
  }
});

test('watch without --json says what the start does', async () => {
  const dir = makeInstance(['hello']);
  dirs.push(dir);
  ensureBuilt();
  const child = spawn(process.execPath, [CLI, 'watch', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number>((r) => child.on('exit', (code) => r(code ?? -1)));
  try {
    await waitFor(() => /\[build #1\] ok/.test(stderr), `the first build (stderr: ${stderr})`);
    assert.match(stderr, /^\[watch\] scanned \d+ watched paths$/m);
    await waitFor(() => /^\[watch\] watching \d+ directories$/m.test(stderr), `the watches (stderr: ${stderr})`);
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0, stderr);
});
