// A click on a list row selects it, in every list: the Files tree, Logs records, the Build
// history, Config keys and problems, Run tabs, the Run picker, the palette, the start screen.
// Driven through the real binary in a pty with the SGR mouse reports a terminal sends.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clickOn, KEY, runFromPane, startTui, type Tui } from '../helpers/tui.ts';
import { CLI } from '../helpers/paths.ts';

const work = mkdtempSync(join(tmpdir(), 'studio-click-'));
const dir = join(work, 'demo');
const log = join(work, 'run.log');
const running: Tui[] = [];

before(() => {
  execFileSync(process.execPath, [CLI, 'demo', dir, '--no-open']);
  writeFileSync(
    log,
    [
      '[2026-03-01T10:00:00.100Z][ INFO][T0][#0][entry] first record',
      '[2026-03-01T10:00:00.200Z][ WARN][T1][#2][·····Brk][vm] second record',
      '[2026-03-01T10:00:00.300Z][ERROR][T2][#7][····Open][fs] third record',
      '',
    ].join('\n'),
  );
  // One problem for the Config pane's list: a size that is not one.
  const cfg = join(dir, 'Occlum.json');
  writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('"300MB"', '"300 apples"'));
});
after(() => {
  running.forEach((t) => t.kill());
  rmSync(work, { recursive: true, force: true });
});

test('a click selects the row under it in every list', { timeout: 180_000 }, async () => {
  const tui = startTui([dir], { cwd: dir, cols: 120, rows: 36 });
  running.push(tui);
  await tui.waitFor(/demo │ host/);
  await tui.waitForQuiet(); // raw mode comes just after the first frame

  // Config: a key in the tree (its help shows on the right), then the problem in the list.
  tui.type('1');
  await tui.waitFor('max_num_of_threads: 32');
  clickOn(tui, 'max_num_of_threads');
  await tui.waitFor(/│?\s*resource_limits\.max_num_of_threads/);
  await tui.waitFor('Problems (1)');
  clickOn(tui, 'is not a valid size');
  await tui.waitFor('Problems (1) (focused)');
  tui.type(KEY.enter); // the selected problem jumps to its key
  await tui.waitFor(/resource_limits\.user_space_size/);

  // Files: a directory row.
  tui.type('4');
  await tui.waitFor('▸ lib/');
  clickOn(tui, 'lib/');
  await tui.waitFor(/^.*\/lib$/m);

  // Logs: the first record of three (the cursor follows the last one).
  tui.type('5');
  await tui.waitFor('No log records yet');
  tui.type('o');
  await tui.waitFor('open log file:');
  tui.type(log);
  tui.type(KEY.enter);
  await tui.waitFor('third record');
  await tui.waitFor('FOLLOW');
  clickOn(tui, 'first record');
  await tui.waitFor('paused');
  tui.type('t'); // filter by the selected record's thread: only T0's record stays
  await tui.waitFor('thread T0');
  await tui.waitForGone('third record');

  // Build: two builds; a click on the older one shows its details.
  tui.type('2');
  await tui.waitFor('watching');
  tui.type('b');
  await tui.waitFor(/#1\s+FAILED/, 90_000); // the bad size above fails it: fine for a list
  tui.type('b');
  await tui.waitFor(/#2\s+FAILED/, 90_000);
  await tui.waitFor(/output of #2/);
  clickOn(tui, '#1 ');
  await tui.waitFor(/output of #1/);

  // Run: two tabs (one program at a time per instance: each answers and ends); a click on the first focuses it.
  await runFromPane(tui, '/bin/hello first');
  await tui.waitFor('What is your name?');
  tui.type(`Ann${KEY.enter}`);
  await tui.waitFor(/hello first ✓ 0/);
  tui.type('r');
  await tui.waitFor('Run a program');
  tui.type('/bin/hello second');
  tui.type(KEY.enter);
  await tui.waitFor('What is your name?');
  tui.type(`Bob${KEY.enter}`);
  await tui.waitFor(/hello second ✓ 0/);
  await tui.waitFor('argv[1] = second');
  clickOn(tui, 'hello first');
  await tui.waitFor('argv[1] = first');
  assert.doesNotMatch(tui.screen(), /argv\[1\] = second/);

  // Lists a text field filters take clicks too: a picker choice (then enter runs it)…
  tui.type('r');
  await tui.waitFor('/bin/hello first  (history)');
  clickOn(tui, '/bin/hello first  (history)');
  await tui.waitFor('▸ /bin/hello first');
  tui.type(KEY.enter);
  await tui.waitFor('running /bin/hello first');
  tui.type(`Cy${KEY.enter}`);
  await tui.waitFor('Nice to meet you, Cy');
  // The program has the keys until its exit is seen (its tab shows the status): only then ':'.
  await tui.waitFor(/hello second ✓ 0\s+hello first ✓ 0/);
  // …and a palette command.
  tui.type(':');
  await tui.waitFor(/^│ :/m);
  tui.type('pane-');
  await tui.waitFor('pane-files');
  clickOn(tui, 'pane-files');
  await tui.waitForQuiet(); // the selection is redrawn (inverse: not in the text) before enter
  tui.type(KEY.enter);
  await tui.waitFor(/\nFiles · /);

  tui.type('q');
  await tui.exited;
});

test('on the start screen a click selects an instance, enter opens it', { timeout: 60_000 }, async () => {
  const other = join(work, 'other');
  mkdirSync(other);
  writeFileSync(join(other, 'Occlum.json'), '{}\n');
  const tui = startTui([], { cwd: work, cols: 100, rows: 24 });
  running.push(tui);
  await tui.waitFor('Instances below this directory');
  await tui.waitFor(/^ {2}other\b/m);
  await tui.waitForQuiet();
  const listed = tui
    .screen()
    .split('\n')
    .filter((l) => /^ {2}(demo|other)\b/.test(l));
  const target = listed[1]!.trim().split(' ')[0]!; // the one not selected at first
  clickOn(tui, `${target} `);
  tui.type(KEY.enter);
  await tui.waitFor(new RegExp(`^ ${target} │`, 'm'));
  tui.type('q');
  await tui.exited;
});
