// The run slice with real programs in real pseudo-terminals. The backend is replaced at its one
// seam, the launcher: `directLauncher` (a stand-in for the backend) runs the host program at the
// given path; the real host backend is exercised by test/e2e/run-pane.test.ts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStudioStore, openInstance, type StudioStore } from '../../src/store/index.ts';
import type { Launcher, LaunchRequest } from '../../src/store/run-slice.ts';
import { BackendError } from '../../src/core/backend/types.ts';
import { plainText } from '../../src/core/pty/screen.ts';
import { storeUntil } from '../helpers/store-until.ts';

const work = mkdtempSync(join(tmpdir(), 'run-slice-'));
const stores: StudioStore[] = [];
after(() => {
  stores.forEach((s) => s.getState().runDisposeAll());
  rmSync(work, { recursive: true, force: true });
});

const requests: LaunchRequest[] = [];
const directLauncher: Launcher = async (req) => {
  requests.push(req);
  return { file: req.path, args: req.args, env: { PATH: '/usr/bin:/bin', ...req.env } };
};

async function studio(name: string, launcher: Launcher = directLauncher): Promise<StudioStore> {
  const dir = join(work, name);
  mkdirSync(join(dir, 'image', 'bin'), { recursive: true });
  writeFileSync(join(dir, 'Occlum.json'), '{"entry_points": ["/bin"]}\n');
  const store = createStudioStore({ launchDir: dir });
  stores.push(store);
  await openInstance(store, dir);
  store.getState().runSetLauncher(launcher);
  return store;
}

const screen = (store: StudioStore) => (store.getState().runSnapshot()?.lines ?? []).map(plainText).join('\n');
const tab = (store: StudioStore) => store.getState().run.tabs.find((t) => t.id === store.getState().run.active)!;

const until = (store: StudioStore, cond: () => boolean, what: string, ms = 10_000) =>
  storeUntil(
    store,
    cond,
    what,
    ms,
    () => `\n--- screen ---\n${screen(store)}\n--- tab ---\n${JSON.stringify(tab(store))}`,
  );

test('a run opens a tab, shows the program’s screen, takes input and ends with an explained status', async () => {
  const store = await studio('basic');
  store.getState().runResize({ cols: 50, rows: 6 });
  const id = await store
    .getState()
    .runStart('run', '/bin/sh', ['-c', 'printf "\\033[32mready\\033[0m\\n"; read x; echo "got $x"; exit 7']);
  assert.equal(id, tab(store).id);
  assert.ok(tab(store).title.startsWith("sh -c 'printf") && tab(store).title.endsWith('…'), tab(store).title);
  await until(store, () => screen(store).includes('ready'), 'ready');
  assert.ok(store.getState().runSnapshot()!.lines[0].includes('\x1b[32mready'));
  store.getState().runSetForwarding(true);
  assert.equal(store.getState().capture, 'terminal');
  store.getState().runWrite('abc\r');
  await until(store, () => tab(store).state === 'exited', 'exit');
  assert.match(screen(store), /got abc/);
  assert.equal(tab(store).exit?.status, 7);
  assert.equal(tab(store).exit?.summary, 'exited with status 7');
  // The program ended: the keys went back to the studio.
  assert.equal(store.getState().run.forwarding, false);
  assert.equal(store.getState().capture, false);
  // The launcher got the pane's size and the log level chosen in the Logs pane.
  assert.deepEqual(requests.at(-1)!.size, { cols: 50, rows: 6 });
});

test('a fork failure in the output gets its hint, even far back in the output and with status 0', async () => {
  const store = await studio('fork-hint');
  // A stand-in for a shell in the sandbox whose fork() failed (the CLI test runs the real one).
  await store
    .getState()
    .runStart('run', '/bin/sh', ['-c', 'echo "sh: fork: Function not implemented" >&2; seq 1 3000; exit 0']);
  await until(store, () => tab(store).state === 'exited', 'exit');
  assert.equal(tab(store).exit?.status, 0);
  assert.deepEqual(
    tab(store).hints.map((h) => h.message),
    ['the program called fork(), which Occlum does not have'],
  );
  await store.getState().runStart('run', '/bin/sh', ['-c', 'seq 1 10'], tab(store).id);
  await until(store, () => tab(store).state === 'exited', 'rerun exit');
  assert.deepEqual(tab(store).hints, [], 'a rerun starts with no hints');
});

