// The Logs pane in the real binary (pty + headless xterm): open a saved log with `o`, see the
// records level-coloured in the bundled app, filter to errors, see a hint, and the help list.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTui, KEY, type Tui } from '../helpers/tui.ts';
import { LOG_SAMPLES, needsCorpus } from '../helpers/paths.ts';

const work = mkdtempSync(join(tmpdir(), 'studio-logs-'));
const running: Tui[] = [];
after(() => {
  running.forEach((t) => t.kill());
  rmSync(work, { recursive: true, force: true });
});

test(
  'open a saved log, filter to errors, hint under the boot failure, keys in the help',
  { skip: needsCorpus(LOG_SAMPLES) },
  async () => {
    writeFileSync(join(work, 'Occlum.json'), '{}\n');
    writeFileSync(join(work, '.__occlum_status'), 'built\n');
    // Tall enough for the help overlay, which does not scroll (it lists every Logs key).
    const tui = startTui([work], { cwd: work, cols: 160, rows: 60 });
    running.push(tui);
    await tui.waitFor('5 Logs');
    tui.type('5');
    await tui.waitFor('No log records yet');
    tui.type('o');
    await tui.waitFor('open log file:');
    tui.type(join(LOG_SAMPLES, 'occlum-log-samples.txt'));
    tui.type(KEY.enter);
    await tui.waitFor(/Logs · FOLLOW · \d+ records · next run OCCLUM_LOG_LEVEL=off · file:occlum-log-samples\.txt/);
    await tui.waitFor('copy_bom::util');
    // Errors only, no program output; then the first error and walk to the VM boot failure.
    // One key at a time, each waited for: keys that reach Ink in one chunk read as pasted text.
    for (const levels of ['error,warn,info,debug', 'error,warn,info', 'error,warn', 'error']) {
      tui.type('-');
      await tui.waitFor(`levels: ${levels} ·`);
    }
    tui.type('p');
    await tui.waitFor('levels: error · program output hidden');
    assert.doesNotMatch(tui.screen(), /TRACE|Building new image/);
    await tui.waitFor(/hint: raise resource_limits\.user_space_size/);
    tui.type('?');
    await tui.waitFor('Keys (? or escape closes)');
    assert.match(tui.screen(), /e\s+next error/);
    assert.match(tui.screen(), /search \(highlight; n\/N to move; empty clears\)/);
    tui.type(KEY.escape);
    await tui.waitForGone('Keys (? or escape closes)');
    tui.type('q');
    assert.equal(await tui.exited, 0);
  },
);
