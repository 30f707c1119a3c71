// The Config pane inside the real shell (App + keymap + store), driven by keys through
// ink-testing-library: navigate, edit a size, see the error appear and disappear, fix, undo/redo,
// search, add and delete list items, save, and an outside change shown as a conflict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStudioStore, openInstance } from '../../src/store/index.ts';
import { CONFIG_CORPUS, OWN_TEMPLATE, needsCorpus } from '../helpers/paths.ts';
import { renderStudio } from '../helpers/render-studio.tsx';

const TEMPLATE = OWN_TEMPLATE;
const KEY = {
  enter: '\r',
  down: '\x1b[B',
  up: '\x1b[A',
  esc: '\x1b',
  ctrlU: '\x15',
  ctrlS: '\x13',
  ctrlR: '\x12',
  ctrlO: '\x0f',
};

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-pane-'));
  mkdirSync(join(dir, 'image', 'host'), { recursive: true });
  copyFileSync(TEMPLATE, join(dir, 'Occlum.json'));
  writeFileSync(join(dir, '.__occlum_status'), 'initialized');
  const store = createStudioStore({ launchDir: dir });
  await openInstance(store, dir);
  const { ui, frame, press } = renderStudio(store, 15);
  return { dir, store, ui, press, frame, file: join(dir, 'Occlum.json') };
}

test('edit a size: the error appears, undo/redo/fix make it disappear and reappear', async () => {
  const { store, ui, press, frame } = await setup();
  try {
    assert.match(frame(), /Occlum\.json/);
    assert.match(frame(), /0 errors, 0 warnings/);
    assert.match(frame(), /resource_limits/);
    await press('j'); // resource_limits → kernel_space_heap_size
    assert.deepEqual(store.getState().config.selection, ['resource_limits', 'kernel_space_heap_size']);
    assert.match(frame(), /LibOS kernel heap/, 'key help for the selected key');
    await press(KEY.enter, KEY.ctrlU, ...'32mb', KEY.enter);
    assert.equal(store.getState().config.mode, 'tree');
    assert.match(frame(), /1 error, 0 warnings/);
    assert.match(frame(), /✖/);
    assert.match(frame(), /is not a valid size/);
    assert.match(frame(), /\[modified\]/);
    await press('u');
    assert.match(frame(), /0 errors/);
    await press(KEY.ctrlR);
    assert.match(frame(), /1 error/);
    await press('f');
    assert.match(frame(), /0 errors/);
    assert.match(frame(), /kernel_space_heap_size: "32MB"/);
  } finally {
    ui.unmount();
  }
});

// A loaded machine's pty (or a paste) hands the studio several keys in one read: the line
// editor applies each editing key in order instead of inserting it as text.
test('keys merged into one chunk: ctrl+u, backspace, ctrl+a, ctrl+e and the text each take effect', async () => {
  const { store, ui, press, frame } = await setup();
  try {
    await press('j', KEY.enter);
    await press(`${KEY.ctrlU}64MX\x7fB\x01"\x05"`); // → "64MB", as JSON
    await press(KEY.enter);
    assert.equal(store.getState().config.mode, 'tree');
    assert.match(frame(), /kernel_space_heap_size: "64MB"/);
    assert.match(frame(), /0 errors, 0 warnings/);
  } finally {
    ui.unmount();
  }
});

test('save writes only the edited value; an outside change becomes a conflict', async () => {
  const { store, ui, press, frame, file } = await setup();
  try {
    await press('j', KEY.enter, KEY.ctrlU, ...'64MB', KEY.enter, KEY.ctrlS);
    const saved = readFileSync(file, 'utf8');
    assert.equal(
      saved,
      readFileSync(TEMPLATE, 'utf8').replace('"kernel_space_heap_size": "32MB"', '"kernel_space_heap_size": "64MB"'),
    );
    assert.doesNotMatch(frame(), /\[modified\]/);
    // Edit again, then someone else writes the file.
    await press('j', KEY.enter, KEY.ctrlU, ...'2MB', KEY.enter);
    writeFileSync(file, saved.replace('"300MB"', '"400MB"'));
    store.getState().configCheckDisk();
    await press(); // let Ink re-render
    await new Promise((r) => setTimeout(r, 20));
    assert.match(frame(), /changed on disk while you have unsaved edits/);
    await press(KEY.ctrlS);
    assert.match(readFileSync(file, 'utf8'), /"400MB"/, 'not overwritten');
    await press('R');
    assert.match(store.getState().config.text, /"400MB"/);
    await press('u');
    assert.match(store.getState().config.text, /"kernel_space_stack_size": "2MB"/, 'own edits stay undoable');
    await press(KEY.ctrlO);
    assert.match(readFileSync(file, 'utf8'), /"kernel_space_stack_size": "2MB"/);
  } finally {
    ui.unmount();
  }
});

