// What a change build of the dev loop may copy into the image with the boms (docs/security.md):
// only from the host paths a build started by hand copied from. The boms and their sources may be
// written between builds by someone other than the user (a program whose hostfs mount reaches
// them): a rewritten bom, a new include, a copied file swapped for a link, or a link planted in a
// copied directory would otherwise make the next change build copy any file of the user's into
// the image, where the rerun program reads it.
import { lstatSync, readdirSync, realpathSync } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { bomWatchPaths } from '../bom/watch-paths.ts';
import { loadBoms } from '../bom/includes.ts';
import { real } from '../bom/paths.ts';
import { effectiveIncludeDirs } from '../bom/run.ts';
import type { StudioSettings } from './settings.ts';
import type { ChangeEntry } from './types.ts';

/** Host paths the boms read, links resolved: the bom files and includes, the files and directories they copy. */
export interface BomSources {
  files: string[];
  dirs: string[];
}

/** Entries of an added directory looked at for links, at most (the copy reports the rest). */
const MAX_WALK = 10_000;

function realOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

const under = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith(sep) ? dir : dir + sep);

export function bomSources(
  settings: Pick<StudioSettings, 'bom' | 'bomIncludeDirs'>,
  instanceDir: string,
  env = process.env,
): BomSources {
  const includeDirs = effectiveIncludeDirs(settings.bomIncludeDirs, env);
  const files = new Set<string>();
  const dirs = new Set<string>();
  for (const bom of settings.bom) {
    const paths = bomWatchPaths(bom, 'image', includeDirs, instanceDir, env);
    for (const f of paths.files) files.add(realOr(f));
    for (const d of paths.dirs) dirs.add(realOr(d));
  }
  return { files: [...files], dirs: [...dirs] };
}

function covered(path: string, s: BomSources): boolean {
  return s.files.includes(path) || s.dirs.some((d) => under(path, d));
}

/** Links among `paths` (and below added directories) whose targets the confirmed sources do not hold. */
function linksOut(entries: ChangeEntry[], now: BomSources, confirmed: BomSources): string[] {
  const out: string[] = [];
  let budget = MAX_WALK;
  const look = (path: string, rel: string, walk: boolean) => {
    if (budget-- <= 0) return;
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) {
      const target = realOr(path);
      if (!covered(target, confirmed)) out.push(`${rel} -> ${target}`);
    } else if (st?.isDirectory() && walk) {
      let names: string[];
      try {
        names = readdirSync(path);
      } catch {
        return;
      }
      for (const n of names) look(join(path, n), `${rel}/${n}`, true);
    }
  };
  for (const c of entries) {
    if (c.area !== 'source' || c.kind === 'removed') continue;
    // Where it is, its own name not resolved (it may be the link).
    const at = join(realOr(dirname(c.path)), basename(c.path));
    if (now.dirs.some((d) => under(at, d))) look(at, c.rel, c.isDir && c.kind === 'added');
  }
  return out;
}

/**
 * What the boms read now that a build started by hand did not (`confirmed`): new bom files,
 * includes and sources, and links among the changed entries leading out of the confirmed sources.
 */
export function unconfirmedReads(now: BomSources, confirmed: BomSources, changes: ChangeEntry[]): string[] {
  return [
    ...now.files.filter((f) => !covered(f, confirmed)),
    ...now.dirs.filter((d) => !confirmed.dirs.some((c) => under(d, c))),
    ...linksOut(changes, now, confirmed),
  ];
}

/**
 * The bom files of the settings and their includes, links resolved: a sandbox pins them read-only
 * in a hostfs view that shows them (src/core/sandbox/mounts.ts), so a program cannot rewrite one
 * between the check above and the copy that reads it.
 */
export function bomFiles(
  settings: Pick<StudioSettings, 'bom' | 'bomIncludeDirs'>,
  instanceDir: string,
  env = process.env,
): string[] {
  const includeDirs = effectiveIncludeDirs(settings.bomIncludeDirs, env);
  const files = new Set<string>();
  for (const bom of settings.bom) {
    files.add(realOr(real(instanceDir, bom)));
    for (const d of loadBoms(bom, includeDirs, instanceDir).docs) files.add(realOr(d.path));
  }
  return [...files];
}
