// The run slice on the real host backend (no launcher injected): a built instance, programs in
// the bubblewrap sandbox under node-pty, runtime log records in the Logs pane, the exec server
// started and stopped from the pane, and Occlum's refusals shown in the tab.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { createStudioStore, openInstance, type StudioStore } from '../../src/store/index.ts';
import { plainText } from '../../src/core/pty/screen.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { storeUntil } from '../helpers/store-until.ts';

let dir = '';
let store: StudioStore;
before(async () => {
  dir = makeInstance(['reader', 'hello']);
  assert.ok((await new HostBackend(dir).build()).ok);
  store = createStudioStore({ launchDir: dir, backend: 'host' });
  await openInstance(store, dir);
  store.getState().runResize({ cols: 80, rows: 12 });
});
after(async () => {
  store?.getState().runDisposeAll();
  try {
    await new HostBackend(dir).stop(500);
  } catch {
    /* not running */
  }
  if (dir) rmSync(dirname(dir), { recursive: true, force: true });
});

const screen = () => (store.getState().runSnapshot()?.lines ?? []).map(plainText).join('\n');
const tab = () => store.getState().run.tabs.find((t) => t.id === store.getState().run.active)!;
const until = (cond: () => boolean, what: string, ms = 15_000) =>
  storeUntil(store, cond, what, ms, () => `\n--- screen ---\n${screen()}\n--- tab ---\n${JSON.stringify(tab())}`);

test('run: an interactive program in the sandbox, with the runtime’s log records in the Logs pane', async () => {
  store.getState().logsSetRunLevel('info');
  await store.getState().runStart('run', '/bin/reader', []);
  await until(() => screen().includes('name?'), 'prompt');
  store.getState().runWrite('Ann\r');
  await until(() => screen().includes('hello, Ann'), 'greeting');
  store.getState().runWrite('quit\r');
  await until(() => tab().state === 'exited', 'exit');
  assert.equal(tab().exit?.status, 0);
  store.getState().logsSync();
  const buf = store.getState().logsBuffer();
  const messages = buf.slice(0, buf.length).map((r) => r.message);
  assert.ok(
    messages.some((m) => /Process exited: elf = \/bin\/reader, status = 0/.test(m)),
    messages.join('\n'),
  );
});

test('run: a program outside the entry points is refused with Occlum’s reason and status 127', async () => {
  await store.getState().runStart('run', '/lib/libc.so', []);
  assert.equal(tab().state, 'refused');
  assert.equal(tab().exit?.status, 127);
  assert.match(tab().error!.join('\n'), /entry point/i);
});

test('exec: refused without a server; with the server started from the pane, programs run in it', async () => {
  await store.getState().runStart('exec', '/bin/hello', []);
  assert.equal(tab().state, 'refused');
  assert.match(tab().error!.join('\n'), /server of current Occlum instance has not been started/);

  await store.getState().runServer('start');
  assert.equal(store.getState().flash?.kind, 'info', store.getState().flash?.text);
  await store.getState().runStart('exec', '/bin/hello', ['one', 'exit=4']);
  await until(() => tab().state === 'exited', 'exec ends');
  assert.match(screen(), /arg: one/);
  assert.equal(tab().exit?.status, 4);
  assert.equal(tab().exit?.summary, 'exited with status 4');
  await store.getState().runServer('stop');
  assert.equal(store.getState().flash?.text, 'occlum stop: the server and every program in it ended');
});

test('rerun of a still-running program in the sandbox replaces it (the backend’s run lock is released first)', async () => {
  await store.getState().runStart('run', '/bin/reader', []);
  await until(() => screen().includes('name?'), 'prompt');
  const id = tab().id;
  await store.getState().runRerun();
  assert.equal(tab().id, id);
  assert.equal(tab().state, 'running', JSON.stringify(tab()));
  await until(() => screen().includes('name?'), 'prompt again');
  store.getState().runWrite('quit\r');
  await until(() => tab().state === 'exited', 'exit');
  assert.equal(tab().exit?.status, 0);
});
