// The image layer the sandbox mounts (build/host/rootfs) is plain files, so it is pinned by a
// manifest of every entry's type, mode, size and content hash (the manifest's MAC is in the
// protected config). Rehashing everything on each run would cost a full read, so a stat cache
// (inode + ctime, like git's index) says which files are untouched since they were hashed:
// ctime cannot be set from user space, so a write, chmod or replacement forces a rehash.
// `--full-verify` ignores the cache.
import { createHash } from 'node:crypto';
import {
  type BigIntStats,
  closeSync,
  constants as fsc,
  fstatSync,
  lstatSync,
  openSync,
  readSync,
  readdirSync,
  readlinkSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { callAsync, callBytes, nativeStatus } from '../../securefs/native.ts';
import { UserError } from '../../errors.ts';

export interface ManifestEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  size: number;
  sha256?: string;
  target?: string;
  /** Source (image/) size and mtime:ctime:inode, to reuse unchanged files on the next build. */
  srcSize?: number;
  srcSig?: string;
}

export interface Manifest {
  version: 1;
  entries: ManifestEntry[];
}

/** path → "ino:ctimeNs" of files whose content was hashed and matched. Not pinned. */
export type StatCache = Record<string, string>;

export function statKey(host: string): string {
  const st = lstatSync(host, { bigint: true });
  return `${st.ino}:${st.ctimeNs}`;
}

