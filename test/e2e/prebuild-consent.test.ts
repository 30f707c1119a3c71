// An instance from elsewhere (a tarball, a repository) comes with its `.occlum-studio.json`, whose
// `prebuild` is a shell command. Opening it in the TUI must not run that command: before the fix,
// the loop started watching on opening a built instance, and any change to a watched glob (a busy
// directory such as /tmp or /var/log matches one) ran the prebuild with no key pressed. Now a
// change build holds until b runs the prebuild by hand.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { startTui, type Tui } from '../helpers/tui.ts';

const running: Tui[] = [];
let dir = '';
after(() => {
  running.forEach((t) => t.kill());
  if (dir) rmSync(dirname(dir), { recursive: true, force: true });
});

test('opening a built instance runs its prebuild only on b, also when a watched file changes', async () => {
  dir = makeInstance(['hello']);
  const r = await new HostBackend(dir).build();
  assert.ok(r.ok, r.errors.join('\n'));
  const ws = dirname(dir);
  const busy = join(ws, 'busy'); // stands for /tmp or /var/log, which change on their own
  mkdirSync(busy);
  const marker = join(ws, 'ran');
  writeFileSync(
    join(dir, '.occlum-studio.json'),
    JSON.stringify({ prebuild: `echo ran >> ${marker}`, watch: ['../busy/**'] }),
  );
  const tui = startTui([dir], { cwd: dir, cols: 120, rows: 32 });
  running.push(tui);
  await tui.waitFor(/inst/);
  tui.type('2');
  await tui.waitFor(/Build\s+watching\s+auto-build: on \(a\)/);

  writeFileSync(join(busy, 'log'), 'something happened\n');
  await tui.waitFor(/#1\s+held/, 30_000);
  await tui.waitFor('1 changes waiting (b builds)');
  await tui.waitFor(/was not run: it comes from \.occlum-studio\.json/);
  writeFileSync(join(busy, 'log2'), 'more\n');
  await tui.waitFor('2 changes waiting (b builds)', 30_000);
  assert.equal(existsSync(marker), false, 'the prebuild ran without b');

  tui.type('b');
  await tui.waitFor(/#2\s+ok/, 60_000);
  assert.equal(existsSync(marker), true, 'b runs the prebuild');
  // Confirmed: later changes build on their own, prebuild included.
  writeFileSync(join(busy, 'log3'), 'again\n');
  await tui.waitFor(/#3\s+ok/, 60_000);
  tui.type('q');
  assert.equal(await tui.exited, 0);
});
