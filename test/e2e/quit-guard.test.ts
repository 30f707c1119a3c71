// The quit guard says what is at stake and only while it is: an unsaved edit arms it, undo back
// to the saved text takes the notice down (and q then quits at once), another key cancels it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTui, type Tui } from '../helpers/tui.ts';
import { OWN_TEMPLATE } from '../helpers/paths.ts';

const dir = mkdtempSync(join(tmpdir(), 'quit-guard-'));
const running: Tui[] = [];
after(() => {
  running.forEach((t) => t.kill());
  rmSync(dir, { recursive: true, force: true });
});

const UNSAVED = 'Occlum.json has unsaved changes (quitting discards them)';

test('undo back to the saved text takes the quit notice down; q then quits without asking', async () => {
  mkdirSync(join(dir, 'image', 'host'), { recursive: true });
  copyFileSync(OWN_TEMPLATE, join(dir, 'Occlum.json'));
  writeFileSync(join(dir, '.__occlum_status'), 'initialized');
  const tui = startTui([dir], { cols: 160, rows: 30 });
  running.push(tui);
  await tui.waitFor('kernel_space_heap_size: "32MB"', 20_000);
  tui.type('j');
  await tui.waitFor('LibOS kernel heap');
  tui.type('x'); // deletes the key: an edit
  await tui.waitFor('removed kernel_space_heap_size');
  await tui.waitFor('[modified]');

  // Armed, then cancelled by another key: the notice goes with it.
  tui.type('q');
  await tui.waitFor(UNSAVED);
  tui.type('j');
  await tui.waitForGone(UNSAVED);

  // Armed again, then the edit is undone: nothing is at stake any more.
  tui.type('q');
  await tui.waitFor(UNSAVED);
  tui.type('u');
  await tui.waitForGone('[modified]');
  await tui.waitForGone('unsaved changes');
  assert.match(tui.screen().split('\n').at(-1)!, /\? help/, 'the status bar shows the keys again');
  tui.type('q');
  assert.equal(await tui.exited, 0);
});