test('search keys, add and delete list items, booleans, problems list with jump and fix', async () => {
  const { store, ui, press, frame } = await setup();
  try {
    await press('/', ...'entry', KEY.enter);
    assert.deepEqual(store.getState().config.selection, ['entry_points']);
    await press('a', ...'/usr/bin', KEY.enter);
    assert.deepEqual(JSON.parse(store.getState().config.text).entry_points, ['/bin', '/usr/bin']);
    await press('a', ...'opt', KEY.enter);
    assert.match(frame(), /entry point "opt" is not absolute/);
    await press('x');
    assert.deepEqual(JSON.parse(store.getState().config.text).entry_points, ['/bin', '/usr/bin']);
    await press('/', ...'debuggable', KEY.enter, KEY.enter);
    assert.equal(JSON.parse(store.getState().config.text).metadata.debuggable, false);
    await press('/', ...'mount', KEY.enter, 'a');
    assert.equal(JSON.parse(store.getState().config.text).mount.length, 3);
    assert.match(frame(), /does not exist on the host|mount point \/data/);
    // A key added to a section starts from its template or a value of its type.
    await press('/', ...'resource_limits', KEY.enter, 'a', ...'kernel_space_heap_max_size', KEY.enter);
    assert.equal(JSON.parse(store.getState().config.text).resource_limits.kernel_space_heap_max_size, '1MB');
    assert.deepEqual(store.getState().config.selection, ['resource_limits', 'kernel_space_heap_max_size']);
    // Problems list: focus, jump, fix.
    await press('/', ...'user_space_size', KEY.enter, KEY.enter, KEY.ctrlU, ...'300 mb', KEY.enter);
    await press('p');
    const problems = store.getState().config.result!.diagnostics;
    const idx = problems.findIndex((d) => d.code === 'size-unit');
    for (let i = 0; i < idx; i++) await press('j');
    await press('f');
    assert.match(store.getState().config.text, /"user_space_size": "300MB"/);
    await press('p');
    assert.equal(store.getState().config.mode, 'tree');
  } finally {
    ui.unmount();
  }
});

test('editing a string in a file with comments starts from its current value', async () => {
  const { store, ui, press, frame, file } = await setup();
  try {
    writeFileSync(file, readFileSync(TEMPLATE, 'utf8').replace('"process": {', '// tuned\n    "process": {'));
    store.getState().configCheckDisk();
    await press('/', ...'default_heap', KEY.enter, KEY.enter, ...'X', KEY.enter);
    assert.match(store.getState().config.text, /"default_heap_size": "32MBX"/);
    assert.match(frame(), /key must be a string/);
  } finally {
    ui.unmount();
  }
});

test('a broken or non-object file: the pane shows the problems and keys do nothing harmful', async () => {
  const { store, ui, press, frame, file } = await setup();
  try {
    for (const text of ['', '{"resource_limits": {', '[1, 2]', '\u0000\u0001garbage']) {
      writeFileSync(file, text);
      await press('R'); // reload (earlier iterations may have left edits)
      await press('j', KEY.enter, 'x', 'f', 'p', KEY.enter, 'p', 'a', KEY.esc, 'h', 'l');
      assert.match(frame(), /Problems \([1-9]/, JSON.stringify(text));
      // Without a tree there is nothing to edit; with a partial tree, edits apply to it.
      if (text === '' || text.startsWith('\u0000'))
        assert.equal(store.getState().config.text, text, 'no edit was made');
    }
  } finally {
    ui.unmount();
  }
});

const V028 = join(CONFIG_CORPUS, 'occlum-history', 'v0.28.0__etc__template__Occlum.json');

test('M migrates an older config in one undoable step', { skip: needsCorpus(V028) }, async () => {
  const { store, ui, press, file } = await setup();
  try {
    writeFileSync(file, readFileSync(V028, 'utf8'));
    store.getState().configCheckDisk(); // clean buffer: reloads silently
    await press();
    assert.equal(store.getState().config.result!.version, '0.30.0');
    await press('M');
    const migrated = JSON.parse(store.getState().config.text);
    assert.deepEqual(Object.keys(migrated.feature), ['amx', 'pkru', 'io_uring', 'enable_edmm', 'enable_posix_shm']);
    assert.equal(store.getState().config.result!.version, '0.31.0');
    assert.equal(store.getState().config.result!.counts.error, 0);
    await press('u');
    assert.equal(store.getState().config.result!.version, '0.30.0');
  } finally {
    ui.unmount();
  }
});

test('? help lists the Config pane keys from the keymap', async () => {
  const { ui, press, frame } = await setup();
  try {
    await press('?');
    assert.match(frame(), /apply the fix of the selected problem/);
    assert.match(frame(), /next key \(or next problem\)/);
    await press(KEY.esc);
  } finally {
    ui.unmount();
  }
});
