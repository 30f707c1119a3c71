// The host backend's run/ state, checked before every use. The sandbox mounts run/host/upper,
// work and sefs as the program's writable layers and reads its seccomp filter from run/host, so
// a symlink there would send the program's writes where it points, and a file cut short by a
// full disk would break every later run. Directories are walked down from run/ with lstat and
// created one level at a time (never mkdir -p, which follows links); the filter is compared by
// content and rewritten atomically when it differs.
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readlinkSync,
  readSync,
  rmSync,
  type Stats,
} from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { writeFileAtomic } from '../../instance/atomic.ts';
import type { InstancePaths } from '../../instance/layout.ts';
import { seccompFilter } from '../../sandbox/seccomp.ts';
import { BackendError } from '../types.ts';

const FIX = 'remove it (the next run recreates it empty), or rebuild, which recreates run/';

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** A real directory owned by the studio's user, created if missing; a clear error otherwise. */
function realDir(path: string): void {
  let st = lstatOrNull(path);
  if (!st) {
    mkdirSync(path, 0o755);
    st = lstatSync(path);
  }
  if (st.isSymbolicLink()) {
    throw new BackendError(
      `${path} is a symbolic link (to ${readlinkSync(path)}); the sandbox's run state must be a real directory, ` +
        `or the program would write where it points: ${FIX}`,
    );
  }
  if (!st.isDirectory())
    throw new BackendError(`${path} is not a directory; the sandbox's run state must be one: ${FIX}`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new BackendError(
      `${path} belongs to uid ${st.uid}, not to the user running occlum-studio (uid ${uid}), who would write ` +
        `through a directory someone else controls: run occlum-studio as uid ${st.uid}, or ${FIX}`,
    );
  }
}

/** Each directory from run/ down to every one of `dirs` (all inside run/), checked or created. */
export function ensureRunDirs(p: InstancePaths, dirs: string[]): void {
  const done = new Set<string>();
  const visit = (d: string) => {
    if (!done.has(d)) realDir(d);
    done.add(d);
  };
  for (const dir of dirs) {
    const rel = relative(p.run, dir);
    if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`${dir} is not inside ${p.run}`);
    let cur = p.run;
    visit(cur);
    for (const part of rel.split(sep).filter(Boolean)) visit((cur = join(cur, part)));
  }
}

/** Reads a small regular file without following a link or blocking; null if it is anything else. */
function readSmallRegular(path: string, max: number): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > max) return null;
    const buf = Buffer.alloc(st.size);
    return readSync(fd, buf, 0, st.size, 0) === st.size ? buf : null;
  } finally {
    closeSync(fd);
  }
}

/**
 * The seccomp filter bwrap (or, for `notify`, the fork shim) reads, rewritten when its content is not exactly the program this
 * version assembles (missing, cut short by a full disk, corrupted, a link, a directory).
 * Returns what was wrong with the old file, or null when it was right.
 */
export function ensureSeccompFile(p: InstancePaths, kind: 'deny' | 'notify' | 'allow' = 'deny'): string | null {
  const file = { deny: p.hostSeccompNoFork, notify: p.hostSeccompForkWatch, allow: p.hostSeccompAllowFork }[kind];
  ensureRunDirs(p, [p.hostRun]);
  const want = seccompFilter({ denyFork: kind !== 'allow', notify: kind === 'notify' });
  const st = lstatOrNull(file);
  if (!st) {
    writeFileAtomic(file, want);
    return null;
  }
  const have = readSmallRegular(file, want.length);
  if (have && have.equals(want)) return null;
  const why = st.isSymbolicLink()
    ? 'a symbolic link'
    : !st.isFile()
      ? 'not a regular file'
      : st.size !== want.length
        ? `${st.size} bytes instead of ${want.length}`
        : 'different content';
  if (!st.isFile()) rmSync(file, { recursive: true, force: true });
  writeFileAtomic(file, want);
  return why;
}
