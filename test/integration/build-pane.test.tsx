// The Build pane inside the real shell (App + keymap + store) on a real host-backend instance:
// the dev loop watches it with real chokidar and builds with the real host backend. Driven by
// keys through ink-testing-library: history rows, a failure cause with the jump to the Config
// pane, the auto-build toggle with a manual build, the auto-rerun of the Run pane's program.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { createStudioStore, openInstance, type StudioStore } from '../../src/store/index.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { waitFor } from '../helpers/wait.ts';
import { renderStudio } from '../helpers/render-studio.tsx';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups) await c();
});

async function setup(built = true) {
  const dir = makeInstance(['hello', 'sleeper']);
  if (built) {
    const r = await new HostBackend(dir).build();
    assert.ok(r.ok, r.errors.join('\n'));
  }
  const store = createStudioStore({ launchDir: dir });
  await openInstance(store, dir);
  const { ui, frame, press } = renderStudio(store, 30);
  cleanups.push(async () => {
    ui.unmount();
    await store.getState().buildStopWatching();
    rmSync(dirname(dir), { recursive: true, force: true });
  });
  const tick = () => new Promise((r) => setTimeout(r, 30));
  await press('2');
  return { dir, store, ui, press, frame, tick };
}

const builds = (store: StudioStore) => store.getState().build.history;
const done = (store: StudioStore, n: number) => () =>
  builds(store).length >= n && builds(store)[n - 1]!.outcome !== 'running' && store.getState().build.phase === 'idle';

