// The layout rule, checked through the real binary in a pty at the sizes users have: every pane
// and overlay keeps the frame — the tab bar on the first row, the status bar (with `?` reachable)
// on the last — with a prebuild that prints colour, tabs, carriage returns, wide characters and
// lines far wider than the screen; below the minimum size one line says so.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTui, KEY, type Tui } from '../helpers/tui.ts';
import { CLI } from '../helpers/paths.ts';

const work = mkdtempSync(join(tmpdir(), 'studio-layout-'));
const dir = join(work, 'demo');
const running: Tui[] = [];
const SIZES = [
  [60, 20],
  [80, 24],
  [120, 36],
  [200, 50],
] as const;
const NOISY =
  "printf '\\033[1;31mwarning\\033[0m:\\ta\\tb\\rXX\\n'; printf 'progress 10%%\\rprogress 100%%\\n'; printf '%0400d\\n' 1; " +
  "printf '\\033]0;retitled\\007wide 世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界\\n'; " +
  'musl-gcc -O2 -fPIE -pie -o image/bin/hello src/hello.c';

before(() => {
  execFileSync(process.execPath, [CLI, 'demo', dir, '--no-open']);
  writeFileSync(join(dir, '.occlum-studio.json'), JSON.stringify({ prebuild: NOISY, watch: ['src/**/*.c'] }));
});
after(() => {
  running.forEach((t) => t.kill());
  rmSync(work, { recursive: true, force: true });
});

/** The frame every screen keeps, whatever the pane shows (once the redraw after a key or resize is in). */
async function assertFrame(tui: Tui, cols: number, rows: number, where: string): Promise<void> {
  // Ink redraws after a resize in steps; wait for a frame with both bars in place, then check it.
  const frame = new RegExp(`^(occlum-studio)?\\s*1\\b.* 5\\b[^\\n]*\\n(.*\\n){${rows - 2}} demo\\b`);
  await tui.waitFor(frame).catch(() => {});
  const lines = tui.screen().split('\n');
  const at = `${where} at ${cols}x${rows}:\n${tui.screen()}`;
  assert.equal(lines.length, rows, at);
  assert.match(lines[0]!, /^(occlum-studio)?\s*1\b.* 5\b/, `tab bar on one row, ${at}`);
  assert.match(lines[rows - 1]!, /^ demo\b.*(\?|press)/, `status bar on the last row with ? reachable, ${at}`);
  assert.ok(!tui.raw().includes('\x1b]0;'), `the prebuild's title sequence reached the terminal, ${at}`);
}

test(
  'every pane and overlay keeps its frame at 60x20, 80x24, 120x36 and 200x50, with and without prebuild output',
  { timeout: 240_000 },
  async () => {
    const tui = startTui([dir], { cwd: dir, cols: 80, rows: 24 });
    running.push(tui);
    await tui.waitFor(/demo │ host/);
    for (const withOutput of [false, true]) {
      if (withOutput) {
        tui.type('2');
        await tui.waitFor(/watching/);
        tui.type('b');
        await tui.waitFor(/#1\s+ok/, 60_000);
      }
      for (const [cols, rows] of SIZES) {
        tui.resize(cols, rows);
        await tui.waitFor(new RegExp(`^(.*\\n){${rows - 1}} demo\\b`));
        // What the pane's first row shows (the tab bar also names every pane, so it cannot tell).
        const firstRows = [
          ['1', /\nOcclum\.json · /],
          ['2', /\nBuild {2}/],
          ['3', /\n(Nothing is running|.*hello)/],
          ['4', /\nFiles · /],
          ['5', /\nLogs/],
        ] as const;
        for (const [key, title] of firstRows) {
          tui.type(key);
          await tui.waitFor(title);
          await assertFrame(tui, cols, rows, `pane ${key}${withOutput ? ' after a noisy prebuild' : ''}`);
          // The Build header is one row however long the prebuild (it once split the title: "Buil" / "d").
          if (key === '2') assert.match(tui.screen().split('\n')[1]!, /^Build {2}\S/, tui.screen());
        }
        tui.type('?');
        await tui.waitFor('Keys (? or escape closes)');
        await assertFrame(tui, cols, rows, 'help');
        tui.type(KEY.escape);
        await tui.waitForGone('Keys (? or escape closes)');
        tui.type(':');
        await tui.waitFor(/^│ :/m);
        await assertFrame(tui, cols, rows, 'palette');
        const lines = tui.screen().split('\n');
        assert.ok(
          lines.some((r) => r.startsWith('╭') && r.endsWith('╮')) &&
            lines.some((r) => r.startsWith('╰') && r.endsWith('╯')),
          tui.screen(),
        );
        tui.type(KEY.escape);
        await tui.waitForGone(/^│ :/m);
      }
    }
    tui.type('q');
    await tui.exited;
  },
);

test(
  'below 40x10 one line says the terminal is too small; growing it brings the studio back',
  { timeout: 60_000 },
  async () => {
    const tui = startTui([dir], { cwd: dir, cols: 39, rows: 12 });
    running.push(tui);
    await tui.waitFor('terminal too small: 39x12 < 40x10');
    tui.resize(40, 10);
    await tui.waitFor(/demo\b/);
    await assertFrame(tui, 40, 10, 'the smallest size');
    tui.type('q');
    await tui.exited;
  },
);

test(
  'mouse: a click on a tab focuses its pane, the wheel scrolls the help; --no-mouse leaves the terminal alone',
  { timeout: 120_000 },
  async () => {
    const tui = startTui([dir], { cwd: dir, cols: 120, rows: 36 });
    running.push(tui);
    await tui.waitFor(/demo │ host/);
    assert.ok(tui.raw().includes('\x1b[?1000h\x1b[?1006h'), 'mouse reporting is turned on');
    // "occlum-studio  1 Config  2 Build  3 Run": column 30 is in "2 Build".
    const buildAt = tui.screen().split('\n')[0]!.indexOf('2 Build') + 2;
    tui.type(`\x1b[<0;${buildAt};1M\x1b[<0;${buildAt};1m`);
    await tui.waitFor(/\nBuild {2}/);
    tui.resize(120, 12); // the help no longer fits: the wheel scrolls it
    tui.type('?');
    await tui.waitFor('Keys (? or escape closes)');
    await tui.waitFor(/│ This pane/);
    tui.type('\x1b[<65;10;10M'.repeat(3));
    await tui.waitForGone(/│ This pane/);
    tui.type(KEY.escape);
    // An escape followed at once by q would read as alt+q: wait for the help to close first.
    await tui.waitForGone('Keys (? or escape closes)');
    tui.type('q');
    await tui.exited;
    assert.ok(tui.raw().includes('\x1b[?1006l\x1b[?1000l'), 'and off again on the way out');

    const plain = startTui([dir, '--no-mouse'], { cwd: dir, cols: 120, rows: 36 });
    running.push(plain);
    await plain.waitFor(/demo │ host/);
    plain.type('q');
    await plain.exited;
    assert.ok(!plain.raw().includes('\x1b[?1000h'));
  },
);
