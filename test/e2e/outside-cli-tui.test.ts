// A user keeps the studio open and types Occlum's commands in another terminal: `occlum build`,
// `occlum start`, `occlum stop` (on the host backend the studio's CLI, which answers as Occlum
// would; with an install, Occlum's own script over the SGX stand-ins). The studio follows: the
// status bar says what the instance is now, and a first build made outside starts the dev loop,
// which then rebuilds on a save as after a build made in the studio.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { compileHello, OCCLUM_SKIP, occlumEnv, occlumInstall } from '../helpers/occlum.ts';
import { OcclumBackend } from '../../src/core/backend/occlum/index.ts';
import { startTui, type Tui } from '../helpers/tui.ts';

const dirs: string[] = [];
const running: Tui[] = [];

after(() => {
  running.forEach((t) => t.kill());
  for (const d of dirs) {
    runCli(['stop'], { cwd: d });
    rmSync(dirname(d), { recursive: true, force: true });
  }
});

const statusWord = (tui: Tui) =>
  tui
    .screen()
    .split('\n')
    .at(-1)!
    .match(/│ Occlum [^│]+│ (\S+)/)?.[1];

async function statusBecomes(tui: Tui, word: string): Promise<void> {
  await tui.waitFor(new RegExp(`│ Occlum [^│]+│ ${word} `));
  assert.equal(statusWord(tui), word);
}

/** A never-built instance open in the studio, on the Build pane. */
async function openUnbuilt(): Promise<{ dir: string; tui: Tui }> {
  const dir = makeInstance(['hello']);
  dirs.push(dir);
  const tui = startTui([dir], { cwd: dir });
  running.push(tui);
  await statusBecomes(tui, 'initialized');
  tui.type('2');
  await tui.waitFor('not built yet: press b to build');
  return { dir, tui };
}

test('a build, start and stop made in another terminal show in the status bar; the dev loop starts', async () => {
  const { dir, tui } = await openUnbuilt();
  await tui.waitFor(/Build {2}not watching/);

  const built = runCli(['build'], { cwd: dir });
  assert.equal(built.status, 0, built.stderr);
  await statusBecomes(tui, 'built');
  await tui.waitFor(/Build {2}watching/);
  await tui.waitForGone('not built yet');
  await tui.waitFor('No builds in this session');

  // The loop started by that outside build rebuilds on a save, and the rebuilt image runs.
  writeFileSync(join(dir, 'image', 'bin', 'note.txt'), 'saved after an outside build\n');
  await tui.waitFor(/#1 +ok/, 30_000);
  const run = runCli(['run', '/bin/hello'], { cwd: dir });
  assert.equal(run.status, 0, run.stderr);

  const started = runCli(['start'], { cwd: dir });
  assert.equal(started.status, 0, started.stderr);
  await statusBecomes(tui, 'serving');
  const stopped = runCli(['stop'], { cwd: dir });
  assert.equal(stopped.status, 0, stopped.stderr);
  await statusBecomes(tui, 'built');
  tui.type('q');
  assert.equal(await tui.exited, 0);
});

test('a build made in the studio itself turns the status bar from initialized to built', async () => {
  const { tui } = await openUnbuilt();
  tui.type('b');
  await tui.waitFor(/#1 +ok/, 30_000);
  await statusBecomes(tui, 'built');
  tui.type('q');
  assert.equal(await tui.exited, 0);
});

test('the Files pane shows what a build made in another terminal put in the image', async () => {
  const dir = makeInstance(['hello']);
  dirs.push(dir);
  const first = runCli(['build'], { cwd: dir });
  assert.equal(first.status, 0, first.stderr);
  const tui = startTui([dir], { cwd: dir });
  running.push(tui);
  await statusBecomes(tui, 'built');
  tui.type('4');
  await tui.waitFor('Files · layer');
  await tui.waitFor(/\bbin\b/);
  assert.doesNotMatch(tui.screen(), /added-outside\.txt/);
  writeFileSync(join(dir, 'image', 'added-outside.txt'), 'from another terminal\n');
  const again = runCli(['build'], { cwd: dir });
  assert.equal(again.status, 0, again.stderr);
  await tui.waitFor('added-outside.txt');
  tui.type('q');
  assert.equal(await tui.exited, 0);
});

test('with an Occlum install: `occlum build` in another terminal starts the loop', { skip: OCCLUM_SKIP }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'occlum-outside-'));
  const dir = join(tmp, 'inst');
  const env = occlumEnv();
  const install = occlumInstall(env);
  await new OcclumBackend(dir, {}, { install, env }).newInstance(dir);
  compileHello(dir);
  const tui = startTui([dir], { cwd: dir, env: env as Record<string, string> });
  running.push(tui);
  try {
    await tui.waitFor(/inst │ occlum/);
    await statusBecomes(tui, 'initialized');
    tui.type('2');
    await tui.waitFor('not built yet: press b to build');
    // Occlum's own script, as typed in another terminal.
    const built = spawnSync(install.bin, ['build', '--sgx-mode', 'SIM'], { cwd: dir, env, encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    await statusBecomes(tui, 'built');
    await tui.waitFor(/Build {2}watching/);
    tui.type('q');
    assert.equal(await tui.exited, 0);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
