// The instance's file system as the sandboxed program sees it, for the Files pane: the packed
// secure image (build/mount/__ROOT, read by the native engine) under the host run layer
// (run/host/upper, overlayfs: plain files, whiteouts for deletions). Paths are inside the image.
// The run layer is written by programs: a link there is read as a link, never followed on the
// host (in the program's view it resolves inside the image), and only regular files are read,
// opened without blocking (a FIFO). A program running meanwhile may swap an ancestor for a link,
// so every path is walked from the layer's descriptor without following any link
// (native/src/beneath.rs), and entries are looked at through the opened directory
// (/proc/self/fd/N/name): no check-then-open by path (docs/security.md).
import { closeSync, constants, existsSync, fstatSync, lstatSync, openSync, read, readdirSync } from 'node:fs';
import { readlinkSync, statSync, type Stats } from 'node:fs';
import { promisify } from 'node:util';
import { join, posix } from 'node:path';
import { openDirBeneath, openReadBeneath } from '../../securefs/beneath.ts';
import type { EntryType, FsEntry, FsView, KeyMode, Listing, SkippedEntry } from '../../securefs/types.ts';
import { instancePaths } from '../../instance/layout.ts';
import { BackendError } from '../types.ts';
import { yielder } from './yield.ts';
import { readOpenedSafe, typeName } from '../../instance/safe-read.ts';
import { imageAbsence, incompleteImageMessage } from '../../securefs/absence.ts';

export type HostFsLayer = 'image' | 'merged';

function typeOf(st: ReturnType<typeof lstatSync>): EntryType {
  if (!st) return 'other';
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isSocket()) return 'socket';
  return 'other';
}

/** overlayfs marks a deleted lower entry with a 0:0 character device in the upper dir. */
function isWhiteout(host: string): boolean {
  try {
    const st = lstatSync(host);
    return st.isCharacterDevice() && st.rdev === 0;
  } catch {
    return false;
  }
}

