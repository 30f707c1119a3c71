// The Config pane in the real binary inside a real pseudo-terminal: a size edited with keys,
// the error appears and disappears (undo, redo, fix), the file is saved, q quits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY, startTui } from '../helpers/tui.ts';
import { OWN_TEMPLATE } from '../helpers/paths.ts';

const TEMPLATE = OWN_TEMPLATE;

test('edit a size in the Config pane, see the error come and go, save', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-tui-'));
  mkdirSync(join(dir, 'image', 'host'), { recursive: true });
  copyFileSync(TEMPLATE, join(dir, 'Occlum.json'));
  writeFileSync(join(dir, '.__occlum_status'), 'initialized');
  const tui = startTui([dir]);
  // One key per write, as a person types: a pty may merge quick writes into one read.
  const keys = async (...ks: string[]) => {
    for (const k of ks) {
      tui.type(k);
      await new Promise((r) => setTimeout(r, 60));
    }
  };
  try {
    await tui.waitFor('0 errors, 0 warnings', 20_000);
    await tui.waitFor('kernel_space_heap_size: "32MB"');
    await keys('j');
    await tui.waitFor('LibOS kernel heap');
    await keys(KEY.enter);
    await tui.waitFor(/kernel_space_heap_size: 32MB(?!")/); // the line editor is open
    await keys('\x15', ...'32mb', KEY.enter); // ctrl+u clears the field
    await tui.waitFor('1 error, 0 warnings');
    await tui.waitFor('is not a valid size');
    await keys('u');
    await tui.waitFor('0 errors, 0 warnings');
    await keys('\x12'); // ctrl+r
    await tui.waitFor('1 error, 0 warnings');
    await keys('f');
    await tui.waitFor('0 errors, 0 warnings');
    await keys(KEY.enter);
    await tui.waitFor(/kernel_space_heap_size: 32MB(?!")/);
    // Typed with quotes, as the tree shows it: the quotes are JSON's, not part of the size.
    await keys('\x15', ...'"64MB"', KEY.enter);
    await tui.waitFor('kernel_space_heap_size: "64MB"');
    await tui.waitFor('[modified]');
    await keys(KEY.ctrlS);
    await tui.waitForGone('[modified]');
    const saved = readFileSync(join(dir, 'Occlum.json'), 'utf8');
    assert.equal(
      saved,
      readFileSync(TEMPLATE, 'utf8').replace('"kernel_space_heap_size": "32MB"', '"kernel_space_heap_size": "64MB"'),
    );
    tui.type('q');
    assert.equal(await tui.exited, 0);
  } finally {
    tui.kill();
  }
});
