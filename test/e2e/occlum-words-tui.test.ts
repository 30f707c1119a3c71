// What the Run pane's server keys and the Logs pane's L say, as a user who knows `occlum run`
// meets them on an 80-column terminal: Occlum's own command names in the hint line and the
// help, and on the host backend (no LibOS) which records a log level shows.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { KEY, runFromPane, startTui, type Tui } from '../helpers/tui.ts';

let dir = '';
const running: Tui[] = [];

before(async () => {
  dir = makeInstance(['hello']);
  const r = await new HostBackend(dir).build();
  assert.ok(r.ok, r.errors.join('\n'));
});

after(() => {
  running.forEach((t) => t.kill());
  if (dir) rmSync(dirname(dir), { recursive: true, force: true });
});

const line = (tui: Tui, text: string) =>
  tui
    .screen()
    .split('\n')
    .find((l) => l.includes(text)) ?? '';

test('the Run pane names occlum start/stop/exec in its hints, within 80 columns, and in the help', async () => {
  const tui = startTui([dir], { cwd: dir, cols: 80, rows: 24 });
  running.push(tui);
  await tui.waitFor(/inst │ host/);
  tui.type('3');
  await tui.waitFor('Nothing is running.');
  await tui.waitFor('s starts the instance as a server (occlum start)');
  const hints = line(tui, 's/S occlum start/stop');
  assert.match(hints, /^r run {2}x occlum exec {2}s\/S occlum start\/stop {2}\? all keys$/);
  tui.type('?');
  await tui.waitFor('occlum start: start the server x runs programs in');
  await tui.waitFor('occlum stop: stop the server and every program in it');
  await tui.waitFor('occlum exec: run a program in the server s started');
  tui.type(KEY.escape);
  await tui.waitForGone('Keys (? or escape closes)');
  // A tab that ended adds rerun, close and scroll: the line shortens, it does not spill.
  await runFromPane(tui, '/bin/hello');
  await tui.waitFor('exited normally');
  const ended = line(tui, 's/S occlum start/stop');
  assert.match(ended, /^enter rerun {2}r run {2}x (occlum )?exec {2}s\/S occlum start\/stop {2}.*\?( all keys)?$/);
  tui.type('q');
  assert.equal(await tui.exited, 0);
});

test('L on the host backend says what the level shows without a LibOS, in the pane and the status line', async () => {
  const tui = startTui([dir], { cwd: dir, cols: 80, rows: 24 });
  running.push(tui);
  await tui.waitFor(/inst │ host/);
  tui.type('5');
  await tui.waitFor('host backend: no LibOS logs · off: only limit errors (occlum-pal); L shows more');
  tui.type('L');
  await tui.waitFor('host backend: no LibOS logs · error: refused programs, failed checks');
  await tui.waitFor(/ next run: OCCLUM_LOG_LEVEL=error; host backend: no LibOS logs/);
  tui.type('LL');
  await tui.waitFor('host backend: no LibOS logs · info adds boot, verification, process start/exit');
  // What info shows: the host runtime's records of the run, in the LibOS line format.
  await runFromPane(tui, '/bin/hello');
  await tui.waitFor('exited normally');
  tui.type('5');
  await tui.waitFor(/INFO T0 #0 \[process\] Process created: elf = \/bin\/hel/);
  await tui.waitFor(/INFO T0 #0 \[process\] Process exited: elf = \/bin\/hel/);
  tui.type('LL');
  await tui.waitFor('host backend: no LibOS logs · trace = debug: no syscall traces without a LibOS');
  tui.type('q');
  assert.equal(await tui.exited, 0);
});
