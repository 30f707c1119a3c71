// A sandboxed program cannot type into the terminal it was started from (docs/security.md,
// "Sandbox"). With ioctl TIOCSTI a program run from a shell pushes a command line into the
// shell's input, and the shell runs it as the user once the run ends: a way out of the sandbox
// on every kernel that still allows TIOCSTI (dev.tty.legacy_tiocsti = 1). A real shell in a real
// pty runs the built CLI; after the run it reads its terminal, where nothing may be waiting.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { runCli, ensureBuilt } from '../helpers/cli.ts';
import { hasMuslGcc } from '../helpers/fixtures.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { CLI } from '../helpers/paths.ts';
import { startTui } from '../helpers/tui.ts';
import { NOBODY, asNobodyIn, unprivilegedSkip } from '../helpers/unprivileged.ts';

const skip = !hasMuslGcc() ? 'musl-gcc is not installed' : false;
const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

let instance: string | null = null;
async function built(): Promise<string> {
  if (instance) return instance;
  const dir = makeInstance(['ttyprobe']);
  const b = await new HostBackend(dir).build();
  assert.ok(b.ok, b.errors.join('\n'));
  return (instance = dir);
}
after(() => {
  if (instance) rmSync(dirname(instance), { recursive: true, force: true });
});

/**
 * A shell in a pty runs `cli ARGS`, then reads its terminal for 2 s: what it reads (nothing, or
 * what the program typed) is the result. Nobody else types, so nothing may come.
 */
async function shellAfter(dir: string, args: string[], prefix: string[] = []): Promise<string> {
  ensureBuilt();
  const cli = [...prefix, process.execPath, CLI, ...args].map(shq).join(' ');
  // --foreground: head stays in the terminal's foreground process group, so it may read it.
  // The shell stays until killed: the screen is read while it is alive.
  const script = `${cli}; l=$(timeout --foreground 2 head -n 1); echo "shell read: [$l]"; sleep 60`;
  const tui = startTui(['-c', script], { bin: '/bin/sh', cwd: dir, cols: 120, rows: 20 });
  try {
    await tui.waitFor(/shell read: \[/);
    assert.match(tui.screen(), /TIOCSTI: errno=1 \(Operation not permitted\)/, tui.screen());
    return tui.screen().match(/shell read: \[(.*)\]/)![1]!;
  } finally {
    tui.kill();
  }
}

test(
  'run: the program cannot type into the shell it was started from, fork watch or --allow-fork',
  { skip },
  async () => {
    const dir = await built();
    assert.equal(await shellAfter(dir, ['run', '/bin/ttyprobe', 'sti']), '');
    assert.equal(await shellAfter(dir, ['run', '--allow-fork', '/bin/ttyprobe', 'sti']), '');
  },
);

test('exec into a server: the same', { skip }, async () => {
  const dir = await built();
  assert.equal(runCli(['start', '-C', dir]).status, 0);
  try {
    assert.equal(await shellAfter(dir, ['exec', '-C', dir, '/bin/ttyprobe', 'sti']), '');
  } finally {
    runCli(['stop', '-C', dir]);
  }
});

test('as a normal user: the same', { skip: skip || unprivilegedSkip() }, async () => {
  const dir = makeInstance(['ttyprobe']);
  try {
    assert.equal(asNobodyIn(dir)('build').status, 0);
    const prefix = ['setpriv', ...NOBODY, 'env', 'HOME=/tmp'];
    assert.equal(await shellAfter(dir, ['run', '/bin/ttyprobe', 'sti'], prefix), '');
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});
