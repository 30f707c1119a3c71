// What the dev loop watches and what it ignores: image/, initfs/, Occlum.json, the settings file
// and the declared sources count; build/ and run/ (the build's own output) and editor temp files
// never do, or every build would trigger the next one.
import { basename, join, relative, sep } from 'node:path';
import { readdirSync, type Stats } from 'node:fs';
import type { SourceGlob } from './glob.ts';
import type { ChangeArea } from './types.ts';
import { SETTINGS_FILE } from '../config/settings.ts';

export { SETTINGS_FILE };

/**
 * Editor and tool temp files: vim swap files (.swp, .swo …) and its write probe "4913", backups
 * ending in ~, emacs lock (.#x) and autosave (#x#) files, and the temp files of atomic writes made
 * by the studio itself (.name.tmp-<pid>-<ms>, src/core/instance/atomic.ts).
 */
export function isEditorTemp(name: string): boolean {
  return (
    /\.sw[a-p]x?$/.test(name) ||
    name === '4913' ||
    name.endsWith('~') ||
    name.startsWith('.#') ||
    (name.length > 2 && name.startsWith('#') && name.endsWith('#')) ||
    /^\..+\.tmp-\d+-\d+$/.test(name)
  );
}

/** Directories below the sources outside the instance that the loop watches at most. */
export const MAX_SOURCE_DIRS = 10_000;

/** Settings whose sources reach a tree too big to watch (a glob over /usr or a home directory). */
export class SourcesTooBigError extends Error {}

export class WatchScope {
  constructor(
    readonly instanceDir: string,
    readonly sources: SourceGlob[],
  ) {}

  /**
   * Refuses sources outside the instance that hold more than `limit` directories: chokidar walks
   * and watches all of them (a glob over /usr: 18,000 directories, 1.3 GB and two minutes, and as
   * many of the user's inotify watches), and settings come with the instance. The instance itself
   * (image/ may be big) is not counted, nor what `ignored` prunes (a bom's file next to the
   * instance watches its directory, not the tree below). Links are not followed, as chokidar here
   * does not.
   */
  checkSize(limit = MAX_SOURCE_DIRS): void {
    for (const root of this.roots()) {
      if (root === this.instanceDir) continue;
      const queue = [root];
      let seen = 0;
      while (queue.length > 0) {
        const dir = queue.pop()!;
        let entries;
        try {
          entries = readdirSync(dir, { withFileTypes: true });
        } catch {
          continue; // missing or unreadable: chokidar skips it too
        }
        for (const e of entries) {
          if (!e.isDirectory()) continue;
          const path = join(dir, e.name);
          if (isInside(path, this.instanceDir) || this.ignored(path)) continue;
          if (++seen > limit) {
            const globs = this.sources.filter((g) => isInside(g.base, root)).map((g) => g.pattern);
            throw new SourcesTooBigError(
              `the watched sources ${globs.join(', ')} reach more than ${limit} directories below ${root} ` +
                "(watching them takes gigabytes and the user's inotify watches): name the project's source " +
                'directory in .occlum-studio.json',
            );
          }
          queue.push(path);
        }
      }
    }
  }

  /** The roots handed to chokidar: the instance dir plus source bases outside it. */
  roots(): string[] {
    const roots = [this.instanceDir];
    for (const g of this.sources) {
      if (isInside(g.base, this.instanceDir)) continue;
      if (roots.some((r) => r !== this.instanceDir && isInside(g.base, r))) continue;
      for (let i = roots.length - 1; i >= 1; i--) if (isInside(roots[i]!, g.base)) roots.splice(i, 1);
      roots.push(g.base);
    }
    return roots;
  }

  /** Which area a path belongs to, or null if a change to it must not trigger a build. */
  classify(path: string): ChangeArea | null {
    if (isEditorTemp(basename(path))) return null;
    const rel = relative(this.instanceDir, path);
    if (!rel.startsWith('..') && rel !== '') {
      const first = rel.split(sep, 1)[0]!;
      if (first === 'build' || first === 'run') return null;
      if (first === 'image') return 'image';
      if (first === 'initfs') return 'initfs';
      if (rel === 'Occlum.json') return 'config';
      if (rel === SETTINGS_FILE) return 'settings';
    }
    return this.sources.some((g) => g.matches(path)) ? 'source' : null;
  }

  /**
   * chokidar's `ignored`: prunes whole directories that cannot hold a watched path (so build/ is
   * never even read), and files that classify() rejects. chokidar may call it without stats; a
   * path is then kept unless it is known to be irrelevant.
   */
  ignored = (path: string, stats?: Stats): boolean => {
    if (path === this.instanceDir) return false;
    if (isEditorTemp(basename(path))) return true;
    const rel = relative(this.instanceDir, path);
    if (!rel.startsWith('..')) {
      const first = rel.split(sep, 1)[0]!;
      if (first === 'build' || first === 'run') return true;
      if (first === 'image' || first === 'initfs' || rel === 'Occlum.json' || rel === SETTINGS_FILE) return false;
    }
    if (this.sources.some((g) => g.matches(path))) return false;
    // A directory is kept when it lies on the way to a source base, or below one no deeper than
    // the glob reaches.
    const couldHoldSources = this.sources.some(
      (g) => isInside(g.base, path) || (isInside(path, g.base) && depthBelow(path, g.base) < g.depth),
    );
    if (!couldHoldSources) return true;
    if (stats === undefined) return false;
    return !stats.isDirectory();
  };
}

/** Segments of `path` below `dir` (which holds it). */
function depthBelow(path: string, dir: string): number {
  return path === dir ? 0 : relative(dir, path).split(sep).length;
}

/** True when `path` is `dir` or below it. */
export function isInside(path: string, dir: string): boolean {
  if (path === dir) return true;
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !rel.startsWith(sep);
}

/**
 * A bare directory, e.g. the source tree of `fs pack --watch`: every path below it counts (area
 * 'image'), editor temp files included, since a pack takes whatever the directory holds and the
 * image must equal it. `exclude` prunes paths (with everything below them) that must not count.
 */
export class DirectoryScope extends WatchScope {
  constructor(
    dir: string,
    private readonly exclude: string[] = [],
  ) {
    super(dir, []);
  }

  override roots(): string[] {
    return [this.instanceDir];
  }

  override classify(path: string): ChangeArea | null {
    if (path === this.instanceDir || !isInside(path, this.instanceDir)) return null;
    return this.exclude.some((x) => isInside(path, x)) ? null : 'image';
  }

  override ignored = (path: string): boolean => path !== this.instanceDir && this.classify(path) === null;
}
