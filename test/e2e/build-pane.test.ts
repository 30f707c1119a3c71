// The Build pane through the real binary in a pseudo-terminal, on a built host-backend instance:
// key 2 shows the watching loop, a saved file becomes a build row, a config error shows its cause
// and enter jumps to the Config pane.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { startTui, KEY, type Tui } from '../helpers/tui.ts';

const running: Tui[] = [];
let dir = '';
after(() => {
  running.forEach((t) => t.kill());
  if (dir) rmSync(dirname(dir), { recursive: true, force: true });
});

test('Build pane: watch, rebuild on save, failure cause, jump to the field', async () => {
  dir = makeInstance(['hello']);
  const r = await new HostBackend(dir).build();
  assert.ok(r.ok, r.errors.join('\n'));
  const tui = startTui([dir], { cwd: dir, cols: 120, rows: 32 });
  running.push(tui);
  await tui.waitFor(/inst/);
  tui.type('2');
  await tui.waitFor(/Build\s+watching\s+auto-build: on \(a\)/);
  await tui.waitFor('No builds in this session');

  writeFileSync(join(dir, 'image', 'etc', 'motd'), 'hi\n');
  await tui.waitFor(/> #1\s+ok\s+\d+ ms\s+1\//, 30_000);
  assert.match(tui.screen(), /changed \(1\): \+image\/etc\/motd/);

  const cfgPath = join(dir, 'Occlum.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  cfg.resource_limits.kernel_space_heap_size = '12QB';
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 4) + '\n');
  await tui.waitFor(/> #2\s+FAILED/, 30_000);
  await tui.waitFor('field resource_limits.kernel_space_heap_size (enter: open in Config)');
  tui.type(KEY.enter);
  await tui.waitForGone('field resource_limits.kernel_space_heap_size');
  tui.type('q');
  assert.equal(await tui.exited, 0);
});
