// Quitting the TUI while it owns processes, through the real binary in a pty: q q, SIGTERM and
// SIGHUP (the terminal closing) each end the studio promptly, and no program, sandbox or exec
// server it started is left in the process table.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { runFromPane, startTui, type Tui } from '../helpers/tui.ts';
import { waitFor } from '../helpers/wait.ts';

const CTRL_RBRACKET = '\x1d';
let dir = '';
const running: Tui[] = [];

before(async () => {
  dir = makeInstance(['sleeper']);
  const r = await new HostBackend(dir).build();
  assert.ok(r.ok, r.errors.join('\n'));
});

after(() => {
  running.forEach((t) => t.kill());
  if (dir) rmSync(dirname(dir), { recursive: true, force: true });
});

/** Live (non-zombie) processes among `pids`, with their command lines. */
function alive(pids: number[]): string[] {
  const out: string[] = [];
  for (const pid of pids) {
    try {
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) continue;
      out.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')}`);
    } catch {
      // gone
    }
  }
  return out;
}

/** Every process below `root` now (the sandbox launchers, bwrap, the program, a server's holder). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${name}/status`, 'utf8'))?.[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  for (let todo = [root]; todo.length > 0;) {
    const next = children.get(todo.pop()!) ?? [];
    out.push(...next);
    todo.push(...next);
  }
  return out;
}

async function studioWithProgram(): Promise<Tui> {
  const tui = startTui([dir], { cwd: dir, cols: 110, rows: 30 });
  running.push(tui);
  await tui.waitFor(/inst │ host backend/);
  await runFromPane(tui, '/bin/sleeper 600');
  await tui.waitFor('ready');
  tui.type(CTRL_RBRACKET);
  await tui.waitForGone('ctrl+] gives them back');
  assert.ok(
    alive(descendants(tui.pid)).some((p) => p.includes('bwrap')),
    'the program runs in its sandbox',
  );
  return tui;
}

/** The studio's process tree, taken while it runs; none of it may outlive the quit by 2 s. */
async function assertNothingLeft(tree: number[]): Promise<void> {
  await waitFor(() => alive(tree).length === 0, 'every process the studio started to end', 2000).catch(() => {
    assert.fail(`processes left after quitting:\n${alive(tree).join('\n')}`);
  });
}

test('q with a program running names what is at stake; q again stops it and quits', { timeout: 60_000 }, async () => {
  const tui = await studioWithProgram();
  const tree = descendants(tui.pid);
  tui.type('q');
  await tui.waitFor('1 program running (quitting stops it)');
  tui.type('q');
  assert.equal(await tui.exited, 0);
  await assertNothingLeft(tree);
});

for (const sig of ['SIGTERM', 'SIGHUP'] as const) {
  test(`${sig} to the studio stops the program it runs`, { timeout: 60_000 }, async () => {
    const tui = await studioWithProgram();
    const tree = descendants(tui.pid);
    tui.signal(sig);
    assert.equal(await tui.exited, sig === 'SIGTERM' ? 143 : 129);
    await assertNothingLeft(tree);
  });
}

test('quitting stops the exec server the studio started, and its exec’d program', { timeout: 60_000 }, async () => {
  const tui = startTui([dir], { cwd: dir, cols: 110, rows: 30 });
  running.push(tui);
  await tui.waitFor(/inst │ host backend/);
  tui.type('3');
  await tui.waitFor('Nothing is running.');
  tui.type('s');
  await tui.waitFor('occlum start: the server is up');
  tui.type('q');
  await tui.waitFor('the exec server this session started is running (quitting stops it)');
  tui.type('x'); // any other key disarms the guard (and here opens the exec picker)
  await tui.waitFor('Exec a program in the server (occlum exec)');
  tui.type('/bin/sleeper 600\r');
  await tui.waitFor('ready');
  tui.type(CTRL_RBRACKET);
  await tui.waitForGone('ctrl+] gives them back');
  const tree = descendants(tui.pid);
  assert.ok(
    alive(tree).some((p) => p.includes('sleep infinity') || p.includes('unshare')),
    alive(tree).join('\n'),
  );
  tui.type('q');
  await tui.waitFor('1 program running and the exec server this session started (quitting stops them)');
  tui.type('q');
  assert.equal(await tui.exited, 0);
  await assertNothingLeft(tree);
  assert.notEqual(await new HostBackend(dir).status(), 'running');
});
