// Directories the studio keeps its own files in (the bom copy state, the fork watch's socket)
// where another local user could be able to write: a cache dir or TMPDIR that is theirs, or below
// a directory anyone can write. There they could plant links where the studio writes, FIFOs where
// it reads, or rename the studio's directory and put theirs in its place. A directory is private
// when nobody but its user and root can change what it holds or what its path leads to.
import { existsSync, lstatSync, mkdirSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The first directory from / down to `real` (a real path) that another user could change, and
 * why; null when there is none. Each must be this user's or root's and not writable by others,
 * unless it is sticky (like /tmp: others may add entries but not rename this user's); the last
 * one, when `leaf`, must be this user's and not writable by others at all.
 */
export function otherWriter(real: string, leaf: boolean): string | null {
  const uid = process.geteuid?.() ?? -1;
  const parts = real.split('/').filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const at = `/${parts.slice(0, i).join('/')}`;
    const st = lstatSync(at);
    const last = leaf && i === parts.length;
    if (st.uid !== uid && (last || st.uid !== 0)) return `${at} belongs to uid ${st.uid}`;
    const sticky = !last && (st.mode & 0o1000) !== 0;
    if ((st.mode & 0o022) !== 0 && !sticky)
      return `${at} is writable by others (mode ${(st.mode & 0o7777).toString(8)})`;
  }
  return null;
}

/**
 * `dir` (made 0700 when missing) as its real path if it is private, else why not. What exists
 * above it is checked before anything is made, so nothing is created in another user's directory.
 */
export function privateDir(dir: string): { dir: string } | { refused: string } {
  try {
    let above = dir;
    while (above !== '/' && !existsSync(above)) above = dirname(above);
    const before = otherWriter(realpathSync(above), false);
    if (before) return { refused: `${dir} is not private: ${before}` };
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const real = realpathSync(dir);
    const why = otherWriter(real, true);
    return why ? { refused: `${dir} is not private: ${why}` } : { dir: real };
  } catch (err) {
    return { refused: `${dir} cannot be used (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
}
