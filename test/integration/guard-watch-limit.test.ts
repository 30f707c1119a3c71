// When the build guard cannot be armed, the dev loop says so: a real inotify watch limit (the
// studio runs in a user namespace of its own whose limit is set just above what its watcher
// holds, test/helpers/inotify-limit.ts) makes `watch --json` print one `guard` event with the
// reason and the fix, and the build records after it carry it; the runs still happen, checked in
// full.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { makeInstance } from '../helpers/host-instance.ts';
import { ensureBuilt } from '../helpers/cli.ts';
import { CLI } from '../helpers/paths.ts';
import {
  inotifyWatchesOf,
  inotifyInstancesOf,
  limitInotify,
  NS_UID,
  spawnInOwnUserNamespace,
  userNamespaceSkip,
} from '../helpers/inotify-limit.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(dirname(d), { recursive: true, force: true })));

type Event = Record<string, unknown> & { event: string };

/** `watch --json --run /bin/hello` on a new instance, in a user namespace of its own. */
async function watchInOwnNamespace() {
  ensureBuilt();
  const dir = makeInstance(['hello']);
  dirs.push(dir);
  spawnSync('chown', ['-R', `${NS_UID}:${NS_UID}`, dirname(dir)]);
  const child = await spawnInOwnUserNamespace(
    [process.execPath, CLI, 'watch', '--json', '-C', dir, '--run', '/bin/hello'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', HOME: dirname(dir) } },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const events: Event[] = [];
  const waiters: { pred: (e: Event) => boolean; resolve: (e: Event) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const e = JSON.parse(line) as Event;
    events.push(e);
    for (const w of waiters.splice(0)) {
      if (w.pred(e)) w.resolve(e);
      else waiters.push(w);
    }
  });
  const next = (pred: (e: Event) => boolean, what: string) =>
    new Promise<Event>((resolve, reject) => {
      const seen = events.find(pred);
      if (seen) return resolve(seen);
      const t = setTimeout(
        () => reject(new Error(`no ${what}; events: ${events.map((e) => e.event).join(', ')}; stderr: ${stderr}`)),
        60_000,
      );
      waiters.push({ pred, resolve: (e) => (clearTimeout(t), resolve(e)) });
    });
  const stop = () => {
    child.kill('SIGCONT');
    child.kill('SIGINT');
  };
  return { dir, child, events, next, stop };
}

/**
 * Until the loop's watches are in place (`ready` comes before them: the first build starts while
 * they are set up), and before the first build could arm a guard (a build takes far longer than
 * watching this small instance).
 */
async function watching(next: (pred: (e: Event) => boolean, what: string) => Promise<Event>) {
  await next((e) => e.event === 'progress' && e.stage === 'watch' && e.end === true, 'the watches in place');
}

test(
  'watch --json: the guard over the watch limit is one event with its reason and fix; builds carry it',
  {
    skip: userNamespaceSkip(),
    timeout: 120_000,
  },
  async () => {
    const { dir, child, events, next, stop } = await watchInOwnNamespace();
    try {
      await watching(next);
      // The loop's watcher is in place: stop the studio, let its namespace have two watches more.
      child.kill('SIGSTOP');
      const loopWatches = inotifyWatchesOf(child.pid!);
      assert.ok(loopWatches > 0, 'the loop watches its instance');
      limitInotify(child.pid!, 'watches', loopWatches + 2);
      child.kill('SIGCONT');

      const guard = await next((e) => e.event === 'guard', 'guard event');
      assert.equal(guard.fullCheck, true);
      assert.match(
        guard.reason as string,
        /^inotify watch limit reached \(\/proc\/sys\/user\/max_inotify_watches = \d+ in this user namespace\)$/,
      );
      assert.match(guard.fix as string, /^sudo sysctl fs\.inotify\.max_user_watches=\d+/);
      const firstRun = await next((e) => e.event === 'run-exit', 'run-exit');
      assert.equal(firstRun.status, 0, 'the run went ahead, checked in full');

      // A change: the build (no guard: the manifest is read) and its rerun, still checked in full.
      writeFileSync(join(dir, 'image', 'etc', 'motd'), 'hi\n');
      const rebuilt = await next((e) => e.event === 'build-end' && e.trigger !== 'initial', 'the rebuild');
      assert.equal(rebuilt.outcome, 'ok');
      assert.deepEqual(rebuilt.guard, { fullCheck: true, reason: guard.reason, fix: guard.fix });
      await next((e) => e.event === 'run-exit' && e !== firstRun, 'the rerun');
      assert.equal(events.filter((e) => e.event === 'guard').length, 1, 'said once, not per build or run');
      assert.equal(inotifyWatchesOf(child.pid!), loopWatches, 'the failed guard holds no watch');
    } finally {
      stop();
    }
  },
);

test(
  'watch --json: no inotify instance left for the guard is said with its own reason and fix',
  { skip: userNamespaceSkip(), timeout: 120_000 },
  async () => {
    const { child, next, stop } = await watchInOwnNamespace();
    try {
      await watching(next);
      child.kill('SIGSTOP');
      const held = inotifyInstancesOf(child.pid!);
      assert.ok(held > 0, 'the loop has its inotify instance');
      limitInotify(child.pid!, 'instances', held);
      child.kill('SIGCONT');
      const guard = await next((e) => e.event === 'guard', 'guard event');
      assert.match(
        guard.reason as string,
        /^no inotify instance left \(\/proc\/sys\/user\/max_inotify_instances = \d+ in this user namespace, or the open-file limit\)$/,
      );
      assert.match(guard.fix as string, /^sudo sysctl fs\.inotify\.max_user_instances=\d+/);
      assert.equal((await next((e) => e.event === 'run-exit', 'run-exit')).status, 0);
    } finally {
      stop();
    }
  },
);
