// The share of the user's inotify watches (fs.inotify.max_user_watches, one pool for all of the
// user's programs) that each of the studio's watchers may take: the dev loop's watcher (one watch
// per directory of the instance and its sources) and the build guard (one per directory of the
// build, and one per file with a name outside it). A sandboxed program writing image/ through its `/host` view decides how many
// directories and files there are: without a bound, its mkdir loop took every watch of the user
// (editors, IDEs and sync tools then fail to watch anything). Each takes at most a third, so the
// two together leave a third to the rest.
import { readFileSync } from 'node:fs';

/** The kernel's default on machines that do not scale it with memory. */
const DEFAULT_LIMIT = 8192;

/**
 * The user's limit; OCCLUM_STUDIO_INOTIFY_LIMIT may only lower it (to share a machine, and for the
 * tests, which cannot change the system's).
 */
export function inotifyLimit(env: NodeJS.ProcessEnv = process.env): number {
  let limit = DEFAULT_LIMIT;
  try {
    const n = Number.parseInt(readFileSync('/proc/sys/fs/inotify/max_user_watches', 'utf8'), 10);
    if (Number.isFinite(n) && n > 0) limit = n;
  } catch {
    /* no /proc: the default */
  }
  const lower = Number(env.OCCLUM_STUDIO_INOTIFY_LIMIT);
  return Number.isInteger(lower) && lower > 0 ? Math.min(limit, lower) : limit;
}

/** How many watches one of the studio's watchers may hold. */
export function inotifyBudget(limit = inotifyLimit()): number {
  return Math.max(1, Math.floor(limit / 3));
}
