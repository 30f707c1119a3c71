// Logs pane keys, in the one keymap's format (scope 'logs'): `?` lists them, the palette runs
// those with a command name.
import type { Binding } from '../../keymap.ts';
import type { HintSpec } from '../../hint-line.ts';
import { paneBinding } from '../../pane-binding.ts';
import type { StudioStore } from '../../../src/store/index.ts';
import type { Level } from '../../../src/core/logs/index.ts';
import { hintsFor } from '../../../src/core/logs/index.ts';
import { isSizingHint } from '../../../src/core/sizing/fields.ts';
import { sizingMeasuring, stopSizingBinding } from '../../sizing-stop.ts';

const b = paneBinding('logs');

/** Rows a page key moves (the pane is at least this tall on an 80x24 terminal). */
const PAGE = 15;

/** enter: jump to the Occlum.json field of the selected record's hint. */
export function openHint(store: StudioStore): void {
  const s = store.getState();
  const r = s.logsSelected();
  const hint = r ? hintsFor(r).find((h) => h.configPath) : undefined;
  if (!hint?.configPath) {
    s.setFlash(
      r && hintsFor(r).length ? 'this hint is not about Occlum.json' : 'the selected record has no config hint',
      'error',
    );
    return;
  }
  s.focusConfigPath(hint.configPath);
}

/** z: the selected record's hint is about a sizing field: size the last program run; again: stop. */
export function sizeFromHint(store: StudioStore): void {
  const s = store.getState();
  if (sizingMeasuring(s)) return void s.sizingStop();
  const r = s.logsSelected();
  const hint = r ? hintsFor(r).find(isSizingHint) : undefined;
  if (!hint) {
    s.setFlash('the selected record has no sizing hint (memory, threads, stack)', 'error');
    return;
  }
  const tab = s.run.tabs.find((t) => t.id === s.run.active && t.kind === 'run');
  const cmd = tab ?? s.run.history.find((h) => h.kind === 'run');
  if (!cmd) {
    s.setFlash(`run the program from the Run pane first; then z sizes it for ${hint.configPath!.join('.')}`, 'error');
    return;
  }
  void s.sizingMeasure(cmd.path, cmd.args, hint.configPath);
}

const levelToggle = (key: string, level: Level, hint?: HintSpec): Binding =>
  b(
    [key],
    `show/hide ${level} records (exact level toggle)`,
    ({ store }) => store.getState().logsToggleLevel(level),
    `logs-toggle-${level}`,
    hint,
  );

