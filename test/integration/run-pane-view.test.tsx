// The Run pane inside the real shell (App + keymap + store), driven by keys through
// ink-testing-library, with real programs in real pseudo-terminals launched through the
// launcher seam (`directLauncher`: a stand-in for the backend that runs the host program).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStudioStore, openInstance, type StudioStore } from '../../src/store/index.ts';
import type { Launcher } from '../../src/store/run-slice.ts';
import { BackendError } from '../../src/core/backend/types.ts';
import { paneTerminalSize, RUN_CHROME, tabWindow } from '../../views/panes/run/RunPane.tsx';
import { choicesFor } from '../../views/panes/run/Picker.tsx';
import { renderStudio } from '../helpers/render-studio.tsx';

const KEY = {
  enter: '\r',
  down: '\x1b[B',
  up: '\x1b[A',
  esc: '\x1b',
  tab: '\t',
  ctrlC: '\x03',
  leave: '\x1d',
  pageUp: '\x1b[5~',
  end: '\x1b[F',
};
const work = mkdtempSync(join(tmpdir(), 'run-pane-view-'));
const stores: StudioStore[] = [];
after(() => {
  stores.forEach((s) => s.getState().runDisposeAll());
  rmSync(work, { recursive: true, force: true });
});

const directLauncher: Launcher = async (req) => ({ file: req.path, args: req.args, env: { PATH: '/usr/bin:/bin' } });

