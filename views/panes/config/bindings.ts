// Config pane keys, in the one keymap's format (scope 'config'): `?` lists them, the palette
// runs those with a command name.
import type { Binding } from '../../keymap.ts';
import { paneBinding } from '../../pane-binding.ts';
import * as act from './actions.ts';

const b = paneBinding('config');

export const configBindings: Binding[] = [
  b(['j', 'down'], 'next key (or next problem)', ({ store }) => act.move(store, 1)),
  b(['k', 'up'], 'previous key (or previous problem)', ({ store }) => act.move(store, -1)),
  b(['pagedown'], 'ten keys down', ({ store }) => act.move(store, 10)),
  b(['pageup'], 'ten keys up', ({ store }) => act.move(store, -10)),
  b(['home'], 'first key', ({ store }) => act.moveTo(store, 'first')),
  b(['end'], 'last key', ({ store }) => act.moveTo(store, 'last')),
  b(['h', 'left'], 'collapse / go to parent', ({ store }) => act.collapseOrParent(store)),
  b(['l', 'right'], 'expand / go to first child', ({ store }) => act.expandOrChild(store)),
  b(
    ['enter', 'e'],
    'edit value, toggle boolean, open/close section; in problems: jump to key',
    ({ store }) => act.activate(store),
    undefined,
    { label: (s) => (s.config.mode === 'problems' ? 'jump' : 'edit'), priority: 1 },
  ),
  b(
    ['a'],
    'add a list item (entry_points, env, mount, layers) or a key to the selected section',
    ({ store }) => act.addItem(store),
    'config-add-item',
    { label: 'add', priority: 2 },
  ),
  b(['x'], 'delete the selected key or item', ({ store }) => act.deleteSelected(store), 'config-delete', {
    label: 'delete',
    priority: 2,
  }),
  b(['f'], 'apply the fix of the selected problem', ({ store }) => act.applyFix(store), 'config-fix', {
    label: (s) => (s.config.result?.diagnostics.some((d) => d.fix) ? 'fix' : null),
    priority: 2,
  }),
  b(
    ['M'],
    'migrate the config to the current Occlum version (one step, undoable)',
    ({ store }) => act.migrate(store),
    'config-migrate',
  ),
  b(['p'], 'problems list: focus / back to the tree', ({ store }) => act.toggleProblems(store), 'config-problems', {
    label: (s) => (s.config.mode === 'problems' ? 'back to the tree' : 'problems'),
    short: 'list',
    priority: 2,
  }),
  b(['/'], 'search keys', ({ store }) => act.startSearch(store), 'config-search', { label: 'search', priority: 3 }),
  b(['n'], 'next search match', ({ store }) => {
    act.searchNext(store);
  }),
  b(['u', 'ctrl+z'], 'undo', ({ store }) => store.getState().configUndo(), 'config-undo', {
    label: 'undo',
    priority: 1,
  }),
  b(['ctrl+r', 'ctrl+y'], 'redo', ({ store }) => store.getState().configRedo(), 'config-redo'),
  b(['ctrl+s', 'w'], 'save Occlum.json', ({ store }) => act.save(store), 'config-save', {
    key: 'w',
    label: 'save',
    priority: 1,
  }),
  b(
    ['ctrl+o'],
    'save over a file changed on disk (conflict)',
    ({ store }) => act.save(store, true),
    'config-overwrite',
  ),
  b(
    ['R'],
    'reload Occlum.json from disk (edits stay undoable)',
    ({ store }) => store.getState().configReloadFromDisk(),
    'config-reload',
  ),
  b(
    ['z'],
    'apply the last sizing recommendation (z in the Run pane measures a program; u undoes)',
    ({ store }) => store.getState().sizingApply(),
    'config-apply-sizing',
  ),
];