/** The run layer's own directory (run/host/upper, the studio's), opened without following a link. */
function openUpper(upper: string): number | null {
  try {
    return openSync(upper, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch {
    return null;
  }
}

/**
 * Runs `fn` with directory `dir` of the run layer open, as a path through its descriptor
 * (/proc/self/fd/N); null when some component is not a real directory (overlayfs hides what is
 * below it) or is missing.
 */
function inUpperDir<T>(upper: string, dir: string, fn: (at: string) => T): T | null {
  const top = openUpper(upper);
  if (top === null) return null;
  let fd = top;
  try {
    const rel = dir.split('/').filter(Boolean).join('/');
    if (rel) {
      try {
        fd = openDirBeneath(top, rel);
      } catch {
        return null;
      }
    }
    return fn(`/proc/self/fd/${fd}`);
  } finally {
    if (fd !== top) closeSync(fd);
    closeSync(top);
  }
}

/** The entry `path` of the run layer, looked at as `host` (through its opened directory). */
function entryAt(host: string, path: string, st: Stats | undefined): FsEntry | null {
  if (!st) return null;
  if (st.isCharacterDevice() && st.rdev === 0) return null;
  const type = typeOf(st);
  let target: string | undefined;
  try {
    if (type === 'symlink') target = readlinkSync(host);
  } catch {
    return null; // no longer a link: the program changed it meanwhile
  }
  return {
    path,
    name: path === '/' ? '/' : posix.basename(path),
    type,
    mode: st.mode & 0o7777,
    size: type === 'file' ? st.size : 0,
    inode: st.ino,
    nlink: st.nlink,
    ...(target !== undefined ? { target } : {}),
    layer: 'run',
  };
}

function upperEntry(upper: string, path: string): FsEntry | null {
  if (path === '/') return inUpperDir(upper, '/', (at) => entryAt(at, '/', statSync(at)));
  return inUpperDir(upper, posix.dirname(path), (at) => {
    const host = `${at}/${posix.basename(path)}`;
    return entryAt(host, path, lstatSync(host, { throwIfNoEntry: false }));
  });
}

/** The run layer's entries of directory `dir` and the names it deletes (whiteouts), or null. */
function upperListing(upper: string, dir: string): { entries: FsEntry[]; whiteouts: string[] } | null {
  return inUpperDir(upper, dir, (at) => {
    const entries: FsEntry[] = [];
    const whiteouts: string[] = [];
    for (const name of readdirSync(at)) {
      const host = `${at}/${name}`;
      const st = lstatSync(host, { throwIfNoEntry: false });
      if (st?.isCharacterDevice() && st.rdev === 0) whiteouts.push(name);
      else {
        const e = entryAt(host, posix.join(dir, name), st);
        if (e) entries.push(e);
      }
    }
    return { entries, whiteouts };
  });
}

/** True when some ancestor (or the path) is deleted or replaced by a non-directory in the run layer. */
function hiddenByUpper(upper: string, path: string): boolean {
  const parts = path.split('/').filter(Boolean);
  let cur = '';
  for (const part of parts) {
    cur += '/' + part;
    const host = join(upper, cur);
    if (isWhiteout(host)) return true;
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (cur !== path && st && !st.isDirectory()) return true;
  }
  return false;
}

/** "/a/b/" → "/a/b": a trailing slash would make the host follow a final link. */
function normalPath(path: string): string {
  const p = posix.normalize(path.startsWith('/') ? path : '/' + path);
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

/** Whole reads of a run-layer file stop here, as the image engine's do. */
const MAX_WHOLE_READ = 1 << 30;

/** A run-layer entry must be a regular file to be read (a link is not followed on the host). */
function runFile(e: FsEntry): { what: string; followLinks: false } {
  if (e.type !== 'file') {
    const what =
      e.type === 'symlink'
        ? `a symlink (to ${e.target ?? '?'})`
        : e.type === 'other'
          ? 'a FIFO or device'
          : `a ${e.type}`;
    throw fsError(`${e.path}: ${what} in the run layer, not a file: nothing to read`, 'EUSAGE');
  }
  return { what: 'a file of the run layer', followLinks: false };
}

/**
 * Opens a run-layer file from the layer's descriptor, following no link on the way or at the end,
 * without blocking; it must be a regular file. The caller closes the descriptor.
 */
function openRunFile(upper: string, e: FsEntry): { fd: number; size: number } {
  runFile(e);
  const top = openUpper(upper);
  if (top === null) throw fsError(`${e.path}: the run layer is gone`, 'EMISSING');
  let fd: number;
  try {
    fd = openReadBeneath(top, e.path.replace(/^\/+/, ''));
  } finally {
    closeSync(top);
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw fsError(`${e.path}: ${typeName(st)} in the run layer, not a file: nothing to read`, 'EUSAGE');
  }
  return { fd, size: st.size };
}

const readAt = promisify(read);

/** `length` bytes of `fd` from `offset` (fewer at its end), read off the event loop's thread. */
async function readRangeOf(fd: number, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let n = 0;
  while (n < buf.length) {
    const { bytesRead } = await readAt(fd, buf, n, buf.length - n, offset + n);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return buf.subarray(0, n);
}

/** An error with the secure-FS engine's code (EMISSING, EUSAGE), so callers treat both views alike. */
function fsError(message: string, code: 'EMISSING' | 'EUSAGE'): Error {
  return Object.assign(new Error(message), { code });
}

/** The host backend's run layer (run/host/upper) once a program has run, else null. */
export function hostRunLayer(dir: string): string | null {
  const upper = instancePaths(dir).hostUpper;
  return existsSync(upper) ? upper : null;
}

/** The image key the host backend stored when it built an encrypted image, else null. */
export function hostImageKeyFile(dir: string): string | null {
  const file = instancePaths(dir).hostImageKey;
  return existsSync(file) ? file : null;
}

/** True for what the run layer holds or deletes (and the root, which both layers share). */
export const inRunLayer = (e: FsEntry) => e.path === '/' || e.layer !== 'image';

/**
 * Only what the run layer holds, over a merged view: listings drop image entries, stat and reads
 * refuse them (a listing of an image directory is empty rather than an error, for the Files pane).
 */
export function runOnlyView(merged: FsView): FsView {
  const stat = (path: string): FsEntry => {
    const e = merged.stat(path);
    if (!inRunLayer(e)) throw fsError(`${e.path}: not in the run layer (only the image holds it)`, 'EMISSING');
    return e;
  };
  return {
    ...merged,
    stat,
    list: (p) => merged.list(p).filter(inRunLayer),
    listing: (p) => {
      const l = merged.listing(p);
      return { ...l, entries: l.entries.filter(inRunLayer) };
    },
    walkListing: async () => {
      const l = await merged.walkListing();
      return { ...l, entries: l.entries.filter(inRunLayer) };
    },
    readFile: (p) => (stat(p), merged.readFile(p)),
    readFileAsync: async (p) => (stat(p), merged.readFileAsync(p)),
    readRange: async (p, offset, length) => (stat(p), merged.readRange(p, offset, length)),
    readlink: (p) => (stat(p), merged.readlink(p)),
    walk: () => merged.walk().filter(inRunLayer),
    walkAsync: async () => (await merged.walkAsync()).filter(inRunLayer),
  };
}

export function openHostFs(image: FsView, upper: string): FsView {
  const imageEntry = (path: string): FsEntry | null => {
    if (hiddenByUpper(upper, path)) return null;
    try {
      return { ...image.stat(path), layer: 'image' };
    } catch {
      return null;
    }
  };
  const stat = (path: string): FsEntry => {
    const p = normalPath(path);
    const e = upperEntry(upper, p) ?? imageEntry(p);
    if (!e) throw fsError(`${p}: no such file or directory`, 'EMISSING');
    return e;
  };
  const listing = (path: string): Listing => {
    const p = normalPath(path);
    const byName = new Map<string, FsEntry>();
    const skipped: SkippedEntry[] = [];
    const self = stat(p);
    if (self.type !== 'dir') throw fsError(`${p}: not a directory`, 'EUSAGE');
    const inImage = !hiddenByUpper(upper, p) && imageEntry(p)?.type === 'dir';
    if (inImage) {
      // The image has this directory: what it cannot list is reported, never shown as empty.
      try {
        const l = image.listing(p);
        for (const e of l.entries) byName.set(e.name, { ...e, layer: 'image' });
        skipped.push(...l.skipped);
      } catch (err) {
        skipped.push({ path: p, reason: `cannot list the image directory: ${(err as Error).message}` });
      }
    }
    const own = upperEntry(upper, p)?.type === 'dir' ? upperListing(upper, p) : null;
    for (const name of own?.whiteouts ?? []) byName.delete(name);
    for (const e of own?.entries ?? []) byName.set(e.name, e);
    return { entries: [...byName.values()].sort((a, b) => a.name.localeCompare(b.name)), skipped };
  };
  const list = (path: string): FsEntry[] => listing(path).entries;
  // One listing per directory (an engine call for the image part): the loop gets a turn between.
  const walkListing = async (): Promise<Listing> => {
    const out: Listing = { entries: [stat('/')], skipped: [] };
    const pause = yielder();
    const rec = async (dir: string) => {
      const l = listing(dir);
      out.skipped.push(...l.skipped);
      for (const e of l.entries) {
        out.entries.push(e);
        if (e.type === 'dir') {
          await pause();
          await rec(e.path);
        }
      }
    };
    await rec('/');
    return out;
  };
  const readFileAny = (path: string): Buffer => {
    const e = stat(path);
    if (e.layer !== 'run') return image.readFile(e.path);
    const { fd, size } = openRunFile(upper, e);
    return readOpenedSafe(fd, size, e.path, { what: 'a file of the run layer', maxBytes: MAX_WHOLE_READ });
  };
  return {
    kind: 'union',
    rootMac: image.rootMac,
    list,
    listing,
    walkListing,
    stat,
    readFile: readFileAny,
    readFileAsync: async (path) => {
      const e = stat(path);
      if (e.layer !== 'run') return image.readFileAsync(e.path);
      const { fd, size } = openRunFile(upper, e);
      try {
        if (size > MAX_WHOLE_READ) throw fsError(`${e.path}: ${size} bytes, more than a whole read takes`, 'EUSAGE');
        return await readRangeOf(fd, 0, size);
      } finally {
        closeSync(fd);
      }
    },
    readRange: async (path, offset, length) => {
      const e = stat(path);
      if (e.layer !== 'run') return image.readRange(e.path, offset, length);
      if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
        throw new RangeError(`readRange: offset and length must be non-negative integers, got ${offset} and ${length}`);
      }
      const { fd, size } = openRunFile(upper, e);
      try {
        return await readRangeOf(fd, offset, Math.max(0, Math.min(length, size - offset)));
      } finally {
        closeSync(fd);
      }
    },
    readlink: (path) => {
      const e = stat(path);
      if (e.type !== 'symlink') throw fsError(`${path}: not a symlink`, 'EUSAGE');
      if (e.target !== undefined) return e.target;
      if (e.layer !== 'run') return image.readlink(e.path);
      throw fsError(`${path}: the run layer changed meanwhile`, 'EMISSING');
    },
    walk: () => {
      const out: FsEntry[] = [stat('/')];
      const rec = (dir: string) => {
        for (const e of list(dir)) {
          out.push(e);
          if (e.type === 'dir') rec(e.path);
        }
      };
      rec('/');
      return out;
    },
    walkAsync: async () => (await walkListing()).entries,
    // The run layer has no MAC chain on the host backend (plain files); the image's is checked.
    verify: (opts) => image.verify(opts),
  };
}

/** Backend.openFs for the host backend. */
export async function hostOpenFs(dir: string, layer: HostFsLayer = 'merged'): Promise<FsView> {
  const p = instancePaths(dir);
  const absence = imageAbsence(p.buildRoot);
  if (absence.kind === 'incomplete') throw new BackendError(incompleteImageMessage(p.buildRoot, absence.hostFiles), 1);
  if (absence.kind === 'not-built') {
    throw new BackendError(
      'build/mount/__ROOT has no secure image: build the instance first (the native secure-FS engine packs it)',
      1,
    );
  }
  // Built by Occlum (its run/mount or image_config.json), never built or run here (no build/host,
  // no run/host): its run layer is Occlum's SEFS one and its key is where Occlum keeps it; read it
  // as Occlum would, not as an empty host layer over the image (which hid what its programs wrote).
  const byOcclum = existsSync(p.runRoot) || existsSync(p.imageConfig);
  if (byOcclum && !existsSync(p.hostBuild) && !existsSync(p.hostUpper)) {
    const { openInstanceFs, SecureFsError } = await import('../occlum/secure-fs.ts');
    try {
      return openInstanceFs(dir, { layer });
    } catch (err) {
      throw err instanceof SecureFsError ? new BackendError(err.message, 1) : err;
    }
  }
  const fs = await import('../../securefs/index.ts');
  const keyFile = hostImageKeyFile(dir);
  const key: KeyMode = keyFile ? fs.readImageKeyFile(keyFile) : { kind: 'integrity-only' };
  const image = fs.openImage(p.buildRoot, key);
  return layer === 'image' ? image : openHostFs(image, p.hostUpper);
}