test('a change rebuilds: history row with re-packed/reused and MAC, trigger files, output', async () => {
  const { dir, store, frame, press, tick } = await setup();
  await waitFor(() => store.getState().build.loop === 'watching', 'the loop to watch');
  await tick();
  assert.match(frame(), /Build\s+watching\s+auto-build: on \(a\)\s+auto-rerun: on \(r\)/);
  assert.match(frame(), /No builds in this session/);

  writeFileSync(join(dir, 'image', 'etc', 'motd'), 'hello\n');
  await waitFor(done(store, 1), 'build #1');
  await tick();
  const r = builds(store)[0]!;
  assert.equal(r.outcome, 'ok', JSON.stringify(r.cause));
  assert.equal(r.repacked, 1);
  assert.ok((r.reused ?? 0) >= 2);
  assert.match(r.imageMac ?? '', /^[0-9a-f]{2}(-[0-9a-f]{2}){15}$/);
  const f = frame();
  assert.match(f, /> #1\s+ok\s+\d+ ms\s+1\/\d+\s+[0-9a-f]{2}-[0-9a-f]{2}-[0-9a-f]{2}-[0-9a-f]{2}\s+\+image\/etc\/motd/);
  assert.match(f, /changed \(1\): \+image\/etc\/motd/);
  assert.match(f, /output of #1: lines 1–\d+ of \d+ \(following\)/);
  // The loop's first build compares image/ with the last build and updates it in place.
  assert.match(f, /1 path changed since the last build\nUpdating the build in place/);

  // Scroll the output to its start and back to following.
  await press('g');
  assert.equal(store.getState().build.outputTop, 0);
  await press('G');
  assert.equal(store.getState().build.outputTop, null);
});

test('a config error fails the build with its cause; enter opens the field in the Config pane', async () => {
  const { dir, store, frame, press, tick } = await setup();
  await waitFor(() => store.getState().build.loop === 'watching', 'the loop to watch');
  const cfgPath = join(dir, 'Occlum.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  cfg.resource_limits.user_space_size = '30XB';
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 4) + '\n');
  await waitFor(done(store, 1), 'build #1');
  await tick();
  const r = builds(store)[0]!;
  assert.equal(r.outcome, 'failed');
  assert.equal(r.cause?.stage, 'config');
  assert.deepEqual(r.cause?.configPath, ['resource_limits', 'user_space_size']);
  const f = frame();
  assert.match(f, /> #1\s+FAILED/);
  assert.match(f, /cause \(config\): Occlum\.json:\d+:\d+: /);
  assert.match(f, /field resource_limits\.user_space_size \(enter: open in Config\)/);
  await press('\r');
  assert.equal(store.getState().pane, 'config');
});

test('auto-build off holds changes until b; r toggles auto-rerun', async () => {
  const { dir, store, frame, press, tick } = await setup();
  await waitFor(() => store.getState().build.loop === 'watching', 'the loop to watch');
  await press('a');
  assert.equal(store.getState().build.autoBuild, false);
  writeFileSync(join(dir, 'image', 'etc', 'one'), '1\n');
  await waitFor(() => store.getState().build.pending === 1, 'a held change');
  await tick();
  assert.match(frame(), /auto-build: off \(a\)/);
  assert.match(frame(), /1 changes waiting \(b builds\)/);
  assert.equal(builds(store).length, 0);
  await press('b');
  await waitFor(done(store, 1), 'the manual build');
  assert.equal(builds(store)[0]!.trigger, 'manual');
  assert.deepEqual(
    builds(store)[0]!.changes.map((c) => c.rel),
    [join('image', 'etc', 'one')],
  );
  await press('r');
  assert.equal(store.getState().build.autoRerun, false);
  assert.doesNotMatch(frame(), /keep run\//);
  await press('p');
  assert.equal(store.getState().build.keepRun, true);
  await tick();
  assert.match(frame(), /keep run\/: on \(p\)/);
});

test("a good build stops the Run pane's program and reruns it in its tab", async () => {
  const { dir, store } = await setup();
  await waitFor(() => store.getState().build.loop === 'watching', 'the loop to watch');
  const tabId = await store.getState().runStart('run', '/bin/sleeper', ['60']);
  assert.ok(tabId !== null);
  await waitFor(() => store.getState().run.tabs[0]?.state === 'running', 'the program to run');
  const firstStart = store.getState().run.tabs[0]!.startedAt;
  writeFileSync(join(dir, 'image', 'etc', 'two'), '2\n');
  await waitFor(done(store, 1), 'build #1');
  assert.equal(builds(store)[0]!.outcome, 'ok', JSON.stringify(builds(store)[0]!.cause));
  await waitFor(
    () =>
      (store.getState().run.tabs[0]?.startedAt ?? 0) > firstStart && store.getState().run.tabs[0]?.state === 'running',
    'the rerun',
  );
  assert.equal(store.getState().run.tabs.length, 1, 'rerun in the same tab');
  store.getState().runCloseTab();
});

test('an exec tab is rerun after a good build: the server the build stopped is started again', async () => {
  const { dir, store } = await setup();
  await waitFor(() => store.getState().build.loop === 'watching', 'the loop to watch');
  await store.getState().runServer('start');
  const tabId = await store.getState().runStart('exec', '/bin/sleeper', ['60']);
  assert.ok(tabId !== null);
  await waitFor(() => store.getState().run.tabs[0]?.state === 'running', 'the exec to run');
  const firstStart = store.getState().run.tabs[0]!.startedAt;
  writeFileSync(join(dir, 'image', 'etc', 'three'), '3\n');
  await waitFor(done(store, 1), 'build #1');
  assert.equal(builds(store)[0]!.outcome, 'ok', JSON.stringify(builds(store)[0]!.cause));
  await waitFor(
    () =>
      (store.getState().run.tabs[0]?.startedAt ?? 0) > firstStart && store.getState().run.tabs[0]?.state === 'running',
    'the exec to be rerun in the restarted server',
  );
  assert.equal(store.getState().run.tabs[0]!.kind, 'exec');
  store.getState().runCloseTab();
  await store.getState().runServer('stop');
});

test('an instance never built is not watched until the first build (b)', async () => {
  const { store, frame, press, tick } = await setup(false);
  await tick();
  assert.equal(store.getState().build.loop, 'off');
  assert.match(frame(), /not built yet: press b to build/);
  await press('b');
  await waitFor(done(store, 1), 'the first build');
  assert.equal(builds(store)[0]!.trigger, 'initial');
  assert.equal(builds(store)[0]!.outcome, 'ok', JSON.stringify(builds(store)[0]!.cause));
  assert.equal(store.getState().build.loop, 'watching');
});

test('b while the watcher is still starting builds once it is ready (not "the dev loop is not running")', async () => {
  const dir = makeInstance(['hello']);
  const r = await new HostBackend(dir).build();
  assert.ok(r.ok, r.errors.join('\n'));
  const store = createStudioStore({ launchDir: dir });
  cleanups.push(async () => {
    await store.getState().buildStopWatching();
    rmSync(dirname(dir), { recursive: true, force: true });
  });
  await openInstance(store, dir); // starts the loop without waiting for its first scan
  assert.equal(store.getState().build.loop, 'starting');
  store.getState().buildNow();
  assert.match(store.getState().flash?.text ?? '', /build follows once it is ready/);
  await waitFor(
    () => store.getState().build.history.some((h) => h.outcome === 'ok'),
    'the build asked for while starting',
  );
});

test('a stop while the loop is still starting wins: the loop that opens late is closed, nothing prepared', async () => {
  const dir = makeInstance(['hello']);
  cleanups.push(() => rmSync(dirname(dir), { recursive: true, force: true }));
  assert.ok((await new HostBackend(dir).build()).ok);
  const store = createStudioStore({ launchDir: dir, backend: 'host' });
  await openInstance(store, dir); // a built instance: the loop starts, not awaited
  const starting = store.getState().buildStartWatching();
  await store.getState().buildStopWatching(); // e.g. quitting right after opening
  await starting;
  assert.equal(store.getState().build.loop, 'off');
  assert.equal(store.getState().run.preparedPid, null, 'no sandbox prepared for a loop that was stopped');
  store.getState().runDisposeAll();
});
