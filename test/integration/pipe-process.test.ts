// The Run pane's fallback without node-pty: plain pipes. What must hold is what holds in a pty:
// every byte the program wrote arrives before its exit is reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnWithPipes } from '../../src/core/pty/pipe-process.ts';

function run(script: string): Promise<{ out: string; exitCode: number }> {
  const p = spawnWithPipes('sh', ['-c', script], { cwd: process.cwd(), env: { PATH: process.env.PATH ?? '' } });
  let out = '';
  p.onData((d) => (out += d.toString()));
  return new Promise((resolve) => p.onExit(({ exitCode }) => resolve({ out, exitCode })));
}

test('output and the exit code arrive; stderr is merged', async () => {
  const r = await run('echo out; echo err >&2; exit 3');
  assert.equal(r.exitCode, 3);
  assert.match(r.out, /out/);
  assert.match(r.out, /err/);
});

test('a process left behind holding the pipes: the end is reported, with all the output, on a busy loop', async () => {
  // Each turn of the loop is busy for longer than the grace after the exit (the pty's problem,
  // leftover.ts, does not arise: a pipe's turn reads up to 2 MB, and the exit and the last
  // output are seen in the same turn).
  const busy = setInterval(() => {
    const until = Date.now() + 400;
    while (Date.now() < until);
  }, 1);
  try {
    const began = Date.now();
    const r = await run('(sleep 20) & seq 1 100000; echo LAST');
    assert.match(r.out, /99999\n100000\nLAST\n$/);
    assert.equal(r.exitCode, 0);
    assert.ok(Date.now() - began < 10_000, 'reported without waiting for the process left behind');
  } finally {
    clearInterval(busy);
  }
});
