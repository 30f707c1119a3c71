// The sizing flow through the store on the real host backend, as the panes drive it: a program
// fails in the Run pane at max_num_of_threads, the tab carries the "Out of TCS" hint, z in the
// Run pane sizes it, z in the Config pane applies the recommendation (undoable), and the Logs
// pane's z does the same from the runtime record's hint.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { createStudioStore, openInstance, type StudioStore } from '../../src/store/index.ts';
import { valueAt } from '../../src/core/config/outline.ts';
import { isSizingHint } from '../../src/core/sizing/fields.ts';
import { makeInstance, treeLimitsSkip } from '../helpers/host-instance.ts';
import { storeUntil } from '../helpers/store-until.ts';
import { sizeProgram } from '../../views/panes/run/bindings.ts';
import { sizeFromHint } from '../../views/panes/logs/bindings.ts';
import { configBindings } from '../../views/panes/config/bindings.ts';

const skip = treeLimitsSkip();

let dir = '';
let store: StudioStore;
before(async () => {
  if (skip) return;
  dir = makeInstance(['threads']);
  assert.ok((await new HostBackend(dir).build()).ok);
  store = createStudioStore({ launchDir: dir, backend: 'host' });
  await openInstance(store, dir);
  store.getState().runResize({ cols: 100, rows: 12 });
});
after(() => {
  store?.getState().runDisposeAll();
  if (dir) rmSync(dirname(dir), { recursive: true, force: true });
});

const tab = () => store.getState().run.tabs.find((t) => t.id === store.getState().run.active)!;
const until = (cond: () => boolean, what: string, ms = 60_000) =>
  storeUntil(
    store,
    cond,
    what,
    ms,
    () => `\n--- tab ---\n${JSON.stringify(tab())}\n--- sizing: ${store.getState().sizing.error}`,
  );
const threads = () => valueAt(store.getState().config.text, ['resource_limits', 'max_num_of_threads']);
const pressConfigZ = () => configBindings.find((b) => b.keys.includes('z'))!.run({ store } as never);

test('Run pane: a failed run carries the sizing hint; z sizes it, Config z applies, u undoes', { skip }, async () => {
  await store.getState().runStart('run', '/bin/threads', []);
  await until(() => tab().state === 'exited', 'the run ends');
  assert.notEqual(tab().exit?.status, 0);
  const hint = tab().hints.find(isSizingHint);
  assert.ok(hint, `no sizing hint in ${JSON.stringify(tab().hints)}`);
  assert.deepEqual(hint.configPath, ['resource_limits', 'max_num_of_threads']);

  sizeProgram(store);
  await until(() => ['done', 'failed'].includes(store.getState().sizing.status), 'sizing ends');
  const z = store.getState().sizing;
  assert.equal(z.status, 'done', z.error ?? '');
  assert.equal(z.measurement?.threadsPeak, 49);
  assert.deepEqual(store.getState().config.selection, ['resource_limits', 'max_num_of_threads'], 'hint field shown');

  assert.equal(threads(), 32);
  pressConfigZ();
  assert.equal(threads(), 62);
  assert.equal(store.getState().config.canUndo, true);
  store.getState().configUndo();
  assert.equal(threads(), 32, 'one undo takes the whole recommendation back');
});

test('Logs pane: z on the "Out of TCS" record sizes the last program', { skip }, async () => {
  // A PAL line without its location waits PENDING_FLUSH_MS for one on the next line (polled:
  // logsSync changes the store, so it cannot run inside a store subscription).
  const findRecord = () => {
    store.getState().logsSync();
    const buf = store.getState().logsBuffer();
    return buf.slice(0, buf.length);
  };
  for (let t = 0; t < 50 && !findRecord().some((r) => /Out of TCS/.test(r.message)); t++)
    await new Promise((r) => setTimeout(r, 100));
  const buf = store.getState().logsBuffer();
  const records = findRecord();
  const idx = records.findIndex((r) => /Out of TCS/.test(r.message));
  assert.ok(idx >= 0, records.map((r) => r.message).join('\n'));
  store.setState({ sizing: { ...store.getState().sizing, status: 'idle', measurement: null } });
  store.getState().logsMoveTo('first');
  for (let i = 0; i < buf.length && store.getState().logsSelected() !== records[idx]; i++) store.getState().logsMove(1);
  assert.equal(store.getState().logsSelected(), records[idx]);
  sizeFromHint(store);
  await until(() => store.getState().sizing.status === 'done', 'sizing from the log hint');
  assert.equal(store.getState().sizing.measurement?.command.join(' '), '/bin/threads');
});
