// The Run pane driven through the real binary in a pseudo-terminal, on a real host-backend
// instance (programs compiled with musl-gcc, built into the secure image, run in bubblewrap):
// pick a program, type into it, see its output and the exit banner, rerun from history.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { runFromPane, startTui, KEY, type Tui } from '../helpers/tui.ts';
import { ROOT } from '../helpers/paths.ts';

const CTRL_RBRACKET = '\x1d';
let dir = '';
const running: Tui[] = [];

before(async () => {
  dir = makeInstance(['reader', 'hello']);
  const r = await new HostBackend(dir).build();
  assert.ok(r.ok, r.errors.join('\n'));
});

after(() => {
  running.forEach((t) => t.kill());
  if (dir) rmSync(dirname(dir), { recursive: true, force: true });
});

test('run an interactive program from the Run pane, type into it, see its output and the exit banner', async () => {
  const tui = startTui([dir], { cwd: dir, cols: 110, rows: 30 });
  running.push(tui);
  await tui.waitFor(/inst │ host backend/);
  tui.type('3');
  await tui.waitFor('Nothing is running.');

  tui.type('r');
  await tui.waitFor('Run a program');
  // The picker offers what is under the entry points of the image.
  await tui.waitFor('/bin/reader');
  tui.type('/bin/reader');
  tui.type(KEY.enter);
  await tui.waitFor('name?');
  assert.match(tui.screen(), /reader ●/);

  // A program launched from the picker has the keyboard straight away.
  await tui.waitFor('ctrl+] gives them back to the studio');
  tui.type('Ann\r');
  await tui.waitFor('hello, Ann');
  // ctrl+c is not the studio's while forwarding: `q` is just a letter for the program now.
  tui.type('q\r');
  await tui.waitFor('hello, q');
  tui.type('quit\r');
  await tui.waitFor('bye');
  await tui.waitFor(/✓ \/bin\/reader exited normally \(0\) · status 0/);
  // The program ended: the keys are back with the studio.
  await tui.waitForGone('ctrl+] gives them back');

  // A second tab with a failing program: the banner explains the status.
  tui.type('r');
  await tui.waitFor('Run a program');
  tui.type('/bin/hello exit=3 "two words"');
  tui.type(KEY.enter);
  await tui.waitFor('arg: two words');
  await tui.waitFor(/✗ \/bin\/hello exited with status 3 · status 3/);
  assert.match(tui.screen(), /reader ✓ 0/);

  // A path outside the entry points is refused with Occlum's reason.
  tui.type('r');
  await tui.waitFor('Run a program');
  tui.type('/etc/hosts');
  tui.type(KEY.enter);
  await tui.waitFor(/refused/);

  // History persisted (atomically written JSON) and offered by the picker.
  const history = JSON.parse(readFileSync(join(dir, '.occlum-studio', 'history.json'), 'utf8'));
  // Launched commands only, most recent first: the refused /etc/hosts is not remembered.
  assert.deepEqual(history.entries, [
    { kind: 'run', path: '/bin/hello', args: ['exit=3', 'two words'] },
    { kind: 'run', path: '/bin/reader', args: [] },
  ]);
  tui.type('r');
  await tui.waitFor(/hello exit=3 'two words'\s+\(history\)/);
  tui.type(KEY.escape);
  await tui.waitForGone('Run a program');

  tui.type('q');
  assert.equal(await tui.exited, 0);
});

