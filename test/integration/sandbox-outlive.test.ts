// A running program ends with the studio that launched it (docs/security.md, "Sandbox"): the
// sandbox rests on a chain of parent-death signals from the launcher to PID 1 of its namespace.
// The program (fixtures/c/outlive.c) first tries to break that chain by making PID 1 clear its
// own with ptrace; then the studio is SIGKILLed, and the program must be gone.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { descendants, exeOf, isAlive } from '../../src/core/backend/host/procs.ts';
import { ensureBuilt } from '../helpers/cli.ts';
import { hasMuslGcc } from '../helpers/fixtures.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { CLI } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';

const skip = !hasMuslGcc() ? 'musl-gcc is not installed' : false;

let instance: string | null = null;
after(() => {
  if (instance) rmSync(dirname(instance), { recursive: true, force: true });
});

for (const allowFork of [false, true]) {
  const how = allowFork ? '--allow-fork (bwrap loads the filter)' : 'the fork watch (the shim loads the filter)';
  test(`a program that tries to take over PID 1 ends with the studio: ${how}`, { skip }, async () => {
    if (!instance) {
      instance = makeInstance(['outlive']);
      const b = await new HostBackend(instance).build();
      assert.ok(b.ok, b.errors.join('\n'));
    }
    ensureBuilt();
    const args = ['run', ...(allowFork ? ['--allow-fork'] : []), '/bin/outlive'];
    const studio = spawn(process.execPath, [CLI, ...args], { cwd: instance, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    studio.stdout.on('data', (c: Buffer) => (out += c.toString()));
    let program: number | undefined;
    try {
      await waitFor(() => out.includes('running\n'), 'the program running');
      program = descendants([studio.pid!]).find((p) => (exeOf(p) ?? '').endsWith('/outlive'));
      assert.ok(program, 'the program among the studio’s descendants');
      studio.kill('SIGKILL');
      await waitFor(() => !isAlive(program!), `the program to end with the studio (it said: ${out.trim()})`, 10_000);
      assert.match(out, /^takeover: Function not implemented$/m);
    } finally {
      studio.kill('SIGKILL');
      if (program && isAlive(program)) process.kill(program, 'SIGKILL');
    }
  });
}