export const logsBindings: Binding[] = [
  b(['j', 'down'], 'next record', ({ store }) => store.getState().logsMove(1)),
  b(['k', 'up'], 'previous record', ({ store }) => store.getState().logsMove(-1)),
  b(['pagedown', 'ctrl+d'], 'page down', ({ store }) => store.getState().logsMove(PAGE)),
  b(['pageup', 'ctrl+u'], 'page up', ({ store }) => store.getState().logsMove(-PAGE)),
  b(['g', 'home'], 'first record', ({ store }) => store.getState().logsMoveTo('first')),
  b(['G', 'end'], 'last record and follow', ({ store }) => store.getState().logsMoveTo('last')),
  b(['f'], 'follow new records on/off', ({ store }) => store.getState().logsToggle('follow'), 'logs-follow', {
    label: 'follow',
    priority: 3,
  }),
  b(['e'], 'next error', ({ store }) => store.getState().logsNextError(1), 'logs-next-error', {
    label: 'next error',
    short: 'error',
    priority: 1,
  }),
  b(['E'], 'previous error', ({ store }) => store.getState().logsNextError(-1), 'logs-previous-error'),
  b(
    ['/'],
    'search (highlight; n/N to move; empty clears)',
    ({ store }) => store.getState().logsSetMode('search'),
    'logs-search',
    { label: 'search', priority: 1 },
  ),
  b(['n'], 'next search match', ({ store }) => store.getState().logsSearchNext(1)),
  b(['N'], 'previous search match', ({ store }) => store.getState().logsSearchNext(-1)),
  b(
    ['F'],
    'filter by text (only matching records stay)',
    ({ store }) => store.getState().logsSetMode('filter'),
    'logs-filter',
    { label: 'filter', priority: 1 },
  ),
  b(['r'], 'regex on/off for search and filter', ({ store }) => store.getState().logsToggle('regex'), 'logs-regex'),
  b(
    ['i'],
    'inverse text filter (hide matching records)',
    ({ store }) => store.getState().logsToggle('inverse'),
    'logs-inverse',
  ),
  b(
    ['+'],
    'minimum level: one more verbose level',
    ({ store }) => store.getState().logsStepMinLevel(1),
    'logs-more-verbose',
    { key: '+/-', label: 'level', priority: 2 },
  ),
  b(
    ['-'],
    'minimum level: one less verbose level',
    ({ store }) => store.getState().logsStepMinLevel(-1),
    'logs-less-verbose',
  ),
  levelToggle('!', 'error', { key: '!@#$%', label: 'toggle levels', short: 'levels', priority: 3 }),
  levelToggle('@', 'warn'),
  levelToggle('#', 'info'),
  levelToggle('$', 'debug'),
  levelToggle('%', 'trace'),
  b(
    ['t'],
    "filter by the selected record's thread (again: clear)",
    ({ store }) => store.getState().logsFilterBySelected('thread'),
    'logs-filter-thread',
    { key: 't/y/m', label: 'thread/syscall/module', short: 'by', priority: 3 },
  ),
  b(
    ['y'],
    "filter by the selected record's syscall (again: clear)",
    ({ store }) => store.getState().logsFilterBySelected('syscall'),
    'logs-filter-syscall',
  ),
  b(
    ['m'],
    "filter by the selected record's module (again: clear)",
    ({ store }) => store.getState().logsFilterBySelected('module'),
    'logs-filter-module',
  ),
  b(['c'], 'clear all filters', ({ store }) => store.getState().logsClearFilters(), 'logs-clear-filters', {
    label: 'clear filters',
    short: 'clear',
    priority: 2,
  }),
  b(
    ['p'],
    "program's own stderr: show in place / hide",
    ({ store }) => store.getState().logsToggle('raw'),
    'logs-program-output',
    { label: 'program output', short: 'output', priority: 3 },
  ),
  b(['s'], 'timestamps on/off', ({ store }) => store.getState().logsToggle('timestamps'), 'logs-timestamps'),
  b(['w'], 'wrap long lines on/off', ({ store }) => store.getState().logsToggle('wrap'), 'logs-wrap'),
  b(['enter'], "open the hint's field in the Config pane", ({ store }) => openHint(store), 'logs-open-hint'),
  b(
    ['z'],
    'sizing hint: measure the last program run and recommend that field (and the rest); again: stop',
    ({ store }) => sizeFromHint(store),
    'logs-size',
  ),
  stopSizingBinding('logs'),
  b(['x'], 'export the filtered view to a file', ({ store }) => store.getState().logsSetMode('export'), 'logs-export', {
    label: 'export',
    priority: 3,
  }),
  b(['o'], 'open a saved log file', ({ store }) => store.getState().logsSetMode('open'), 'logs-open'),
  b(
    ['L'],
    'OCCLUM_LOG_LEVEL for the next run/exec (cycles off…trace); host backend: no LibOS, the level picks the ' +
      'host runtime’s own records (boot, checks, process start/exit, mounts), never syscall traces',
    ({ store }) => store.getState().logsCycleRunLevel(),
    'logs-run-level',
    { label: 'run log level', short: 'run level', priority: 2 },
  ),
  b(['C'], 'clear the buffer', ({ store }) => store.getState().logsClear(), 'logs-clear'),
];
