// The dev loop's watcher takes one inotify watch per directory of the instance, from the user's
// one pool (fs.inotify.max_user_watches) that their editors, IDEs and sync tools share. A program
// run by the loop writes image/ through Occlum's `/host` view: a mkdir loop (here 1500
// directories) made the studio take a watch for each, up to every watch the user had. The
// watcher takes at most a third of the limit (OCCLUM_STUDIO_INOTIFY_LIMIT lowers the system's
// for the test, which must not change the machine's) and stops watching past it, saying why.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensureBuilt } from '../helpers/cli.ts';
import { CLI } from '../helpers/paths.ts';
import { hasMuslGcc } from '../helpers/fixtures.ts';
import { makeInstance } from '../helpers/host-instance.ts';

const LIMIT = 3000; // a budget of 1000 directories
const BUDGET = 1000;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(dirname(d), { recursive: true, force: true });
});

/** inotify watches held by process `pid` now: per inotify descriptor (the watcher's, the build guard's). */
function watchesOf(pid: number): number[] {
  const counts: number[] = [];
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:inotify') continue;
        counts.push(
          readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')
            .split('\n')
            .filter((l) => l.startsWith('inotify ')).length,
        );
      } catch {
        /* closed meanwhile */
      }
    }
  } catch {
    /* exited */
  }
  return counts;
}

interface Watched {
  events: Record<string, unknown>[];
  status: number | null;
  stderr: string;
  /** The most watches one inotify descriptor held, and all of them together. */
  maxWatches: number;
  maxTotal: number;
}

/** `watch --json` under the lowered limit, until it exits (or `ms`), sampling its watches. */
async function watchUntilExit(dir: string, runArgs: string[], ms: number): Promise<Watched> {
  ensureBuilt();
  const child = spawn(process.execPath, [CLI, 'watch', dir, '--backend', 'host', '--json', ...runArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OCCLUM_STUDIO_INOTIFY_LIMIT: String(LIMIT) },
  });
  let out = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  let maxWatches = 0;
  let maxTotal = 0;
  const sampler = setInterval(() => {
    const counts = watchesOf(child.pid!);
    maxWatches = Math.max(maxWatches, ...counts);
    maxTotal = Math.max(
      maxTotal,
      counts.reduce((a, b) => a + b, 0),
    );
  }, 20);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const timer = setTimeout(() => child.kill('SIGINT'), ms);
  const status = await exited;
  clearTimeout(timer);
  clearInterval(sampler);
  const events = out
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { events, status, stderr, maxWatches, maxTotal };
}

test(
  'a program making directories in image/ through /host: the loop stops watching at its share of the watches',
  { skip: !hasMuslGcc() && 'musl-gcc is not installed' },
  async () => {
    const dir = makeInstance(['writer']);
    dirs.push(dir);
    const w = await watchUntilExit(dir, ['--run', '/bin/writer', 'mkdirs', '/host/image/many', '1500'], 60_000);
    const error = w.events.find((e) => e.event === 'watch-error') as { message: string } | undefined;
    // The watcher and the build guard each hold at most a third (the watcher's roots aside).
    const events = w.events.map((e) => e.event).join(',');
    assert.ok(w.maxWatches <= BUDGET + 8, `one descriptor held ${w.maxWatches} watches; events: ${events}`);
    assert.ok(w.maxTotal <= 2 * BUDGET + 8, `the studio held ${w.maxTotal} watches`);
    assert.match(
      error?.message ?? `none; status ${w.status}; events: ${events}; stderr: ${w.stderr}`,
      /more than 1000 directories, a third of this user's inotify watches/,
    );
    assert.match(error!.message, /the loop stopped watching/);
    assert.equal(w.status, 1, `watch ends once its watcher stopped: ${w.stderr}`);
  },
);

test('an instance with more directories than the share from the start is not watched at all', async () => {
  const dir = makeInstance([]);
  dirs.push(dir);
  for (let i = 0; i < 1500; i++) mkdirSync(join(dir, 'image', 'many', String(i)), { recursive: true });
  const w = await watchUntilExit(dir, [], 30_000);
  assert.equal(w.status, 2, w.stderr);
  assert.match(w.stderr, /more than 1000 directories.*the loop does not watch/);
  assert.ok(w.maxWatches <= BUDGET + 8, `held ${w.maxWatches}`);
});
