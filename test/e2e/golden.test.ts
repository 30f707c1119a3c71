// Golden screens: every pane and overlay of the demo instance, at 60x20, 80x24, 120x36 and
// 200x50, before and after a build whose prebuild prints colour, tabs, carriage returns, wide
// characters and over-long lines. One studio per size (started at that size) walks the screens;
// each is compared, with what varies between runs normalised (times, durations, MACs, inodes),
// to test/e2e/golden/<size>/<screen>.txt. UPDATE_GOLDEN=1 rewrites the files; review them by
// eye before committing (a golden file that keeps a broken layout is worse than none).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KEY, startTui, type Tui } from '../helpers/tui.ts';
import { CLI } from '../helpers/paths.ts';

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const SIZES = [
  [60, 20],
  [80, 24],
  [120, 36],
  [200, 50],
] as const;
const NOISY =
  "printf '\\033[1;31mwarning\\033[0m:\\ta\\tb\\rXX\\n'; printf 'progress 10%%\\rprogress 100%%\\n'; printf '%0400d\\n' 1; " +
  "printf 'wide 世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界世界\\n'; " +
  'musl-gcc -O2 -fPIE -pie -o image/bin/hello src/hello.c';

// In /tmp itself, not $TMPDIR: the screens show the path (as <tmp>), so its length sets where lines wrap.
const work = mkdtempSync('/tmp/studio-golden-');
const base = join(work, 'base', 'demo');
const running: Tui[] = [];

before(() => {
  execFileSync(process.execPath, [CLI, 'demo', base, '--no-open']);
  writeFileSync(
    join(base, '.occlum-studio.json'),
    JSON.stringify({ prebuild: NOISY, watch: ['src/**/*.c'], autoRerun: false }),
  );
});
after(() => {
  running.forEach((t) => t.kill());
  rmSync(work, { recursive: true, force: true });
});

const MARKS = ['<tmp>', 'HH:MM:SS', '<t>', '<mac>', '<hex>', 'inode N', 'pid N'];

/** What differs between two runs of the same screen, replaced by fixed marks. */
export function normalise(screen: string): string {
  return screen
    .split('\n')
    .map((line) => {
      const out = line
        .replaceAll(work, '<tmp>')
        .replace(/\b\d{1,2}:\d{2}:\d{2}( [AP]M)?/g, 'HH:MM:SS')
        .replace(/\b\d+(\.\d+)? (ms|s)\b/g, '<t>')
        .replace(/\b[0-9a-f]{2}(-[0-9a-f]{2}){3,}-?…?/g, '<mac>')
        .replace(/\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{8,}…?/g, '<hex>')
        .replace(/\b(inode|pid) \d+/g, '$1 N');
      // A line cut at the edge after a varying part is cut at a varying place, or not at all
      // (the same line with shorter figures fits): keep it up to the last varying part.
      if (out === line || !out.endsWith('…')) return out;
      const last = Math.max(...MARKS.map((m) => out.lastIndexOf(m) + m.length));
      return out.slice(0, last);
    })
    .join('\n');
}

/** Line-by-line differences, numbered, for a failure message. */
function diff(expected: string, actual: string): string {
  const e = expected.split('\n');
  const a = actual.split('\n');
  const out: string[] = [];
  for (let i = 0; i < Math.max(e.length, a.length); i++) {
    if (e[i] === a[i]) continue;
    out.push(
      `  ${String(i + 1).padStart(2)} - ${e[i] ?? '(none)'}`,
      `  ${String(i + 1).padStart(2)} + ${a[i] ?? '(none)'}`,
    );
  }
  return out.join('\n');
}

interface Check {
  size: string;
  mismatches: string[];
}

/** Compares the settled screen with its golden file (or writes it under UPDATE_GOLDEN=1). */
async function capture(tui: Tui, check: Check, name: string): Promise<void> {
  await tui.waitForQuiet();
  const actual = normalise(tui.screen()) + '\n';
  const file = join(GOLDEN, check.size, `${name}.txt`);
  if (UPDATE) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  if (!existsSync(file)) {
    check.mismatches.push(`${check.size}/${name}: no golden file (run with UPDATE_GOLDEN=1, then review it)`);
    return;
  }
  const expected = readFileSync(file, 'utf8');
  if (expected !== actual) check.mismatches.push(`${check.size}/${name} differs:\n${diff(expected, actual)}`);
}

