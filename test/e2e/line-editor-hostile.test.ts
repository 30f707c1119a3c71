// The one-line editor (Config pane edits, the palette, the Run pane's picker, search and filter
// lines, the Files pane's extract line) showed its text as it was: editing a value of a hostile
// Occlum.json put its escape sequences on the terminal (`ESC ] 0 ; … BEL` retitled it), and a
// pasted control reached it too. Its text is shown through sanitizeForTerminal, as every pane's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY, startTui } from '../helpers/tui.ts';
import { OWN_TEMPLATE } from '../helpers/paths.ts';

test('editing a hostile config value and pasting controls: the line shows them escaped, the terminal gets none', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'line-editor-hostile-'));
  mkdirSync(join(dir, 'image', 'host'), { recursive: true });
  copyFileSync(OWN_TEMPLATE, join(dir, 'Occlum.json'));
  writeFileSync(join(dir, '.__occlum_status'), 'initialized');
  const cfg = JSON.parse(readFileSync(join(dir, 'Occlum.json'), 'utf8'));
  cfg.resource_limits.kernel_space_heap_size = '32MB\u001b]0;PWNED\u0007\u001b[2J';
  writeFileSync(join(dir, 'Occlum.json'), JSON.stringify(cfg, null, 4) + '\n');
  const tui = startTui([dir]);
  try {
    await tui.waitFor('kernel_space_heap_size', 20_000);
    tui.type('j');
    await tui.waitFor('LibOS kernel heap');
    const before = tui.raw().length;
    tui.type(KEY.enter);
    await tui.waitFor('kernel_space_heap_size: 32MB\\e]0;PWNED\\x07\\e[2J'); // the line editor is open
    const editing = tui.raw().slice(before);
    assert.doesNotMatch(editing, /\x1b\]0;PWNED/, 'no OSC title sequence reached the terminal');
    assert.doesNotMatch(editing, /\x07/);
    tui.type(KEY.escape);
    await tui.waitForGone('kernel_space_heap_size: 32MB\\e');

    tui.type(':');
    await tui.waitFor(/│ :\s/);
    const pasting = tui.raw().length;
    tui.type('abc\x07\x0e\u009b2Jdef');
    await tui.waitFor(':abc\\x07\\x0e\\x9b2Jdef');
    assert.doesNotMatch(tui.raw().slice(pasting), /[\x07\x0e\u009b]/, 'no pasted control reached the terminal');
  } finally {
    tui.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