test('several tabs, focus cycling, resize reaching every program, rerun in place, close', async () => {
  const store = await studio('tabs');
  store.getState().runResize({ cols: 40, rows: 5 });
  const a = await store.getState().runStart('run', '/bin/sh', ['-c', 'stty size; read x; stty size; read y']);
  const b = await store.getState().runStart('exec', '/bin/sh', ['-c', 'echo second; read x']);
  assert.equal(store.getState().run.active, b);
  store.getState().runFocusTab(1);
  assert.equal(store.getState().run.active, a);
  await until(store, () => screen(store).includes('5 40'), 'first size');
  store.getState().runResize({ cols: 60, rows: 9 });
  store.getState().runWrite('\r');
  await until(store, () => screen(store).includes('9 60'), 'new size seen by the program');
  store.getState().runWrite('\r');
  await until(store, () => tab(store).state === 'exited', 'first ends');

  store.getState().runFocusTabId(b!);
  await until(store, () => screen(store).includes('second'), 'second');
  // Rerun kills the running program and starts it again in the same tab.
  await store.getState().runRerun();
  assert.equal(store.getState().run.tabs.length, 2);
  assert.equal(tab(store).id, b);
  assert.equal(tab(store).state, 'running');
  await until(store, () => screen(store).includes('second'), 'second again');
  store.getState().runCloseTab();
  assert.deepEqual(
    store.getState().run.tabs.map((t) => t.id),
    [a],
  );
  assert.equal(store.getState().run.active, a);
});

test('kill sends SIGTERM, then SIGKILL; the banner names the signal', async () => {
  const store = await studio('kill');
  await store.getState().runStart('run', '/bin/sh', ['-c', 'trap "" TERM; echo armed; while :; do sleep 1; done']);
  await until(store, () => screen(store).includes('armed'), 'armed');
  store.getState().runKill();
  assert.equal(tab(store).signalSent, 'SIGTERM');
  store.getState().runKill();
  await until(store, () => tab(store).state === 'exited', 'killed');
  assert.equal(tab(store).exit?.status, 137);
  assert.equal(tab(store).exit?.signal?.name, 'SIGKILL');
});

test('a launch the backend refuses shows its message and Occlum’s lines, and the status meaning', async () => {
  const refusing: Launcher = async (req) => {
    throw new BackendError(`${req.path}: not an entry point (Occlum.json entry_points: /bin)`, 127, [
      '[ERROR] occlum-pal: The given path is not an entry point',
    ]);
  };
  const store = await studio('refused', refusing);
  await store.getState().runStart('run', '/etc/passwd', []);
  const t = tab(store);
  assert.equal(t.state, 'refused');
  assert.deepEqual(t.error, [
    '/etc/passwd: not an entry point (Occlum.json entry_points: /bin)',
    '[ERROR] occlum-pal: The given path is not an entry point',
  ]);
  assert.equal(t.exit?.summary, 'could not launch (127)');
  assert.equal(store.getState().runSnapshot(), null);
  // Forwarding needs a running program.
  store.getState().runSetForwarding(true);
  assert.equal(store.getState().run.forwarding, false);
});

test('a launch refused with status 1 says nothing ran, not that the program exited with 1', async () => {
  const refusing: Launcher = async () => {
    throw new BackendError('the instance is not built yet (host backend): build it first', 1, [
      'Error: the Occlum image and enclave are not built yet. Need to run "occlum build" first.',
    ]);
  };
  const store = await studio('refused-1', refusing);
  await store.getState().runStart('run', '/bin/hello', []);
  const t = tab(store);
  assert.equal(t.state, 'refused');
  assert.equal(t.exit?.status, 1);
  assert.match(t.exit!.detail, /^Nothing ran: the launch was refused before the program started/);
  assert.doesNotMatch(t.exit!.detail, /exited with status 1/);
});

