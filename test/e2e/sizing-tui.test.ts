// Sizing in the real binary inside a real pseudo-terminal: a program fails in the Run pane at
// max_num_of_threads and the pane offers the sizing hint; z sizes it and shows the field in the
// Config pane; z there writes the recommendation, u takes it back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { makeInstance, treeLimitsSkip } from '../helpers/host-instance.ts';
import { KEY, runFromPane, startTui } from '../helpers/tui.ts';
import { waitFor } from '../helpers/wait.ts';
import { allPids, exeOf, isAlive, procInfo } from '../../src/core/backend/host/procs.ts';

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

// The two ways to stop a sizing run (how a server is sized): z again in the Run pane (the program
// ends on SIGTERM) and esc in the Logs pane (a program that ignores SIGTERM is killed after the
// grace). Either way nothing of the run is left (the program, bwrap, the launcher), the figures up
// to the stop are the result, and Occlum.json is as it was until z applies them.
for (const { how, key, args } of [
  { how: 'z again', key: 'z', args: '38' },
  { how: 'esc in the Logs pane', key: KEY.escape, args: '39 ignore-term' },
]) {
  test(`${how} stops a sizing run: its program and sandbox end, its figures shown`, { skip }, async () => {
    const dir = makeInstance(['sleeper']);
    assert.ok((await new HostBackend(dir).build()).ok);
    const config = readFileSync(join(dir, 'Occlum.json'), 'utf8');
    const tui = startTui([dir], { cwd: dir, cols: 80, rows: 24 });
    const argv0 = `/bin/sleeper\0${args.split(' ')[0]}`;
    const sleepers = () => allPids().filter((p) => cmdline(p).startsWith(argv0));
    // The run's processes: the program and its ancestors up to the studio (the launcher, bwrap's
    // monitor and init). Not the Run pane's sandbox prepared for a rerun, which waits for its go.
    const runChain = () => {
      const chain = new Set<number>();
      for (let pid of sleepers()) {
        while (pid > 1 && pid !== tui.pid && !chain.has(pid)) {
          chain.add(pid);
          pid = procInfo(pid)?.ppid ?? 0;
        }
      }
      return [...chain].map((pid) => ({ pid, info: procInfo(pid) }));
    };
    try {
      await tui.waitFor(/inst │ host/, 20_000);
      await runFromPane(tui, `/bin/sleeper ${args}`);
      await tui.waitFor('ready');
      tui.type('\x1d'); // ctrl+]: the keys back to the studio
      await tui.waitFor('r run');
      tui.type('K');
      await tui.waitFor(/sleeper .*status/);
      tui.type('z');
      await waitFor(() => sleepers().length > 0, 'the sizing run started');
      const sandbox = runChain();
      assert.ok(sandbox.length >= 3, `the sizing run's sandbox: ${sandbox.map((p) => exeOf(p.pid)).join(', ')}`);
      if (key === 'z') {
        // The Config pane, where the result will show, says how to stop it; its z (apply) waits.
        tui.type('1');
        await tui.waitFor('Sizing: measuring /bin/sleeper 38 on the host backend… (z/esc in the Run pane');
        tui.type('z');
        await tui.waitFor('sizing /bin/sleeper 38 still measures');
        tui.type('3');
      } else {
        tui.type('5'); // the Logs pane, whose z also sizes, stops it as well
        await tui.waitFor('Logs · ');
      }
      // The way out is on the pane's hint line, within 80 columns.
      await tui.waitFor('z/esc stop sizing');
      tui.type(key);
      await tui.waitFor(/sized \/bin\/sleeper \d+.* \(stopped after [\d.]+ s/, 30_000);
      assert.deepEqual(sleepers(), [], 'the measured program ended');
      const left = () => sandbox.filter((p) => isAlive(p.pid, p.info?.startTime));
      await waitFor(() => left().length === 0, 'no sandbox process of the run is left');
      await tui.waitForGone('stop sizing');
      assert.equal(readFileSync(join(dir, 'Occlum.json'), 'utf8'), config);
      tui.type('1');
      await tui.waitFor(`Sizing of /bin/sleeper ${args.split(' ')[0]}`);
      tui.type('q');
      assert.equal(await tui.exited, 0, 'nothing at stake: one q quits');
    } finally {
      tui.kill();
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  });
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}
