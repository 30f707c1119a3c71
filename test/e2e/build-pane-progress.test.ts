// The Build and Run panes say what a long step is doing, through the real binary in a
// pseudo-terminal: the first build of a 6000-file image shows its count under the Build pane's
// header and on the Run pane's status line while it stages and packs, and the line goes when the
// build ends.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { makeInstance } from '../helpers/host-instance.ts';
import { startTui, type Tui } from '../helpers/tui.ts';

const running: Tui[] = [];
let dir = '';
after(() => {
  running.forEach((t) => t.kill());
  if (dir) rmSync(dirname(dir), { recursive: true, force: true });
});

test('Build and Run panes: a long first build shows its progress, and the line goes when it ends', async () => {
  dir = makeInstance(['hello']);
  for (let d = 0; d < 60; d++) {
    const sub = join(dir, 'image', 'data', `d${d}`);
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < 100; f++) writeFileSync(join(sub, `f${f}`), `${d}.${f}\n`);
  }
  const tui = startTui([dir], { cwd: dir, cols: 120, rows: 32 });
  running.push(tui);
  await tui.waitFor(/inst/);
  tui.type('2');
  await tui.waitFor('not built yet');
  tui.type('b');
  // Under the header, while the image layer is staged or the secure image packed: the step and
  // its count (of the total, when known).
  const live = /^(Staging the image layer: [\d,]+|Building new image: [\d,]+\/6,0\d\d)…$/m;
  await tui.waitFor(live, 60_000);
  // The Run pane's status line says it too (the rerun waits for the build).
  tui.type('3');
  await tui.waitFor(/^dev loop: (Staging the image layer|Building new image): [\d,/]+…$/m, 60_000);
  tui.type('2');
  await tui.waitFor(/> #1\s+ok/, 120_000);
  await tui.waitForGone(live);
  tui.type('q');
  assert.equal(await tui.exited, 0);
});