test('tab copies the choice and arguments typed right after it (no pause) are kept', async () => {
  const tui = startTui([dir], { cwd: dir, cols: 100, rows: 28 });
  running.push(tui);
  await tui.waitFor(/inst │ host backend/);
  tui.type('3');
  await tui.waitFor('Nothing is running.');
  tui.type('r');
  await tui.waitFor('Run a program');
  tui.type('/bin/hel');
  await tui.waitFor(/▸ \/bin\/hello/);
  // A fast typist: tab, the arguments and enter in one read, before the screen updates. The tab
  // once went into the line as text (or, read apart, the arguments to the editor tab replaced).
  tui.type(KEY.tab + 'first second' + KEY.enter);
  // The highlighted choice may be the first test's history line (its arguments come first).
  await tui.waitFor(/\/bin\/hello exited/);
  assert.match(tui.screen(), /arg: first\s+arg: second/);
  // While it runs, the banner quotes the arguments as the picker takes them: '' stays visible.
  tui.type('r');
  await tui.waitFor('Run a program');
  tui.type(`/bin/reader --save "" 'a b'${KEY.enter}`);
  await tui.waitFor(`running /bin/reader --save '' 'a b'`);
  await tui.waitFor('ctrl+] gives them back');
  tui.type('quit\r');
  await tui.waitFor(/✓ \/bin\/reader exited normally/);
  tui.type('q');
  assert.equal(await tui.exited, 0);
});

test('ctrl+] leaves a running program and keys work in the studio again; k kills it', async () => {
  const tui = startTui([dir], { cwd: dir, cols: 100, rows: 28 });
  running.push(tui);
  await tui.waitFor(/inst │ host backend/);
  await runFromPane(tui, '/bin/reader');
  await tui.waitFor('name?');
  await tui.waitFor('ctrl+] gives them back');
  tui.type(CTRL_RBRACKET);
  await tui.waitForGone('ctrl+] gives them back');
  tui.type('?');
  await tui.waitFor(/rerun the focused tab/);
  tui.type(KEY.escape);
  await tui.waitForGone(/rerun the focused tab/);
  // Quitting with a program running asks first.
  tui.type('q');
  await tui.waitFor('press q again: 1 program running');
  // k is a plain letter here (it moves up elsewhere): killing takes K.
  tui.type('k');
  assert.match(tui.screen(), /reader ●/);
  tui.type('K');
  await tui.waitFor(/killed by SIGTERM \(15\) · status 143/);
  tui.type('q');
  assert.equal(await tui.exited, 0);
  assert.ok(existsSync(join(dir, '.occlum-studio', 'history.json')));
});

