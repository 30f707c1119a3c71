// The Run pane's rerun after a save, through the real binary in a pseudo-terminal on a real
// host-backend instance: the first launch is cold, the rerun the Build pane's loop starts after a
// save goes into the sandbox prepared meanwhile, and the banner says which, with the time to the
// program's first output. The program sees the same terminal both times (isatty, foreground
// group, size), and ctrl+C typed into the tab ends it the same way.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { allPids } from '../../src/core/backend/host/procs.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { ROOT } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';
import { runFromPane, startTui, KEY, type Tui } from '../helpers/tui.ts';

const rootOnly = process.getuid?.() === 0 ? false : 'the prepared sandbox is exercised as root here (CI runs as root)';
const running: Tui[] = [];
let dir = '';
after(() => {
  running.forEach((t) => t.kill());
  if (dir) rmSync(dirname(dir), { recursive: true, force: true });
});

/** The probe's report about its terminal, as the tab shows it. */
const report = (screen: string) =>
  screen.match(/inherited fd \d+ -> \S+|tty \d \d \d|foreground \w+|size \d+x\d+/g) ?? [];

test(
  'Run pane: a rerun after a save starts in the prepared sandbox and the banner says so',
  { skip: rootOnly },
  async () => {
    const others = new Set(allPids().filter((p) => cmdline(p).includes('--wait-on')));
    dir = makeInstance(['ttyprobe']);
    assert.ok((await new HostBackend(dir).build()).ok);
    const tui = startTui([dir], { cwd: dir, cols: 130, rows: 30 });
    running.push(tui);
    await tui.waitFor(/inst │ host backend/);
    tui.type('2');
    await tui.waitFor(/Build\s+watching/);
    await runFromPane(tui, '/bin/ttyprobe');
    await tui.waitFor(/running \/bin\/ttyprobe · cold launch, first output \d+ ms \(no sandbox prepared/);
    await tui.waitFor('ready');
    const cold = report(tui.screen());
    assert.deepEqual(cold.slice(0, 2), ['tty 1 1 1', 'foreground yes'], tui.screen());
    assert.match(cold[2] ?? '', /^size \d+x\d+$/);

    writeFileSync(join(dir, 'image', 'etc', 'motd'), 'saved\n');
    await tui.waitFor(/running \/bin\/ttyprobe · prepared sandbox, first output \d+ ms/, 60_000);
    await tui.waitFor('ready');
    assert.deepEqual(report(tui.screen()), cold, 'the same terminal as the cold launch');
    tui.type(KEY.enter); // the keys to the program
    await tui.waitFor('ctrl+] gives them back to the studio');
    tui.type('\x03');
    await tui.waitFor(/✗ \/bin\/ttyprobe killed by SIGINT \(2\) · status 130\s+· prepared sandbox/);
    // Quitting leaves nothing: the sandbox prepared after this run's first output ends with the studio.
    // Only this studio's: another studio run from this checkout may hold a prepared sandbox of its own.
    const waiting = () =>
      allPids().filter((p) => !others.has(p) && cmdline(p).includes(`--wait-on`) && cmdline(p).includes(ROOT));
    await waitFor(() => waiting().length > 0, 'the next sandbox prepared');
    tui.type('q');
    assert.equal(await tui.exited, 0);
    await waitFor(() => waiting().length === 0, 'no prepared sandbox left after quitting');
  },
);

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}
