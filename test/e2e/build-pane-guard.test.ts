// The Build pane says when every run is checked in full: the studio runs in a user namespace of
// its own whose inotify watch limit is set just above what its dev loop holds
// (test/helpers/inotify-limit.ts), so the build guard cannot be armed after the first run's full
// check. One line says so, why, and the fix; the run still goes ahead.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { ensureBuilt } from '../helpers/cli.ts';
import { CLI } from '../helpers/paths.ts';
import { startTui, KEY, type Tui } from '../helpers/tui.ts';
import {
  inOwnUserNamespace,
  inotifyWatchesOf,
  limitInotify,
  mapOwnUserNamespace,
  NS_UID,
  userNamespaceSkip,
} from '../helpers/inotify-limit.ts';

const running: Tui[] = [];
let dir = '';
after(() => {
  running.forEach((t) => t.kill());
  if (dir) rmSync(dirname(dir), { recursive: true, force: true });
});

test(
  'Build pane: runs checked in full over the watch limit, with the reason and the fix',
  {
    skip: userNamespaceSkip(),
  },
  async () => {
    ensureBuilt();
    dir = makeInstance(['hello']);
    const r = await new HostBackend(dir).build();
    assert.ok(r.ok, r.errors.join('\n'));
    spawnSync('chown', ['-R', `${NS_UID}:${NS_UID}`, dirname(dir)]);
    const [bin, args] = inOwnUserNamespace([process.execPath, CLI, dir]);
    const tui = startTui(args, {
      bin,
      cwd: dir,
      cols: 140,
      rows: 32,
      env: { HOME: dirname(dir), OCCLUM_LOG_LEVEL: 'warning' },
    });
    running.push(tui);
    await mapOwnUserNamespace(tui.pid);
    await tui.waitFor(/inst │ host backend/);
    tui.type('2');
    await tui.waitFor(/Build\s+watching/);
    // The dev loop's watcher is in place: its namespace gets two watches more, not the guard's.
    tui.signal('SIGSTOP');
    limitInotify(tui.pid, 'watches', inotifyWatchesOf(tui.pid) + 2);
    tui.signal('SIGCONT');
    assert.doesNotMatch(tui.screen(), /checked in full/);

    tui.type('3');
    await tui.waitFor('Nothing is running.');
    tui.type('r');
    await tui.waitFor('Run a program');
    tui.type('/bin/hello');
    tui.type(KEY.enter);
    await tui.waitFor('Hello from /bin/hello', 30_000);
    // Until it exits, keys go to the program (a `2` typed early lands in its stdin).
    await tui.waitFor('exited normally');
    tui.type('2');
    await tui.waitFor('runs are checked in full (no build guard)');
    await tui.waitFor(/max_user_watches=\d+/); // the wrapped line's end
    const text = tui.screen().replace(/\n/g, '');
    assert.match(
      text,
      /runs are checked in full \(no build guard\): inotify watch limit reached \(\/proc\/sys\/user\/max_inotify_watches = \d+ in this user namespace\);\s?fix: sudo sysctl fs\.inotify\.max_user_watches=\d+/,
    );
    assert.equal(text.match(/checked in full/g)?.length, 1, 'said once');

    // A second run: checked in full again, and the run log says why only once (the Logs pane).
    tui.type('3');
    tui.type('r');
    await tui.waitFor('Run a program');
    tui.type('/bin/hello');
    tui.type(KEY.enter);
    await tui.waitFor(/hello ✓ 0\s+hello ✓ 0/, 30_000);
    tui.type('5');
    await tui.waitFor('runs are checked in full (no build guard)');
    assert.equal(tui.screen().match(/runs are checked in full/g)?.length, 1, 'logged once');
  },
);