/** Opens the help over the focused pane, captures it and closes it (waiting: escape then a key reads as alt+key). */
async function help(tui: Tui, check: Check, name: string): Promise<void> {
  tui.type('?');
  await tui.waitFor('Keys (? or escape closes)');
  await capture(tui, check, name);
  tui.type(KEY.escape);
  await tui.waitForGone('Keys (? or escape closes)');
}

async function visitPanes(tui: Tui, check: Check, when: string): Promise<void> {
  const panes = [
    ['1', 'config', 'Problems ('],
    ['2', 'build', /\nBuild {2}/],
    ['3', 'run', /no programs yet|hello golden/],
    ['4', 'files', '▸ bin/'],
    ['5', 'logs', '\nLogs'],
  ] as const;
  for (const [key, name, shown] of panes) {
    tui.type(key);
    await tui.waitFor(shown);
    if (name === 'build') await tui.waitFor(/ watching /);
    await capture(tui, check, `${when}-${key}-${name}`);
    await help(tui, check, `${when}-${key}-${name}-help`);
  }
}

for (const [cols, rows] of SIZES) {
  test(`golden screens at ${cols}x${rows}`, { timeout: 240_000 }, async () => {
    const dir = join(work, `${cols}x${rows}`, 'demo');
    cpSync(base, dir, { recursive: true });
    const check: Check = { size: `${cols}x${rows}`, mismatches: [] };

    // The start screen, launched in the directory above the instance.
    const start = startTui([], { cwd: dirname(dir), cols, rows });
    running.push(start);
    await start.waitFor('Instances below this directory');
    await capture(start, check, '0-start-screen');
    start.type('q');
    assert.equal(await start.exited, 0);

    const tui = startTui([dir], { cwd: dir, cols, rows });
    running.push(tui);
    await tui.waitFor(/ demo\b/);
    // Ink turns raw mode on just after the first frame: a key typed before it is echoed by the tty.
    await tui.waitForQuiet();

    await visitPanes(tui, check, 'a-before-build');

    // Overlays and prompts: the palette, the quit guard, the Run picker, a program, the close guard.
    tui.type(':');
    await tui.waitFor(/^│ :/m);
    await capture(tui, check, 'b-palette');
    tui.type(KEY.escape);
    await tui.waitForGone(/^│ :/m);
    tui.type('1');
    await tui.waitFor('Problems (');
    tui.type('j');
    tui.type('x');
    await tui.waitFor('[modified]');
    tui.type('q');
    await tui.waitFor('press q again');
    await capture(tui, check, 'c-config-quit-guard');
    tui.type('u');
    await tui.waitForGone('[modified]');
    tui.type('3');
    await tui.waitFor('Nothing is running.');
    tui.type('r');
    await tui.waitFor('Run a program');
    await capture(tui, check, 'd-run-picker');
    tui.type('/bin/hello golden');
    tui.type(KEY.enter);
    await tui.waitFor('What is your name?');
    await capture(tui, check, 'e-run-program-has-keys');
    tui.type('\x1d'); // ctrl+]
    await tui.waitForGone(/keys go to|gives them back/);
    tui.type('w');
    await tui.waitFor('press w again');
    await capture(tui, check, 'f-run-close-guard');
    tui.type(KEY.enter); // types into the program (and cancels the close)
    await tui.waitForGone('press w again');
    tui.type(`Ann${KEY.enter}`);
    await tui.waitFor('status 0');
    await capture(tui, check, 'g-run-ended');

    // A build whose prebuild prints, then every pane again.
    tui.type('2');
    await tui.waitFor(/ watching /);
    tui.type('b');
    await tui.waitFor(/#1\s+ok/, 90_000);
    await tui.waitFor('(following)');
    await visitPanes(tui, check, 'h-after-build');

    tui.type('q');
    assert.equal(await tui.exited, 0);
    if (check.mismatches.length > 0) {
      assert.fail(
        `${check.mismatches.length} screen(s) differ from test/e2e/golden (UPDATE_GOLDEN=1 rewrites them):\n\n` +
          check.mismatches.join('\n\n'),
      );
    }
  });
}