export function sha256File(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

type BigStats = BigIntStats;

export function lstatBig(host: string): BigStats {
  return lstatSync(host, { bigint: true });
}

/** The stat-cache key of already-read stats (inode + ctime). */
export function statKeyOf(st: BigStats): string {
  return `${st.ino}:${st.ctimeNs}`;
}

/** sha256File with the reads in the thread pool (the build's main thread stays responsive). */
export async function sha256FileAsync(path: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead <= 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

/**
 * Walks a tree in sorted order: (relative path, host path, stats), one lstat per entry. Each
 * directory is opened from its opened parent without following a link and listed through its
 * descriptor, and each entry is looked at there (`at`, a /proc/self/fd path valid until the walk
 * moves on): a directory swapped for a link to elsewhere while the walk runs (a program writing
 * image/ through its `/host` view while the dev loop builds) is never followed (see openBeneath).
 */
export function* walk(root: string, rel = ''): Generator<{ rel: string; host: string; at: string; st: BigStats }> {
  const fd = openDirBeneath(root, rel);
  try {
    yield* walkDir(root, fd, rel);
  } finally {
    closeSync(fd);
  }
}

function* walkDir(
  root: string,
  fd: number,
  rel: string,
): Generator<{ rel: string; host: string; at: string; st: BigStats }> {
  const dir = `/proc/self/fd/${fd}`;
  for (const name of readdirSync(dir).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const at = `${dir}/${name}`;
    const st = lstatBig(at);
    yield { rel: r, host: join(root, r), at, st };
    if (!st.isDirectory()) continue;
    const child = openDirAt(at, join(root, r), st);
    try {
      yield* walkDir(root, child, r);
    } finally {
      closeSync(child);
    }
  }
}

/** A directory, a link or a file met where the walk had seen something else (see walk). */
export class ReplacedWhileReadError extends UserError {
  constructor(host: string) {
    super(
      `${host}: replaced while the build read it (a symbolic link or something else now stands where it saw a ` +
        'directory or a file); nothing is read through it: build again once image/ stays still',
    );
  }
}

/** Opens the directory `at` (a name in an opened parent) without following a link; `st`: as seen. */
function openDirAt(at: string, host: string, st?: BigStats): number {
  let fd;
  try {
    fd = openSync(at, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') throw new ReplacedWhileReadError(host);
    throw err;
  }
  if (st) {
    const now = fstatSync(fd, { bigint: true });
    if (now.ino !== st.ino || now.dev !== st.dev) {
      closeSync(fd);
      throw new ReplacedWhileReadError(host);
    }
  }
  return fd;
}

/** Directory `rel` below `root` (the root itself may be a link), one component at a time. */
export function openDirBeneath(root: string, rel: string): number {
  let fd = openSync(root, fsc.O_RDONLY | fsc.O_DIRECTORY);
  let host = root;
  for (const part of rel.split('/').filter(Boolean)) {
    host = join(host, part);
    try {
      if (part === '.' || part === '..') throw new ReplacedWhileReadError(host);
      const next = openDirAt(`/proc/self/fd/${fd}/${part}`, host);
      closeSync(fd);
      fd = next;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }
  return fd;
}

/** The target of the link `at` (see walk); one turned into something else since its lstat is refused. */
export function readlinkAt(at: string, host: string): string {
  try {
    return readlinkSync(at);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EINVAL') throw new ReplacedWhileReadError(host);
    throw err;
  }
}

/** Opens regular file `rel` below `root` for reading through its opened parent (see walk). */
export function openFileBeneath(root: string, rel: string): number {
  return atBeneath(root, rel, (at) => {
    let fd;
    try {
      fd = openSync(at, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new ReplacedWhileReadError(join(root, rel));
      throw err;
    }
    if (!fstatSync(fd).isFile()) {
      closeSync(fd);
      throw new ReplacedWhileReadError(join(root, rel));
    }
    return fd;
  });
}

/**
 * Calls `f` with the path of `rel` below `root` as seen through its opened parent (see walk): an
 * lstat, readlink or open there reaches the entry of that directory, whatever is renamed above.
 */
export function atBeneath<T>(root: string, rel: string, f: (at: string) => T): T {
  const parts = rel.split('/').filter(Boolean);
  const name = parts.pop();
  if (name === undefined) return f(root);
  if (name === '.' || name === '..') throw new ReplacedWhileReadError(join(root, rel));
  const fd = openDirBeneath(root, parts.join('/'));
  try {
    return f(`/proc/self/fd/${fd}/${name}`);
  } finally {
    closeSync(fd);
  }
}

/** A manifest entry (without hashes) from stats already read; null for sockets, fifos, devices. */
export function entryOf(
  st: BigStats,
  host: string,
  path: string,
): Omit<ManifestEntry, 'sha256' | 'srcSize' | 'srcSig'> | null {
  const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : null;
  if (!type) return null;
  return {
    path,
    type,
    mode: Number(st.mode & 0o7777n),
    size: type === 'file' ? Number(st.size) : 0,
    ...(type === 'symlink' ? { target: readlinkSync(host) } : {}),
  };
}

export function statEntry(host: string, path: string): Omit<ManifestEntry, 'sha256' | 'srcSize' | 'srcSig'> | null {
  return entryOf(lstatBig(host), host, path);
}

/** One entry of a tree as the checks before a run see it. */
export interface TreeEntry {
  rel: string;
  type: ManifestEntry['type'] | 'other' | 'missing';
  mode: number;
  size: number;
  /** The stat-cache key: inode + ctime. */
  key: string;
  target?: string;
}

const TYPES = { f: 'file', d: 'dir', l: 'symlink', o: 'other', x: 'missing' } as const;

/**
 * Every entry below `root` (parents before children): from the native engine's one-call stat
 * walk (native/src/stat_tree.rs, several times faster than an lstat call per entry from JS),
 * or from `walk` when the engine is not there. Throws when the tree cannot be read.
 */
export function statTree(root: string): TreeEntry[] {
  let buf: Buffer | null = null;
  try {
    if (nativeStatus().ok) buf = callBytes('statTree', [root]);
  } catch (err) {
    if (!/unknown native operation/.test((err as Error).message)) throw err; // an older prebuilt addon
  }
  if (buf === null) {
    const out: TreeEntry[] = [];
    for (const { rel, at, st } of walk(root)) {
      const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
      const target = type === 'symlink' ? readlinkAt(at, join(root, rel)) : undefined;
      out.push({ rel, type, mode: Number(st.mode & 0o7777n), size: Number(st.size), key: statKeyOf(st), target });
    }
    return out;
  }
  return parseStatLines(buf);
}

/** statTree with the native walk in the thread pool (the build's main thread stays responsive). */
export async function statTreeAsync(root: string): Promise<TreeEntry[]> {
  if (!nativeStatus().ok) return statTree(root);
  return parseStatLines((await callAsync('statTree', [root])) as Buffer);
}

/** The native stat lines (native/src/stat_tree.rs format; type `x`: missing) as entries. */
export function parseStatLines(buf: Buffer): TreeEntry[] {
  const f = buf.toString('utf8').split('\0');
  const out: TreeEntry[] = [];
  for (let i = 0; i + 6 <= f.length; i += 6) {
    const type = TYPES[f[i + 1] as keyof typeof TYPES];
    out.push({
      rel: f[i]!,
      type,
      mode: Number(f[i + 2]),
      size: Number(f[i + 3]),
      key: f[i + 4]!,
      ...(type === 'symlink' ? { target: f[i + 5] } : {}),
    });
  }
  return out;
}

export interface ManifestCheck {
  ok: boolean;
  problems: string[];
  files: number;
  bytes: number;
  /** Bytes actually read and hashed (0 when the stat cache covered everything). */
  hashedBytes: number;
  /** The stat cache after this check (write it back when it changed). */
  cache: StatCache;
  cacheChanged: boolean;
  /** The stat key of every entry as this check found it (before it read any file). */
  keys: Map<string, string>;
}

/**
 * What differs between an entry as found (stat'ed) and as the manifest records it, by type, mode,
 * size and symlink target; null when they agree (a file's content is the caller's to check).
 */
export function entryProblem(path: string, got: TreeEntry, want: ManifestEntry): string | null {
  if (got.type !== want.type) return `${path}: type changed`;
  const size = got.type === 'file' ? got.size : 0; // as the manifest records them
  if (got.mode !== want.mode) return `${path}: mode changed (${want.mode.toString(8)} → ${got.mode.toString(8)})`;
  if (size !== want.size) return `${path}: size changed (${want.size} → ${size} bytes)`;
  if (got.target !== want.target) return `${path}: symlink target changed`;
  return null;
}

/**
 * Compares the tree under `root` with the manifest. `entries`: the tree as already stat'ed
 * (the guard's walk, guard.ts), else it is walked here.
 */
export function checkManifest(
  root: string,
  m: Manifest,
  cache: StatCache,
  full: boolean,
  entries?: TreeEntry[],
  maxProblems = 20,
): ManifestCheck {
  const problems: string[] = [];
  const seen = new Set<string>();
  const keys = new Map<string, string>();
  const next: StatCache = {};
  let cacheChanged = false;
  let bytes = 0;
  let hashedBytes = 0;
  const byPath = new Map(m.entries.map((e) => [e.path, e]));
  const add = (p: string) => {
    if (problems.length < maxProblems) problems.push(p);
  };
  try {
    for (const got of entries ?? statTree(root)) {
      const path = '/' + got.rel;
      const host = join(root, got.rel);
      seen.add(path);
      keys.set(path, got.key);
      const want = byPath.get(path);
      if (!want) {
        add(`${path}: added after the build`);
        continue;
      }
      const problem = entryProblem(path, got, want);
      if (problem) {
        add(problem);
        if (got.type !== want.type) continue;
      } else if (want.type === 'file') {
        const key = got.key;
        if (full || cache[path] !== key) {
          hashedBytes += got.size;
          if (sha256File(host) !== want.sha256) {
            add(`${path}: content differs from the build`);
            continue;
          }
          cacheChanged = true;
        }
        next[path] = key;
      }
      bytes += want.size;
    }
  } catch (err) {
    add(`cannot read the image layer: ${(err as Error).message}`);
  }
  for (const e of m.entries) if (!seen.has(e.path)) add(`${e.path}: missing`);
  if (Object.keys(cache).length !== Object.keys(next).length) cacheChanged = true;
  return { ok: problems.length === 0, problems, files: seen.size, bytes, hashedBytes, cache: next, cacheChanged, keys };
}