test('demo: creates, compiles and builds an instance, opens the Run pane on /bin/hello; run it, type, see the banner', async () => {
  const demoDir = join(dirname(dir), 'demo');
  const tui = startTui(['demo', demoDir], { cwd: dirname(dir), cols: 110, rows: 30 });
  running.push(tui);
  await tui.waitFor('Run a program', 60_000);
  assert.match(tui.screen(), /run> \/bin\/hello/);
  assert.match(tui.screen(), /demo │ host backend \(no enclave\) │ .*│ built/);
  tui.type(KEY.enter);
  await tui.waitFor('What is your name?');
  assert.match(tui.screen(), /Hello from inside Occlum's image!/);
  assert.match(tui.screen(), /env OCCLUM = yes/);
  await tui.waitFor('ctrl+] gives them back');
  tui.type('Occlum user\r');
  await tui.waitFor('Nice to meet you, Occlum user. Bye!');
  await tui.waitFor(/✓ \/bin\/hello exited normally \(0\) · status 0/);
  // Rerun, and an empty name exits 3: the banner explains it.
  tui.type('R');
  await tui.waitFor(/hello ●/);
  tui.type(KEY.enter);
  await tui.waitFor('ctrl+] gives them back');
  tui.type('\r');
  await tui.waitFor(/✗ \/bin\/hello exited with status 3 · status 3/);
  // The demo's dev loop: saving its source recompiles, rebuilds and reruns the program.
  const src = join(demoDir, 'src', 'hello.c');
  writeFileSync(
    src,
    readFileSync(src, 'utf8').replace("Hello from inside Occlum's image!", 'Edited and rerun by the dev loop!'),
  );
  await tui.waitFor('Edited and rerun by the dev loop!', 60_000);
  tui.type('q');
  await tui.waitFor('1 program running (quitting stops it)');
  tui.type('q');
  assert.equal(await tui.exited, 0);
  assert.ok(existsSync(join(demoDir, 'image', 'bin', 'hello')));
});

test('resizing the studio resizes the program’s terminal (the program sees it with TIOCGWINSZ)', async () => {
  // A musl program that prints its window size, compiled like the other fixtures.
  const bin = join(dir, 'image', 'bin', 'winsize');
  execFileSync('musl-gcc', ['-O2', '-fPIE', '-pie', '-o', bin, join(ROOT, 'fixtures', 'pty', 'winsize.c')]);
  assert.ok((await new HostBackend(dir).build()).ok);
  const tui = startTui([dir], { cwd: dir, cols: 100, rows: 30 });
  running.push(tui);
  await tui.waitFor(/inst │ host backend/);
  await runFromPane(tui, '/bin/winsize');
  // The pane gives the program the studio's width, and its height minus 5 rows of chrome.
  await tui.waitFor('size 100x25');
  tui.resize(90, 26);
  await tui.waitFor('ctrl+] gives them back');
  // The resize (a signal) and the keys (data) race; ask again until the program reports it.
  for (let attempt = 1; ; attempt++) {
    tui.type('\r');
    try {
      await tui.waitFor('size 90x21', 2000);
      break;
    } catch (err) {
      if (attempt === 5) throw err;
    }
  }
  tui.type('quit\r');
  await tui.waitFor(/✓ \/bin\/winsize exited normally/);
  tui.type('q');
  assert.equal(await tui.exited, 0);
});

test('exit banners follow what happened: a program that ran and returned -1 is not a launch failure', async () => {
  const tui = startTui([dir], { cwd: dir, cols: 140, rows: 30 });
  running.push(tui);
  await tui.waitFor(/inst │ host backend/);
  await runFromPane(tui, '/bin/hello exit=-1');
  await tui.waitFor(/✗ \/bin\/hello exited with status 127 · status 127/);
  assert.match(tui.screen(), /The program ran and exited with 127 or 255/);
  assert.doesNotMatch(tui.screen(), /could not launch/);
  tui.type('q');
  assert.equal(await tui.exited, 0);
});

test('closing the tab of a running program asks first; q with nothing at stake quits at once', async () => {
  const tui = startTui([dir], { cwd: dir, cols: 140, rows: 30 });
  running.push(tui);
  await tui.waitFor(/inst │ host backend/);
  await runFromPane(tui, '/bin/reader');
  await tui.waitFor('name?');
  tui.type(CTRL_RBRACKET);
  await tui.waitForGone('ctrl+] gives them back');
  tui.type('w');
  await tui.waitFor('press w again: reader is running (closing its tab kills it)');
  assert.match(tui.screen(), /reader ●/);
  tui.type('w');
  await tui.waitFor('Nothing is running.');
  tui.type('q');
  assert.equal(await tui.exited, 0);
});

test('the palette runs any pane’s command from anywhere and fits a 60x20 terminal', async () => {
  const tui = startTui([dir], { cwd: dir, cols: 60, rows: 20 });
  running.push(tui);
  await tui.waitFor(/inst │ host/);
  tui.type('3');
  await tui.waitFor('Nothing is running.');
  tui.type(':');
  await tui.waitFor(/^│ :/m);
  const rows = tui.screen().split('\n');
  // The box keeps its border: top and bottom corners on screen, no row past 60 columns.
  assert.ok(
    rows.some((r) => r.startsWith('╭') && r.endsWith('╮')),
    tui.screen(),
  );
  assert.ok(
    rows.some((r) => r.startsWith('╰') && r.endsWith('╯')),
    tui.screen(),
  );
  for (const ch of 'build-now') tui.type(ch);
  await tui.waitFor(/build-now\s+Build: build now/);
  tui.type(KEY.enter);
  // The Build pane's command ran there: the pane is focused and a manual build is recorded.
  await tui.waitFor(/#1\s+ok/, 30_000);
  tui.type('q');
  assert.equal(await tui.exited, 0);
});