async function setup(name: string) {
  const dir = join(work, name);
  mkdirSync(join(dir, 'image', 'bin'), { recursive: true });
  writeFileSync(join(dir, 'Occlum.json'), '{"entry_points": ["/bin"]}\n');
  writeFileSync(join(dir, 'image', 'bin', 'app'), '#!/bin/sh\n', { mode: 0o755 });
  const store = createStudioStore({ launchDir: dir });
  stores.push(store);
  await openInstance(store, dir);
  store.getState().runSetLauncher(directLauncher);
  const { ui, frame, press } = renderStudio(store);
  const waitFrame = async (re: RegExp, ms = 10_000) => {
    const t0 = Date.now();
    while (!re.test(frame())) {
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${re}\n--- frame ---\n${frame()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await press('3');
  return { dir, store, ui, frame, press, waitFrame };
}

test('empty pane explains what to do; r opens the picker with the image’s entry points', async () => {
  const { ui, frame, press, store } = await setup('empty');
  try {
    assert.match(frame(), /3 Run/);
    assert.match(frame(), /Nothing is running\./);
    await press('r');
    assert.match(frame(), /Run a program/);
    assert.match(frame(), /▸ \/bin\/app/);
    assert.equal(store.getState().capture, true);
    // Global keys are off while typing: q is text.
    await press('q');
    assert.match(frame(), /run> q/);
    await press(KEY.esc);
    assert.doesNotMatch(frame(), /Run a program/);
    assert.equal(store.getState().capture, false);
  } finally {
    ui.unmount();
  }
});

test('picker runs a typed command line; the terminal shows colours; the program gets the keys, ctrl+c included; ctrl+] leaves', async () => {
  const { ui, frame, press, waitFrame, store } = await setup('run');
  try {
    await press('r');
    await press(
      `/bin/sh -c 'printf "\\033[1;35mcolour\\033[0m\\n"; trap "echo got-INT" INT; read a; echo "read $a"; while :; do sleep 1; done'`,
    );
    await press(KEY.enter);
    await waitFrame(/colour/);
    assert.ok(frame().includes('\x1b[1;35mcolour') || frame().includes('colour'));
    assert.match(frame(), /sh -c .*●/);
    // Launched from the picker, the program has the keyboard straight away.
    await waitFrame(/ctrl\+\] gives them back to the studio/);
    assert.equal(store.getState().capture, 'terminal');
    await press('?', 'q', KEY.enter); // studio keys are plain text for the program now
    await waitFrame(/read \?q/);
    // Rows stay in place even with a long command in the banner (a wrapped banner once squeezed
    // the terminal's rows onto each other).
    const rows = frame().split('\n');
    assert.match(rows[2], /colour/);
    assert.equal(rows[3], '?q');
    assert.equal(rows[4], 'read ?q');
    await press(KEY.ctrlC);
    await waitFrame(/got-INT/);
    await press(KEY.leave);
    await waitFrame(/r run {2}x (occlum )?exec {2}s\/S occlum start\/stop/);
    assert.equal(store.getState().capture, false);
    // The studio has its keys back: `?` shows the Run bindings from the one keymap.
    await press('?');
    await waitFrame(/type into the program \(ctrl\+\] gives the keys back\)/);
    await press(KEY.esc);
    await press('K');
    await waitFrame(/✗ \/bin\/sh killed by SIGTERM \(15\) · status 143/);
    assert.match(frame(), /sh -c .*✗ 143/);
  } finally {
    ui.unmount();
  }
});

test('exit banner, tabs with [ ], rerun with R, close with w', async () => {
  const { ui, frame, press, waitFrame, store } = await setup('tabs');
  try {
    await store.getState().runStart('run', '/bin/sh', ['-c', 'echo first-run; exit 0']);
    await waitFrame(/✓ \/bin\/sh exited normally \(0\) · status 0/);
    await store.getState().runStart('run', '/bin/sh', ['-c', 'echo second-run; exit 127']);
    // The program ran: its 127 is its own exit status, not a launch failure.
    await waitFrame(/exited with status 127 · status 127/);
    assert.match(frame(), /The program ran and exited with 127 or 255/);
    await press('[');
    await waitFrame(/first-run/);
    await press('R');
    await waitFrame(/first-run/);
    assert.equal(store.getState().run.tabs.length, 2);
    await press(']');
    await waitFrame(/second-run/);
    await press('w');
    await waitFrame(/first-run/);
    assert.equal(store.getState().run.tabs.length, 1);
  } finally {
    ui.unmount();
  }
});

test('pageup scrolls back through the scrollback; end returns', async () => {
  const { ui, frame, press, waitFrame, store } = await setup('scroll');
  try {
    await store.getState().runStart('run', '/bin/sh', ['-c', 'seq 1 300']);
    await waitFrame(/status 0/);
    await press(KEY.pageUp);
    await waitFrame(/scrolled back \d+ lines/);
    assert.ok(store.getState().run.tabs[0].offset > 0);
    await press(KEY.end);
    await waitFrame(/r run {2}x (occlum )?exec {2}s\/S occlum start\/stop/);
    assert.match(frame(), /✓ \/bin\/sh exited normally/);
    assert.match(frame(), /\b300\b/);
  } finally {
    ui.unmount();
  }
});

test('terminal size follows the studio size; picker choices list history first', () => {
  assert.deepEqual(paneTerminalSize(120, 40), { cols: 120, rows: 40 - RUN_CHROME });
  assert.deepEqual(paneTerminalSize(5, 4), { cols: 10, rows: 3 });
  const hist = [
    { kind: 'run', path: '/bin/app', args: ['a b'] },
    { kind: 'exec', path: '/bin/other', args: [] },
    { kind: 'run', path: '/bin/app', args: [] },
  ];
  assert.deepEqual(
    choicesFor('run', hist, ['/bin/app', '/bin/zed'], '').map((c) => `${c.from}:${c.line}`),
    ["history:/bin/app 'a b'", 'history:/bin/app', 'image:/bin/zed'],
  );
  assert.deepEqual(
    choicesFor('run', hist, ['/bin/app', '/bin/zed'], 'ZE').map((c) => c.line),
    ['/bin/zed'],
  );
});

test('a refused exec says how to start the server', async () => {
  const { ui, press, waitFrame, store } = await setup('exec-refused');
  try {
    store.getState().runSetLauncher(async () => {
      throw new BackendError('Error: the server of current Occlum instance has not been started.', 1, [
        'Error: the server of current Occlum instance has not been started.',
      ]);
    });
    await press('x');
    await waitFrame(/Exec a program in the server \(occlum exec\)/);
    await press('/bin/app', KEY.enter);
    await waitFrame(/server of current Occlum instance has not been started/);
    await waitFrame(/s starts it, then R tries again/);
    await waitFrame(/✗ exec \/bin\/app was refused · status 1/);
  } finally {
    ui.unmount();
  }
});

test('a full-screen editor (vi) runs in the pane: escape and cursor keys reach it, the file is written', async () => {
  const { ui, frame, press, waitFrame, store, dir } = await setup('vi');
  const file = join(dir, 'note.txt');
  writeFileSync(file, 'line one\nline two\n');
  try {
    await store.getState().runStart('run', '/usr/bin/vi', ['-u', 'NONE', '-N', '-i', 'NONE', '-n', file]);
    await waitFrame(/line two/);
    await press(KEY.enter);
    await waitFrame(/ctrl\+\] gives them back/);
    // Down one line (cursor keys in vi's application mode), insert, escape, write and quit.
    await press(KEY.down, 'A', ' edited', KEY.esc);
    await waitFrame(/line two edited/);
    await press(':wq', KEY.enter);
    await waitFrame(/✓ \/usr\/bin\/vi exited normally/);
    assert.equal(readFileSync(file, 'utf8'), 'line one\nline two edited\n');
    assert.doesNotMatch(frame(), /ctrl\+\] gives them back/);
  } finally {
    ui.unmount();
  }
});

test('the tab line keeps the focused tab visible and counts the hidden ones', async () => {
  assert.deepEqual(tabWindow([10, 10, 10], 1, 100), [0, 2]);
  assert.deepEqual(tabWindow([30, 30, 30, 30, 30], 4, 80), [3, 4]);
  assert.deepEqual(tabWindow([30, 30, 30, 30, 30], 0, 80), [0, 1]);
  assert.deepEqual(tabWindow([30, 30, 30, 30, 30], 2, 100), [1, 3]);
  assert.deepEqual(tabWindow([200], 0, 80), [0, 0]);
  const { ui, frame, waitFrame, store } = await setup('many-tabs');
  try {
    for (let k = 0; k < 8; k++) await store.getState().runStart('run', '/bin/sh', ['-c', `echo tab-${k}; exit ${k}`]);
    await waitFrame(/tab-7/);
    await waitFrame(/exited with status 7/);
    assert.match(frame(), /‹ \d+ /);
    store.getState().runFocusTabId(store.getState().run.tabs[0].id);
    await waitFrame(/\d+ ›/);
    assert.doesNotMatch(frame(), /‹ \d+ /);
  } finally {
    ui.unmount();
  }
});
