// Files pane keys, in the one keymap (scope 'files'): `?` lists them, the palette runs those with
// a command name. While the extract prompt is open the line editor owns the keyboard.
import type { Binding } from '../../keymap.ts';
import { paneBinding } from '../../pane-binding.ts';

const b = paneBinding('files');

/** Lines a page key scrolls the preview (the panel is at least this tall on an 80x24 terminal). */
const PAGE = 10;

export const filesBindings: Binding[] = [
  b(['j', 'down'], 'next entry', ({ store }) => store.getState().filesMove(1)),
  b(['k', 'up'], 'previous entry', ({ store }) => store.getState().filesMove(-1)),
  b(['g', 'home'], 'first entry', ({ store }) => store.getState().filesMoveTo('first')),
  b(['G', 'end'], 'last entry', ({ store }) => store.getState().filesMoveTo('last')),
  b(
    ['enter'],
    'expand or collapse the directory; in verify/diff results: show the highlighted path in the tree',
    ({ store }) => {
      const s = store.getState();
      if (s.files.panel === 'preview') s.filesToggle();
      else s.filesOpenResult();
    },
    'files-toggle',
    { label: 'expand', priority: 1 },
  ),
  b(['right'], 'expand the directory (or step into it)', ({ store }) => store.getState().filesExpand()),
  b(
    ['left'],
    'collapse the directory, or go to the parent',
    ({ store }) => store.getState().filesCollapse(),
    undefined,
    {
      key: '←/→',
      label: 'collapse/expand',
      short: 'tree',
      priority: 3,
    },
  ),
  b(
    ['pagedown', 'ctrl+d'],
    'scroll the preview / results down',
    ({ store }) => store.getState().filesScroll(PAGE),
    undefined,
    { key: 'PgUp/PgDn', label: 'scroll', priority: 3 },
  ),
  b(['pageup', 'ctrl+u'], 'scroll the preview / results up', ({ store }) => store.getState().filesScroll(-PAGE)),
  b(['J'], 'scroll the preview one line / next result', ({ store }) => store.getState().filesScroll(1)),
  b(['K'], 'scroll the preview one line / previous result', ({ store }) => store.getState().filesScroll(-1)),
  b(['h'], 'preview as hex / as text', ({ store }) => store.getState().filesToggleHex(), 'files-hex', {
    label: 'hex/text',
    short: 'hex',
    priority: 3,
  }),
  b(['l'], 'switch layer: merged → image → run', ({ store }) => store.getState().filesCycleLayer(), 'files-layer', {
    label: 'layer',
    priority: 2,
  }),
  b(
    ['v'],
    'verify the MAC chain of this layer (progress, problems by path)',
    ({ store }) => void store.getState().filesVerify(),
    'files-verify',
    { label: 'verify', priority: 2 },
  ),
  b(
    ['x'],
    'extract the selected file or directory to a directory you name',
    ({ store }) => store.getState().filesStartExtract(),
    'files-extract',
    { label: 'extract', priority: 2 },
  ),
  b(
    ['X'],
    'cancel the running extract (the file in progress is removed)',
    ({ store }) => store.getState().filesCancelExtract(),
    'files-extract-cancel',
  ),
  b(
    ['d'],
    'diff the image against image/ (what a rebuild would change)',
    ({ store }) => void store.getState().filesDiff(),
    'files-diff',
    { label: 'diff', priority: 2 },
  ),
  b(['p', 'escape'], 'back to the preview', ({ store }) => store.getState().filesSetPanel('preview'), 'files-preview', {
    label: 'preview',
    priority: 3,
  }),
  b(
    ['r'],
    'reopen the file system (after a build or run)',
    ({ store }) => void store.getState().filesOpen(true),
    'files-reload',
    { label: 'reload', priority: 3 },
  ),
];
