// Run pane keys, in the one keymap (scope 'run'): `?` lists them, the palette runs those with a
// command name. While keys are forwarded to a program none of these apply: only ctrl+] (shown
// on screen) gives the keyboard back.
import type { Binding } from '../../keymap.ts';
import { paneBinding } from '../../pane-binding.ts';
import type { StudioState, StudioStore } from '../../../src/store/index.ts';
import { isSizingHint } from '../../../src/core/sizing/fields.ts';
import { sizingMeasuring, stopSizingBinding } from '../../sizing-stop.ts';

const b = paneBinding('run');

/** Closing a tab whose program still runs kills it: the first `w` says so. */
function runningInFocusedTab(store: StudioStore): string | null {
  const s = store.getState();
  const tab = s.run.tabs.find((t) => t.id === s.run.active);
  return tab && (tab.state === 'running' || tab.state === 'starting')
    ? `${tab.title} is running (closing its tab kills it)`
    : null;
}

const focusedTab = (s: StudioState) => s.run.tabs.find((t) => t.id === s.run.active);
const isLive = (s: StudioState) => ['running', 'starting'].includes(focusedTab(s)?.state ?? '');

/** Enter on a running tab types into it; with nothing running it opens the picker. */
function typeOrPick(store: StudioStore): void {
  const s = store.getState();
  const tab = s.run.tabs.find((t) => t.id === s.run.active);
  if (tab?.state === 'running') s.runSetForwarding(true);
  else if (tab) void s.runRerun();
  else s.runOpenPicker('run');
}

/** z: measure the focused tab's command (or the last one run) and recommend Occlum.json sizes; again: stop. */
export function sizeProgram(store: StudioStore): void {
  const s = store.getState();
  if (sizingMeasuring(s)) return void s.sizingStop();
  const tab = s.run.tabs.find((t) => t.id === s.run.active);
  const cmd = tab ?? s.run.history.find((h) => h.kind === 'run');
  if (!cmd) {
    s.setFlash('nothing to size yet: run a program first (r)', 'error');
    return;
  }
  if (tab?.state === 'running') {
    s.setFlash(
      'the program is still running: end it (K), then z sizes it in a run of its own, without limits',
      'error',
    );
    return;
  }
  const hint = tab?.hints.find(isSizingHint);
  void s.sizingMeasure(cmd.path, cmd.args, hint?.configPath ?? null);
}

/** Half the terminal height: what pageup/pagedown scroll. */
const page = (store: StudioStore) => Math.max(1, Math.floor(store.getState().run.size.rows / 2));

export const runBindings: Binding[] = [
  b(
    ['enter', 'i'],
    'type into the program (ctrl+] gives the keys back); on an ended tab: run it again',
    ({ store }) => typeOrPick(store),
    'run-type',
    {
      label: (s) => (focusedTab(s)?.state === 'running' ? 'type into it' : focusedTab(s) ? 'rerun' : null),
      priority: 1,
    },
  ),
  b(
    ['r'],
    'run a program: pick the entry point and arguments (history included)',
    ({ store }) => store.getState().runOpenPicker('run'),
    'run',
    { label: 'run', priority: 1 },
  ),
  // Occlum's own words: `occlum start` boots the instance once as a server, `occlum exec` runs
  // programs in it, `occlum stop` ends it (users know them from Occlum's docs and demos).
  b(
    ['x'],
    'occlum exec: run a program in the server s started, in a new tab',
    ({ store }) => store.getState().runOpenPicker('exec'),
    'exec',
    { label: 'occlum exec', short: 'exec', priority: 2 },
  ),
  b(
    ['s'],
    'occlum start: start the server x runs programs in (the LibOS stays up)',
    ({ store }) => void store.getState().runServer('start'),
    'server-start',
    { key: 's/S', label: 'occlum start/stop', priority: 2 },
  ),
  b(
    ['S'],
    'occlum stop: stop the server and every program in it',
    ({ store }) => void store.getState().runServer('stop'),
    'server-stop',
  ),
  b(['R'], 'rerun the focused tab’s command', ({ store }) => void store.getState().runRerun(), 'rerun'),
  b(
    ['z'],
    'size this program: run its command on the host backend without limits, recommend Occlum.json sizes (again: stop)',
    ({ store }) => sizeProgram(store),
    'run-size',
  ),
  stopSizingBinding('run', 'sizing-stop'),
  // A shifted key: `k` moves up in the other panes, and a kill must not be one slip away.
  b(
    ['K'],
    'kill the focused program (SIGTERM; again: SIGKILL)',
    ({ store }) => store.getState().runKill(),
    'run-kill',
    { label: (s) => (isLive(s) ? 'kill' : null), priority: 1 },
  ),
  {
    ...b(
      ['w'],
      'close the focused tab (kills its program)',
      ({ store }) => store.getState().runCloseTab(),
      'run-close-tab',
      { label: (s) => (focusedTab(s) ? 'close tab' : null), short: 'close', priority: 2 },
    ),
    confirm: runningInFocusedTab,
  },
  b([']', 'right'], 'next run tab', ({ store }) => store.getState().runFocusTab(1), undefined, {
    key: '[ ]',
    label: (s) => (s.run.tabs.length > 1 ? 'tabs' : null),
    priority: 3,
  }),
  b(['[', 'left'], 'previous run tab', ({ store }) => store.getState().runFocusTab(-1)),
  b(['pageup'], 'scroll back half a screen', ({ store }) => store.getState().runScroll(page(store)), undefined, {
    key: 'PgUp/PgDn',
    label: (s) => (focusedTab(s) ? 'scroll' : null),
    priority: 3,
  }),
  b(['pagedown'], 'scroll forward half a screen', ({ store }) => store.getState().runScroll(-page(store))),
  b(['up'], 'scroll back one line', ({ store }) => store.getState().runScroll(1)),
  b(['down'], 'scroll forward one line', ({ store }) => store.getState().runScroll(-1)),
  b(['home'], 'top of the scrollback', ({ store }) => store.getState().runScroll('top')),
  b(['end'], 'back to the live screen', ({ store }) => store.getState().runScroll('bottom')),
];