test('exec: a failure’s `Error: <status>` line is decoded in the banner', async () => {
  const store = await studio('exec');
  await store.getState().runStart('exec', '/bin/sh', ['-c', 'echo "Error: 256" >&2; exit 1']);
  await until(store, () => tab(store).state === 'exited', 'exit');
  assert.equal(tab(store).exit?.status, 1);
  assert.match(tab(store).exit!.detail, /exits 1 for every failure/);
  assert.equal(tab(store).exitNote, 'Error: 256 — the program exited with status 1');
});

test('the picker line is parsed, checked, remembered and persisted; history loads on open', async () => {
  const store = await studio('picker');
  const dir = store.getState().instanceDir!;
  writeFileSync(join(dir, 'image', 'bin', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  store.getState().runOpenPicker('run');
  assert.deepEqual(store.getState().run.picker?.candidates, ['/bin/tool']);
  assert.equal(store.getState().capture, true);
  assert.match((await store.getState().runStartLine('run', 'tool --x'))!, /not an absolute path.*\/bin\/tool/);
  assert.match((await store.getState().runStartLine('run', "/bin/echo 'unclosed"))!, /unterminated ' quote/);
  assert.equal(await store.getState().runStartLine('run', '/bin/echo "hello world" 2'), null);
  assert.equal(store.getState().run.picker, null);
  assert.equal(store.getState().capture, false);
  await until(store, () => tab(store).state === 'exited', 'echo ends');
  assert.match(screen(store), /hello world 2/);
  const saved = JSON.parse(readFileSync(join(dir, '.occlum-studio', 'history.json'), 'utf8'));
  assert.deepEqual(saved.entries[0], { kind: 'run', path: '/bin/echo', args: ['hello world', '2'] });

  const again = createStudioStore({ launchDir: dir });
  stores.push(again);
  await openInstance(again, dir);
  assert.deepEqual(again.getState().run.history[0], saved.entries[0]);
});

test('the program’s terminal output reaches the Logs pane, Occlum log lines parsed', async () => {
  const store = await studio('logs');
  await store
    .getState()
    .runStart('run', '/bin/sh', [
      '-c',
      'echo plain output; echo "[2026-11-27T07:00:00.000Z][ERROR][T1][#1][·open] Error = ENOENT (#2, No such file or directory)" >&2',
    ]);
  await until(store, () => tab(store).state === 'exited', 'exit');
  store.getState().logsSync();
  const buf = store.getState().logsBuffer();
  const recs = buf.slice(0, buf.length);
  assert.ok(
    recs.some((r) => r.message.includes('plain output')),
    JSON.stringify(recs),
  );
  assert.ok(
    recs.some((r) => r.level === 'error'),
    JSON.stringify(recs),
  );
});

test('scrolling back through the history and returning to the live screen', async () => {
  const store = await studio('scroll');
  store.getState().runResize({ cols: 20, rows: 4 });
  await store.getState().runStart('run', '/bin/sh', ['-c', 'seq 1 100']);
  await until(store, () => tab(store).state === 'exited', 'exit');
  // The live screen shows 98–100 and the empty line after them.
  store.getState().runScroll(10);
  assert.equal(tab(store).offset, 10);
  assert.deepEqual(store.getState().runSnapshot()!.lines.map(plainText), ['88', '89', '90', '91']);
  store.getState().runScroll('top');
  assert.equal(plainText(store.getState().runSnapshot()!.lines[0]), '1');
  store.getState().runScroll('bottom');
  assert.equal(tab(store).offset, 0);
});

test('a launch that completes after its tab was closed, or after a newer rerun, spawns nothing', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let launches = 0;
  const slow: Launcher = async (req) => {
    launches++;
    await gate;
    return { file: req.path, args: req.args, env: { PATH: '/usr/bin:/bin' } };
  };
  const store = await studio('slow', slow);
  const pending = store.getState().runStart('run', '/bin/sh', ['-c', 'echo never']);
  assert.equal(tab(store).state, 'starting');
  store.getState().runCloseTab();
  release();
  assert.equal(await pending, null);
  assert.equal(store.getState().run.tabs.length, 0);
  assert.equal(launches, 1);
  assert.equal(store.getState().runSnapshot(), null);
});
