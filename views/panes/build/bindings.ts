// Build pane keys, in the one keymap's format (scope 'build'): `?` lists them, the palette runs
// those with a command name.
import type { Binding } from '../../keymap.ts';
import { paneBinding } from '../../pane-binding.ts';

const b = paneBinding('build');

/** Output lines a page key scrolls. */
export const OUTPUT_PAGE = 10;

export const buildBindings: Binding[] = [
  b(
    ['b'],
    'build now (also builds changes held while auto-build is off)',
    ({ store }) => store.getState().buildNow(),
    'build-now',
    { label: 'build now', short: 'build', priority: 1 },
  ),
  b(['a'], 'auto-build on/off', ({ store }) => store.getState().buildToggleAutoBuild(), 'build-auto-build'),
  b(
    ['r'],
    'auto-rerun of the last run after a good build on/off',
    ({ store }) => store.getState().buildToggleAutoRerun(),
    'build-auto-rerun',
  ),
  b(
    ['p'],
    "keep run/ (the program's files) across rebuilds on/off",
    ({ store }) => store.getState().buildToggleKeepRun(),
    'build-keep-run',
  ),
  b(
    ['v'],
    "show the build's bom copies as a plan (from where, libraries, warnings) / its output",
    ({ store }) => store.getState().buildToggleView(),
    'build-bom-plan',
    {
      label: (s) => (s.buildSelected()?.boms?.length ? (s.build.view === 'bom' ? 'output' : 'bom plan') : null),
      priority: 2,
    },
  ),
  b(['j', 'down'], 'older build', ({ store }) => store.getState().buildSelect(1), undefined, {
    key: 'j/k',
    label: (s) => (s.build.history.length > 1 ? 'history' : null),
    priority: 2,
  }),
  b(['k', 'up'], 'newer build', ({ store }) => store.getState().buildSelect(-1)),
  b(['l'], 'latest build (follow new builds)', ({ store }) => store.getState().buildSelectLatest(), 'build-latest'),
  b(
    ['pagedown', 'ctrl+d'],
    'scroll the output down',
    ({ store }) => store.getState().buildScroll(OUTPUT_PAGE),
    undefined,
    {
      key: 'PgUp/PgDn',
      label: (s) => (s.build.history.length > 0 ? 'output' : null),
      priority: 2,
    },
  ),
  b(['pageup', 'ctrl+u'], 'scroll the output up', ({ store }) => store.getState().buildScroll(-OUTPUT_PAGE)),
  b(['g', 'home'], 'start of the output', ({ store }) => store.getState().buildScroll('start')),
  b(['G', 'end'], 'end of the output (follow)', ({ store }) => store.getState().buildScroll('end'), undefined, {
    label: (s) => (s.build.outputTop !== null ? 'follow' : null),
    priority: 1,
  }),
  b(
    ['enter'],
    "open the failure's Occlum.json field in the Config pane",
    ({ store }) => store.getState().buildOpenCause(),
    'build-open-cause',
    {
      label: (s) => (s.buildSelected()?.cause?.configPath ? 'open the field in Config' : null),
      short: 'field',
      priority: 2,
    },
  ),
];
