// Path arithmetic as copy_bom does it with Rust's PathBuf (join replaces with an absolute
// argument; parent and file_name ignore a trailing "/" and inner "." components), so relative
// sources land exactly where copy_bom would take them from.
import { posix } from 'node:path';

/** PathBuf::join: an absolute `b` replaces `a`; the raw text of `b` is kept (a trailing "/" too). */
export function rustJoin(a: string, b: string): string {
  if (b.startsWith('/')) return b;
  if (a === '') return b;
  return a.endsWith('/') ? a + b : `${a}/${b}`;
}

/** Path components as Rust normalises them: "." inside a path and repeated/trailing "/" vanish. */
function components(p: string): string[] {
  const parts = p.split('/');
  const out: string[] = [];
  parts.forEach((c, i) => {
    if (c === '' || (c === '.' && i > 0)) return;
    out.push(c);
  });
  return out;
}

/** PathBuf::parent: null for "/" and ""; "" for a single relative component. */
export function rustParent(p: string): string | null {
  const abs = p.startsWith('/');
  const cs = components(p);
  if (cs.length === 0) return abs ? null : p === '' ? null : '';
  const rest = cs.slice(0, -1).join('/');
  return abs ? `/${rest}` : rest;
}

/** PathBuf::file_name: the last component, null when it is ".." or there is none. */
export function rustFileName(p: string): string | null {
  const cs = components(p);
  const last = cs[cs.length - 1];
  if (last === undefined || last === '..' || (last === '.' && cs.length === 1)) return null;
  return last;
}

/** copy_bom's dest_in_root: an absolute path inside the image becomes root-relative. */
export function destInRoot(root: string, dest: string): string {
  return rustJoin(root, dest.replace(/^\/+/, ''));
}

/** A path as the file system sees it (for comparisons and I/O): absolute and normalised. */
export function real(cwd: string, p: string): string {
  return posix.resolve(cwd, p);
}
