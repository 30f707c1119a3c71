// Driving a run from a real pseudo-terminal, as the Run pane does: prepareRun gives a command
// line that node-pty spawns; the interactive program reads typed input; finish() maps the status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pty from 'node-pty';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { makeInstance } from '../helpers/host-instance.ts';

function waitFor(buf: () => string, re: RegExp, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      if (re.test(buf())) return resolve();
      if (Date.now() - t0 > ms)
        return reject(new Error(`timed out waiting for ${re}; screen: ${JSON.stringify(buf())}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

test('an interactive program in the sandbox under node-pty: prompt, typed input, exit status', async () => {
  const dir = makeInstance(['reader', 'sleeper']);
  const b = new HostBackend(dir);
  assert.ok((await b.build()).ok);
  const prep = await b.prepareRun('/bin/reader', []);
  const term = pty.spawn(prep.file, prep.args, { env: prep.env, cols: 80, rows: 24, name: 'xterm-256color' });
  prep.started?.(term.pid);
  let screen = '';
  term.onData((d) => (screen += d));
  const exited = new Promise<{ exitCode: number; signal?: number }>((r) => term.onExit(r));
  try {
    await waitFor(() => screen, /name\? /);
    term.write('Ann\r');
    await waitFor(() => screen, /hello, Ann/);
    assert.equal(await b.status(), 'running');
    term.write('quit\r');
    const e = await exited;
    const exit = prep.finish(e.exitCode, e.signal || null);
    assert.equal(exit.status, 0);
    assert.match(screen, /bye/);
  } finally {
    try {
      term.kill();
    } catch {
      /* already gone */
    }
  }
  assert.equal(await b.status(), 'built');
  // Ctrl-C typed in the terminal reaches the sandboxed program (it is in the foreground group)
  const p2 = await b.prepareRun('/bin/sleeper', ['30']);
  const t2 = pty.spawn(p2.file, p2.args, { env: p2.env, cols: 80, rows: 24 });
  let s2 = '';
  t2.onData((d) => (s2 += d));
  const ex2 = new Promise<{ exitCode: number; signal?: number }>((r) => t2.onExit(r));
  await waitFor(() => s2, /ready/);
  t2.write('\x03');
  const e2 = await ex2;
  assert.equal(p2.finish(e2.exitCode, e2.signal || null).status, 130);
});
