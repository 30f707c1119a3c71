// Sizing in the real binary inside a real pseudo-terminal: a program fails in the Run pane at
// max_num_of_threads and the pane offers the sizing hint; z sizes it and shows the field in the
// Config pane; z there writes the recommendation, u takes it back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { makeInstance, treeLimitsSkip } from '../helpers/host-instance.ts';
import { runFromPane, startTui } from '../helpers/tui.ts';
import { waitFor } from '../helpers/wait.ts';
import { allPids } from '../../src/core/backend/host/procs.ts';

const skip = treeLimitsSkip();

test('Run pane z sizes a failed program, Config pane z applies it, u undoes', { skip }, async () => {
  const dir = makeInstance(['threads']);
  assert.ok((await new HostBackend(dir).build()).ok);
  const tui = startTui([dir], { cwd: dir, cols: 140, rows: 34 });
  try {
    await tui.waitFor(/inst │ host backend/, 20_000);
    await runFromPane(tui, '/bin/threads');
    await tui.waitFor('pthread_create 32 of 48 failed');
    await tui.waitFor('z size this program');
    tui.type('z');
    // The hint's field is shown in the Config pane with the recommendation under the tree.
    await tui.waitFor('Sizing of /bin/threads', 60_000);
    await tui.waitFor(/! resource_limits\.max_num_of_threads = 62 \(was 32\): 49 thread\(s\)/);
    await tui.waitFor('max_num_of_threads: 32');
    tui.type('z');
    await tui.waitFor('max_num_of_threads: 62');
    await tui.waitFor('[modified]');
    tui.type('u');
    await tui.waitFor('max_num_of_threads: 32');
    await tui.waitForGone('[modified]');
    tui.type('q');
    assert.equal(await tui.exited, 0);
  } finally {
    tui.kill();
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

test('q while a sizing run measures asks first, and quitting ends the measured program', { skip }, async () => {
  const dir = makeInstance(['sleeper']);
  assert.ok((await new HostBackend(dir).build()).ok);
  const tui = startTui([dir], { cwd: dir, cols: 140, rows: 34 });
  const sleepers = () => allPids().filter((p) => cmdline(p).startsWith('/bin/sleeper\0' + '37'));
  try {
    await tui.waitFor(/inst │ host backend/, 20_000);
    await runFromPane(tui, '/bin/sleeper 37');
    await tui.waitFor('ready');
    tui.type('\x1d'); // ctrl+]: the keys back to the studio
    await tui.waitFor('r run');
    tui.type('K');
    await tui.waitFor(/sleeper .*status/);
    tui.type('z'); // sizes the tab's command: sleeps 37 s
    await waitFor(() => sleepers().length > 0, 'the sizing run started');
    tui.type('q');
    await tui.waitFor('sizing /bin/sleeper 37 is running (quitting stops it)');
    tui.type('q');
    assert.equal(await tui.exited, 0);
    await waitFor(() => sleepers().length === 0, 'the measured program ended with the studio');
  } finally {
    tui.kill();
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}
