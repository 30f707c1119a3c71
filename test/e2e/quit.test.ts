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
import { until } from '../helpers/until.ts';

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

/** Live (non-zombie) processes whose command line names the instance: the studio, bwrap, holders. */
function processesOf(instanceDir: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(instanceDir) && pid !== String(process.pid)) out.push(`${pid} ${cmd}`);
    } catch {
      // gone meanwhile
    }
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
  assert.ok(processesOf(dir).some((p) => p.includes('bwrap')), 'the program runs in its sandbox');
  return tui;
}

async function assertNothingLeft(): Promise<void> {
  await until(() => processesOf(dir).length === 0, 'every process of the instance to end', 2000).catch(() => {
    assert.fail(`processes left after quitting:\n${processesOf(dir).join('\n')}`);
  });
}

test('q with a program running names what is at stake; q again stops it and quits', { timeout: 60_000 }, async () => {
  const tui = await studioWithProgram();
  tui.type('q');
  await tui.waitFor('1 program running (quitting stops it)');
  tui.type('q');
  assert.equal(await tui.exited, 0);
  await assertNothingLeft();
});

for (const sig of ['SIGTERM', 'SIGHUP'] as const) {
  test(`${sig} to the studio stops the program it runs`, { timeout: 60_000 }, async () => {
    const tui = await studioWithProgram();
    tui.signal(sig);
    assert.equal(await tui.exited, sig === 'SIGTERM' ? 143 : 129);
    await assertNothingLeft();
  });
}

test('quitting stops the exec server the studio started, and its exec’d program', { timeout: 60_000 }, async () => {
  const tui = startTui([dir], { cwd: dir, cols: 110, rows: 30 });
  running.push(tui);
  await tui.waitFor(/inst │ host backend/);
  tui.type('3');
  await tui.waitFor('Nothing is running.');
  tui.type('s');
  await tui.waitFor('server is running');
  tui.type('x');
  await tui.waitFor('Exec a program in the running server');
  tui.type('/bin/sleeper 600\r');
  await tui.waitFor('ready');
  tui.type(CTRL_RBRACKET);
  await tui.waitForGone('ctrl+] gives them back');
  tui.type('q');
  await tui.waitFor('1 program running (quitting stops it)');
  tui.type('q');
  assert.equal(await tui.exited, 0);
  await assertNothingLeft();
  assert.notEqual(await new HostBackend(dir).status(), 'running');
});
