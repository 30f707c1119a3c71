// A directory copy as copy_bom makes it (`rsync -ar --copy-unsafe-links --exclude=…`): "dir"
// copies the directory into the target, "dir/" its contents; symlinks that stay inside the copy
// are kept, the others (absolute, or climbing above the copy) are replaced by what they point to.
import { existsSync, lstatSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import type { Dirent, Stats } from 'node:fs';
import { posix } from 'node:path';
import type { Exclude } from './exclude.ts';
import { statFilesNative } from './native-copy.ts';

/** The attributes a copy keeps and compares (from lstat, or the native batch). */
export type FileStat = Pick<Stats, 'size' | 'mode' | 'uid' | 'gid' | 'ino' | 'mtimeMs' | 'atime' | 'mtime'> & {
  /** Whether the file starts with the ELF magic, when the native scan read it. */
  elf?: boolean;
  /** Its identity for a bom copy's state, when the native batch read it (native/src/bom_state.rs). */
  id?: string;
};

export interface TreeItem {
  kind: 'dir' | 'file' | 'link';
  /** Path relative to the destination dir ('' is the destination itself, for "dir/"). */
  rel: string;
  /** Host path the content and attributes come from (for a followed link: what it points to). */
  src: string;
  /** A kept symlink's text. */
  target?: string;
  /** A plain file's is read after the walk, in one batch (fillFileStats). */
  stat?: FileStat;
}

export interface TreeResult {
  items: TreeItem[];
  warnings: string[];
  /** Whether a link leaving the copy was followed (what it names is not in the walk's stats). */
  followed?: boolean;
}

/** rsync's unsafe_symlink: does `target`, read at `name` (relative to the copy), leave the copy? */
export function unsafeLink(target: string, name: string): boolean {
  if (target === '' || target.startsWith('/')) return true;
  let depth = 0;
  const dirs = name.split('/').slice(0, -1);
  for (const c of dirs) {
    if (c === '..') depth = 0;
    else if (c !== '.' && c !== '') depth++;
  }
  for (const c of target.split('/')) {
    if (c === '..') {
      if (--depth < 0) return true;
    } else if (c !== '.' && c !== '') depth++;
  }
  return false;
}

/**
 * Why a directory is never copied whole, or null: the host's root (a tree's link to "/" would copy
 * the machine) or a kernel file system (/proc/kcore alone is the size of the address space).
 */
function hostWide(real: string): string | null {
  if (real === '/') return "the host's whole file system";
  return /^\/(proc|sys|dev)(\/|$)/.test(real) ? `${real}, a kernel file system` : null;
}

/** `copyLinks`: every link is replaced by what it points to (rsync -L, copy_bom's file copy). */
export function walkCopy(src: string, exclude: Exclude, copyLinks = false): TreeResult {
  const items: TreeItem[] = [];
  const warnings: string[] = [];
  let followed = false;
  const contentsOnly = src.endsWith('/');
  const top = src.replace(/\/+$/, '') || '/';
  const topName = contentsOnly ? '' : posix.basename(top);

  // `name` is relative to the transfer root (what excludes and link safety see); `rel` to the dest.
  const visit = (host: string, name: string, st: Stats, seen: Set<string>): void => {
    const rel = name;
    if (st.isSymbolicLink()) {
      const target = readlinkSync(host);
      if (!copyLinks && !unsafeLink(target, name)) {
        items.push({ kind: 'link', rel, src: host, target });
        return;
      }
      let real: Stats;
      try {
        real = statSync(host);
      } catch {
        // rsync fails on it ("symlink has no referent") and copy_bom with it; the copy goes on here.
        warnings.push(
          `${host} -> ${target}: a link to nothing, which rsync would follow; skipped ` +
            "(copy_bom's rsync fails on it: remove the link or exclude it)",
        );
        return;
      }
      const whole = hostWide(realpathSync(host));
      if (whole) {
        warnings.push(`${host} -> ${target}: the link leads to ${whole}; not copied`);
        return;
      }
      followed = true;
      return visit2(host, name, real, seen);
    }
    return visit2(host, name, st, seen);
  };
  const visit2 = (host: string, name: string, st: Stats, seen: Set<string>): void => {
    if (st.isFile()) {
      items.push({ kind: 'file', rel: name, src: host, stat: st });
      return;
    }
    if (!st.isDirectory()) {
      warnings.push(`${host}: a device, FIFO or socket; not copied (an Occlum image holds files, dirs and links)`);
      return;
    }
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) {
      warnings.push(`${host}: a link loop; copied once`);
      return;
    }
    items.push({ kind: 'dir', rel: name, src: host, stat: st });
    const inner = new Set(seen).add(key);
    let list: Dirent[];
    try {
      list = readdirSync(host, { withFileTypes: true }).sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      );
    } catch (err) {
      warnings.push(
        `${host}: cannot read the directory ` +
          `(${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); skipped`,
      );
      return;
    }
    // Node decodes a name that is not UTF-8 with U+FFFD: a path that names nothing, so the file
    // would drop out without a word. Such names are reported (an Occlum image holds UTF-8 names).
    if (list.some((d) => d.name.includes('\uFFFD'))) {
      const bad = notUtf8Names(host);
      if (bad.length) {
        for (const b of bad)
          warnings.push(`${host}/${b}: the name is not valid UTF-8 (image names are UTF-8); not copied: rename it`);
        list = list.filter((d) => !d.name.includes('\uFFFD') || existsSync(`${host}/${d.name}`));
      }
    }
    for (const d of list) {
      const child = name === '' ? d.name : `${name}/${d.name}`;
      const childHost = `${host}/${d.name}`;
      // A plain file needs no lstat here: its attributes come in one batch after the walk.
      if (d.isFile()) {
        if (!exclude.test(child, false)) items.push({ kind: 'file', rel: child, src: childHost });
        continue;
      }
      let cst: Stats;
      try {
        cst = lstatSync(childHost);
      } catch {
        continue; // vanished while walking
      }
      if (exclude.test(child, cst.isDirectory())) continue;
      visit(childHost, child, cst, inner);
    }
  };

  // A top-level link to nothing gets here only when it is kept as a link (plan.ts checked it).
  const resolved = existsSync(top) ? realpathSync(top) : top;
  const whole = hostWide(resolved);
  if (whole) return { items, warnings: [`${top}: ${whole}; not copied (name the directories the image needs)`] };
  const st = lstatSync(top);
  if (topName !== '' && exclude.test(topName, st.isDirectory())) return { items, warnings };
  // rsync copies a top-level symlink given without a trailing "/" as a link (unsafe → followed).
  if (contentsOnly) visit2(top, '', statSync(top), new Set());
  else visit(top, topName, st, new Set());
  return { items, warnings, followed };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The names in `dir` that are not UTF-8, their other bytes as \xNN. */
function notUtf8Names(dir: string): string[] {
  const out: string[] = [];
  for (const raw of readdirSync(dir, { encoding: 'buffer' })) {
    try {
      utf8.decode(raw);
    } catch {
      out.push(
        [...raw]
          .map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`))
          .join(''),
      );
    }
  }
  return out;
}

/**
 * Reads the attributes of the walk's plain files (with `elf`, natively, also whether each is an
 * ELF file, in the same pass); a file gone meanwhile is dropped.
 */
export async function fillFileStats(tree: TreeResult, elf = false): Promise<void> {
  const bare = tree.items.filter((it) => !it.stat && it.kind === 'file');
  const stats =
    (await statFilesNative(
      bare.map((it) => it.src),
      elf,
    )) ?? bare.map((it) => lstatSync(it.src, { throwIfNoEntry: false }) ?? null);
  const gone = new Set<TreeItem>();
  bare.forEach((it, i) => {
    const st = stats[i];
    if (st) it.stat = st;
    else gone.add(it);
  });
  if (gone.size) tree.items = tree.items.filter((it) => !gone.has(it));
}
