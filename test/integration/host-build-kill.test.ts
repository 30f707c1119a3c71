// A killed build leaves the last good build runnable: `build` is started as users run it and
// SIGKILLed at increasing delays; after each kill the previous (or the new) build still runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CLI } from '../helpers/paths.ts';
import { ensureBuilt, runCli } from '../helpers/cli.ts';
import { makeInstance } from '../helpers/host-instance.ts';

function buildKilledAfter(dir: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CLI, 'build'], { cwd: dir, stdio: 'ignore' });
    const t = setTimeout(() => c.kill('SIGKILL'), ms);
    c.on('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

test('builds killed at any point keep the instance runnable; the next build cleans up', async () => {
  ensureBuilt();
  const dir = makeInstance(['hello']);
  mkdirSync(join(dir, 'image', 'data'));
  for (let i = 0; i < 8; i++) writeFileSync(join(dir, 'image', 'data', `f${i}`), randomBytes(2 << 20));
  assert.equal(runCli(['build'], { cwd: dir }).status, 0);
  for (const ms of [60, 120, 180, 240, 300, 360, 420, 500, 600, 800]) {
    // change the image so every build has work to do
    writeFileSync(join(dir, 'image', 'data', 'f0'), randomBytes(2 << 20));
    await buildKilledAfter(dir, ms);
    const r = runCli(['run', '/bin/hello', 'exit=0'], { cwd: dir });
    assert.equal(r.status, 0, `after a build killed at ${ms} ms: ${r.stderr}`);
    assert.match(r.stdout, /Hello from \/bin\/hello/);
  }
  const last = runCli(['build'], { cwd: dir });
  assert.equal(last.status, 0, last.stderr);
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.startsWith('.build') || n.includes('lock')),
    [],
  );
  assert.equal(runCli(['run', '/bin/hello'], { cwd: dir }).status, 0);
});
