// The dev loop in the TUI with the inotify budget (docs/security.md): a program run from the
// Build pane's loop makes directories in image/ through Occlum's `/host` view until the watcher
// would pass its share of the user's inotify watches (lowered for the test with
// OCCLUM_STUDIO_INOTIFY_LIMIT); the pane then says the loop stopped watching, why and the fix,
// and the studio holds no more than its share. Through a real pty.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { hasMuslGcc } from '../helpers/fixtures.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { runFromPane, startTui, type Tui } from '../helpers/tui.ts';

const running: Tui[] = [];
let dir = '';
after(() => {
  running.forEach((t) => t.kill());
  if (dir) rmSync(dirname(dir), { recursive: true, force: true });
});

/** The most inotify watches one descriptor of process `pid` holds. */
function maxWatches(pid: number): number {
  let most = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:inotify') continue;
      const n = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('inotify '));
      most = Math.max(most, n.length);
    } catch {
      /* closed meanwhile */
    }
  }
  return most;
}

test(
  'the Build pane stops watching, saying why, when a program makes more directories than its share',
  { skip: !hasMuslGcc() && 'musl-gcc is not installed' },
  async () => {
    dir = makeInstance(['writer']);
    const r = await new HostBackend(dir).build();
    assert.ok(r.ok, r.errors.join('\n'));
    const tui = startTui([dir], { cwd: dir, cols: 160, rows: 40, env: { OCCLUM_STUDIO_INOTIFY_LIMIT: '3000' } });
    running.push(tui);
    await tui.waitFor(/inst/);
    let most = 0;
    const sampler = setInterval(() => (most = Math.max(most, maxWatches(tui.pid))), 20);
    try {
      tui.type('2');
      await tui.waitFor(/Build\s+watching/);
      await runFromPane(tui, '/bin/writer mkdirs /host/image/many 1500');
      await tui.waitFor('1500 made', 60_000);
      await tui.waitFor(/exited normally/, 60_000);
      tui.type('2');
      await tui.waitFor(/not watching/, 60_000);
      await tui.waitFor(/more than 1000 directories/);
    } finally {
      clearInterval(sampler);
    }
    assert.ok(most <= 1008, `one inotify descriptor held ${most} watches`);
    tui.type('q');
    assert.equal(await tui.exited, 0);
  },
);
