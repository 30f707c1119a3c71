// The dev loop's incremental build: updates the last good build in place from the watcher's
// change set (paths under image/) instead of staging a new build dir, so a one-file edit costs
// a copy of that file, the secure-FS engine's warm pack and the metadata files, not a link per
// file of the image.
//
// Crash safety (a kill at any point leaves the last good build runnable): a journal
// (build/host/inplace.journal) is written before anything of the build changes. It lists every
// operation on the image layer; the files it replaces or removes are hard-linked aside first
// (build/host/.inplace/old), new content is staged next to them (.inplace/new). The commit point
// is the secure-FS engine's own atomic commit of build/mount/__ROOT (its metadata rename, with its
// own journal): recovery reads the image's root MAC; if it is still the journal's old MAC, the
// image layer is rolled back; otherwise the build is rolled forward (manifest, config, pin
// regenerated from the journal with the new MAC). The stat caches are dropped by a recovery,
// so the next run checks everything once.
import { constants as fsc, chmodSync, copyFileSync, existsSync, linkSync, lstatSync, mkdirSync } from 'node:fs';
import { readdirSync, readFileSync, renameSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { closeSync, symlinkSync, writeFileSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { InstancePaths } from '../../instance/layout.ts';
import { writeFileAtomic } from '../../instance/atomic.ts';
import { readGeneratedText } from '../../instance/safe-read.ts';
import { createHash } from 'node:crypto';
import {
  atBeneath,
  lstatBig,
  openFileBeneath,
  readlinkAt,
  ReplacedWhileReadError,
  sha256File,
  sha256FileAsync,
  statEntry,
  statKey,
  statKeyOf,
  walk,
  type Manifest,
  type ManifestEntry,
  type StatCache,
} from './manifest.ts';
import { packSecureImage } from './pack.ts';
import { writeBuildConfig } from './build-config.ts';
import { imageInfo } from '../../securefs/index.ts';
import { dropGuard, guardOf } from './verify-run.ts';
import { yielder } from './yield.ts';
import { macString } from './pin.ts';
import {
  appendManifestDelta,
  appendSecureStamp,
  appendStatCache,
  compactionDue,
  dropDelta,
  manifestDelta,
  manifestLines,
  manifestState,
  readManifestTexts,
  readSecureStamp,
  readStatCache,
  secureCacheDelta,
  statCacheDelta,
  type ManifestState,
} from './deltas.ts';

const JOURNAL = 'inplace.journal';
const WORK = '.inplace';
const SMALL_FILE = 256 << 10;

type Op =
  | { op: 'mkdir'; path: string; mode: number }
  | { op: 'chmod'; path: string; mode: number; old: number }
  /** Replace or add a file or symlink with `.inplace/new/<i>`; `had`: the old one is in old/<i>. */
  | { op: 'put'; path: string; i: number; had: boolean }
  | { op: 'del'; path: string; i: number }
  | { op: 'rmdir'; path: string; mode: number };

interface Journal {
  version: 1;
  oldRootMac: string;
  /** Occlum.json as validated by this build, and the image type: enough to roll forward. */
  configText: string;
  imageType: 'integrity-only';
  ops: Op[];
  /**
   * How the manifest changes: the delta's length before this build (what was appended after it is
   * cut before appending .inplace/manifest.delta.add again), or a compaction (.inplace/manifest.json
   * replaces the base and the delta goes). Absent (older journals): .inplace/manifest.json.
   */
  manifest?: { deltaLength: number; compact: boolean };
}

export function inPlaceJournalPath(p: InstancePaths): string {
  return join(p.hostBuild, JOURNAL);
}

const workDir = (p: InstancePaths) => join(p.hostBuild, WORK);
const hostOf = (p: InstancePaths, path: string) => join(p.hostRootfs, path);

function readManifest(p: InstancePaths): ManifestState | null {
  try {
    const t = readManifestTexts(p);
    return manifestState(t.base, t.delta);
  } catch {
    return null;
  }
}

function readJson<T>(file: string, what: string): T | null {
  try {
    return JSON.parse(readGeneratedText(file, what)) as T;
  } catch {
    return null;
  }
}

/** The roots of a change set: normalised paths under image/, none inside another. */
function changeRoots(changed: string[]): string[] | null {
  const roots: string[] = [];
  for (const rel of [...changed].sort()) {
    const n = posix.normalize('/' + rel);
    if (n === '/' || n.includes('/../') || n.endsWith('/..')) return null; // the whole tree: a staged build
    if (roots.some((r) => n.startsWith(r + '/') || n === r)) continue;
    roots.push(n);
  }
  return roots;
}

/**
 * The manifest's entries with a build's changes on top: the base (20,000 entries for a
 * Python-sized image, possibly the last verified state's own map) is not copied, and is changed
 * only when the build commits.
 */
class EntryOverlay {
  private readonly changes = new Map<string, ManifestEntry | null>();
  constructor(private readonly base: Map<string, ManifestEntry>) {}
  get(path: string): ManifestEntry | undefined {
    const c = this.changes.get(path);
    return c === undefined ? this.base.get(path) : (c ?? undefined);
  }
  set(path: string, e: ManifestEntry): void {
    this.changes.set(path, e);
  }
  delete(path: string): void {
    this.changes.set(path, null);
  }
  *values(): Generator<ManifestEntry> {
    for (const [path, e] of this.base) if (!this.changes.has(path)) yield e;
    for (const e of this.changes.values()) if (e) yield e;
  }
  /** Applies the changes to the base, which it returns. */
  commit(): Map<string, ManifestEntry> {
    for (const [path, e] of this.changes) {
      if (e) this.base.set(path, e);
      else this.base.delete(path);
    }
    return this.base;
  }
}

interface Plan {
  ops: Op[];
  entries: EntryOverlay;
  /** Files whose content is copied anew: index → source host path. */
  copies: Map<number, { path: string; mode: number; size: number; sig: string }>;
  links: Map<number, string>;
}

/**
 * What the change set does to the image layer, from image/ and the manifest. Null when the plan
 * would need more than in-place edits (a directory replaced by a file or back, an unknown parent):
 * the caller then stages a full build.
 */
function plan(src: string, prev: Map<string, ManifestEntry>, changed: string[]): Plan | null {
  const roots = changeRoots(changed);
  if (!roots) return null;
  const entries = new EntryOverlay(prev);
  const ops: Op[] = [];
  const copies: Plan['copies'] = new Map();
  const links: Plan['links'] = new Map();
  let n = 0;
  for (const root of roots) {
    const parent = posix.dirname(root);
    if (parent !== '/' && entries.get(parent)?.type !== 'dir') return null;
    const want = new Map<string, ReturnType<typeof lstatBig>>();
    try {
      const st = atBeneath(src, root, lstatBig);
      want.set(root, st);
      if (st.isDirectory()) for (const w of walk(src, root.slice(1))) want.set('/' + w.rel, w.st);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const have: ManifestEntry[] = [];
    const inside = root + '/';
    const self = prev.get(root);
    if (self) have.push(self);
    // Below a directory: its entries (a file or a new path has none in the manifest).
    if (self?.type === 'dir') for (const [path, e] of prev) if (path.startsWith(inside)) have.push(e);
    const dirs: string[] = [];
    for (const e of have) {
      const st = want.get(e.path);
      const kind = st ? (st.isDirectory() ? 'dir' : st.isFile() || st.isSymbolicLink() ? 'leaf' : 'none') : 'none';
      if (kind !== 'none' && (kind === 'dir') !== (e.type === 'dir')) return null;
      if (kind !== 'none') continue;
      entries.delete(e.path);
      if (e.type === 'dir') dirs.push(e.path);
      else ops.push({ op: 'del', path: e.path, i: n++ });
    }
    for (const d of dirs.sort().reverse()) ops.push({ op: 'rmdir', path: d, mode: entries.get(d)?.mode ?? 0o755 });
    for (const [path, st] of [...want].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const mode = Number(st.mode & 0o7777n);
      const old = entries.get(path);
      if (st.isDirectory()) {
        if (!old) ops.push({ op: 'mkdir', path, mode });
        else if (old.mode !== mode) ops.push({ op: 'chmod', path, mode, old: old.mode });
        entries.set(path, { path, type: 'dir', mode, size: 0 });
      } else if (st.isSymbolicLink()) {
        const target = atBeneath(src, path, (at) => readlinkAt(at, join(src, path)));
        if (old?.type === 'symlink' && old.target === target) continue;
        const i = n++;
        links.set(i, target);
        ops.push({ op: 'put', path, i, had: !!old });
      } else if (st.isFile()) {
        const sig = `${st.mtimeNs}:${st.ctimeNs}:${st.ino}`;
        const size = Number(st.size);
        if (old?.type === 'file' && old.srcSig === sig && old.srcSize === size && old.mode === mode) continue;
        const i = n++;
        copies.set(i, { path, mode, size, sig });
        ops.push({ op: 'put', path, i, had: !!old });
      } // sockets, fifos, devices: not part of an image
    }
  }
  // Directories first (parents before children), then files, then emptied directories.
  const rank = (o: Op) => (o.op === 'mkdir' ? 0 : o.op === 'rmdir' ? 2 : o.op === 'chmod' ? 3 : 1);
  ops.sort((a, b) => rank(a) - rank(b));
  return { ops, entries, copies, links };
}

/** More changed paths than this: a staged build (it links the rest in one pass) instead. */
export const MAX_CHANGES_IN_PLACE = 2000;

/**
 * The paths of image/ (relative to it) that differ from the last good build's manifest, by the
 * test a staged build reuses a file on (size, mode, mtime, ctime and inode: any write, chmod or
 * replacement), directory modes, symlink targets, and what was added or removed. So a dev loop's
 * first build, which no watcher saw the changes of, can update the build in place. Null when
 * there is no manifest, an in-place build is pending recovery, or more than `max` paths differ.
 */
export async function changesSinceBuild(
  p: InstancePaths,
  onProgress?: (done: number, total: number) => void,
  max = MAX_CHANGES_IN_PLACE,
): Promise<string[] | null> {
  if (existsSync(inPlaceJournalPath(p)) || !existsSync(p.hostRootfs)) return null;
  const prev = readManifest(p);
  if (!prev) return null;
  const entries = prev.entries;
  const seen = new Set<string>();
  const changed: string[] = [];
  const pause = yielder();
  let n = 0;
  for (const { rel, host, st } of walk(p.image)) {
    const path = '/' + rel;
    const old = entries.get(path);
    seen.add(path);
    const mode = Number(st.mode & 0o7777n);
    let same = false;
    if (old && old.mode === mode) {
      if (st.isDirectory()) same = old.type === 'dir';
      else if (st.isSymbolicLink())
        same = old.type === 'symlink' && old.target === atBeneath(p.image, path, (at) => readlinkAt(at, host));
      else if (st.isFile())
        same =
          old.type === 'file' &&
          old.srcSize === Number(st.size) &&
          old.srcSig === `${st.mtimeNs}:${st.ctimeNs}:${st.ino}`;
      else same = true; // sockets, fifos, devices: not part of an image
    } else if (!old && !st.isDirectory() && !st.isFile() && !st.isSymbolicLink()) same = true;
    if (!same && changed.push(rel) > max) return null;
    if (++n % 2000 === 0) onProgress?.(n, entries.size);
    const w = pause();
    if (w) await w;
  }
  for (const path of entries.keys()) if (!seen.has(path) && changed.push(path.slice(1)) > max) return null;
  return changed;
}

/** Puts the image layer back as the journal found it (ops not yet applied are no-ops). */
function rollBack(p: InstancePaths, j: Journal): void {
  const w = workDir(p);
  for (const o of [...j.ops].reverse()) {
    const host = hostOf(p, o.path);
    if (o.op === 'chmod') chmodSync(host, o.old);
    else if (o.op === 'rmdir') {
      if (!existsSync(host)) {
        mkdirSync(host);
        chmodSync(host, o.mode);
      }
    } else if (o.op === 'mkdir') rmSync(host, { recursive: true, force: true });
    else if (o.op === 'del' || o.had) {
      const old = join(w, 'old', String(o.i));
      if (existsSync(old)) renameSync(old, host);
    } else rmSync(host, { force: true });
  }
}

/**
 * A journal that is not one the studio wrote (forged in an instance copied from elsewhere, or
 * corrupted): recovery would act on whatever paths it names, so it is refused, nothing changed.
 */
export class InPlaceJournalError extends Error {
  constructor(p: InstancePaths, detail: string) {
    super(
      `${inPlaceJournalPath(p)}: ${detail}; nothing was changed. It is not a journal this studio wrote: ` +
        `delete it and build again (rm ${inPlaceJournalPath(p)} && occlum-studio build)`,
    );
  }
}

const MODE = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0o7777;
const INDEX = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;

/** Why an op is not one plan() makes (an absolute path of real components inside the layer), or null. */
function badOp(o: unknown): string | null {
  if (typeof o !== 'object' || o === null) return 'an operation is not an object';
  const op = o as Record<string, unknown>;
  const path = op.path;
  if (typeof path !== 'string') return `operation "${String(op.op)}" has no path`;
  const parts = path.split('/');
  if (path.length > 4096 || parts[0] !== '' || path === '/' || path.includes('\0'))
    return `${JSON.stringify(path)} is not a path inside the image layer`;
  if (parts.slice(1).some((c) => c === '' || c === '.' || c === '..'))
    return `${JSON.stringify(path)} climbs out of the image layer or has empty components`;
  switch (op.op) {
    case 'mkdir':
    case 'rmdir':
      return MODE(op.mode) ? null : `${op.op} ${path}: mode ${String(op.mode)} is not a permission mode`;
    case 'chmod':
      return MODE(op.mode) && MODE(op.old) ? null : `chmod ${path}: a mode is not a permission mode`;
    case 'put':
      if (typeof op.had !== 'boolean') return `put ${path}: "had" is not true or false`;
      return INDEX(op.i) ? null : `put ${path}: the index ${JSON.stringify(op.i)} is not a file of .inplace`;
    case 'del':
      return INDEX(op.i) ? null : `del ${path}: the index ${JSON.stringify(op.i)} is not a file of .inplace`;
    default:
      return `unknown operation ${JSON.stringify(op.op)}`;
  }
}

/** Null when the journal cannot be read (it was being written); throws when it is not the studio's. */
function readJournal(p: InstancePaths): Journal | null {
  const j = readJson<Record<string, unknown>>(inPlaceJournalPath(p), 'the in-place build journal');
  if (j === null) return null;
  if (typeof j !== 'object' || j.version !== 1 || typeof j.oldRootMac !== 'string')
    throw new InPlaceJournalError(p, 'not an in-place journal of version 1');
  if (typeof j.configText !== 'string' || j.imageType !== 'integrity-only' || !Array.isArray(j.ops))
    throw new InPlaceJournalError(p, 'its configuration, image type or operations are missing');
  for (const o of j.ops) {
    const why = badOp(o);
    if (why) throw new InPlaceJournalError(p, why);
  }
  return j as unknown as Journal;
}

const isRealDir = (path: string): boolean | null => {
  const st = lstatSync(path, { throwIfNoEntry: false });
  return st ? st.isDirectory() : null;
};

/**
 * The first path an op would reach through something other than a real directory (a symlink
 * planted in the layer, or the layer or work dir itself replaced by one), or null. plan() only
 * makes ops below directories of the build, so a legitimate op never meets one.
 */
function unsafeAncestor(p: InstancePaths, ops: Op[], checkWork: boolean): string | null {
  const w = workDir(p);
  const tops = [p.hostBuild, p.hostRootfs, ...(checkWork ? [w, join(w, 'old'), join(w, 'new')] : [])];
  for (const d of tops) if (isRealDir(d) === false) return d;
  const ok = new Set<string>();
  for (const o of ops) {
    const parts = o.path.split('/').slice(1);
    // chmod follows a link at the end too: it must be the directory it was.
    const upTo = o.op === 'chmod' ? parts.length : parts.length - 1;
    for (let k = 1; k <= upTo; k++) {
      const rel = parts.slice(0, k).join('/');
      if (ok.has(rel)) continue;
      const real = isRealDir(join(p.hostRootfs, rel));
      if (real === false) return join(p.hostRootfs, rel);
      if (real) ok.add(rel);
    }
  }
  return null;
}

function engineRootMac(p: InstancePaths): string | null {
  try {
    return imageInfo(p.buildRoot).rootMac;
  } catch {
    return null;
  }
}

/**
 * Writes the new build's manifest (staged in the work dir: a delta to append, or a whole base)
 * and config pinned to `rootMac`. `mac`: the manifest's MAC when the caller knows it (computed
 * incrementally), else it is read from the files.
 */
function rollForward(p: InstancePaths, j: Journal, rootMac: string, mac?: string): { mac: string; sysText: string } {
  const staged = join(workDir(p), 'manifest.json');
  const add = join(workDir(p), 'manifest.delta.add');
  if (existsSync(staged)) {
    renameSync(staged, p.hostManifest);
    dropDelta(manifestDelta(p));
  } else if (j.manifest?.compact)
    dropDelta(manifestDelta(p)); // renamed before a kill
  else if (j.manifest && existsSync(add)) appendManifestDelta(p, j.manifest.deltaLength, readFileSync(add, 'utf8'));
  let manifestMacNow = mac;
  if (manifestMacNow === undefined) {
    const t = readManifestTexts(p);
    manifestMacNow = macString(createHash('sha256').update(t.base).update(t.delta).digest());
  }
  return writeBuildConfig(p.build, p.hostBuild, j.configText, rootMac, manifestMacNow, j.imageType, true, true);
}

function clear(p: InstancePaths): void {
  rmSync(inPlaceJournalPath(p), { force: true });
  rmSync(workDir(p), { recursive: true, force: true });
}

/**
 * Finishes or undoes an in-place build a kill interrupted (call with the build lock, or when no
 * build runs). Returns whether there was one.
 */
export function recoverInPlace(p: InstancePaths): boolean {
  if (!existsSync(inPlaceJournalPath(p))) {
    if (existsSync(workDir(p))) rmSync(workDir(p), { recursive: true, force: true });
    return false;
  }
  dropGuard(p); // this process's last verified state is not what the recovery leaves
  const j = readJournal(p);
  const through = j && unsafeAncestor(p, j.ops, true);
  if (through) throw new InPlaceJournalError(p, `${through} is a symlink or a file where the build has a directory`);
  const mac = engineRootMac(p);
  // The stat caches may name inodes the recovery replaces: the next run checks everything.
  for (const f of [p.hostStatCache, statCacheDelta(p), p.hostSecureCache, secureCacheDelta(p)])
    rmSync(f, { force: true });
  if (j && mac && mac !== j.oldRootMac) rollForward(p, j, mac);
  else if (j) rollBack(p, j);
  // A journal that cannot be read was being written: nothing was applied yet.
  clear(p);
  return true;
}

export interface InPlaceResult {
  rootMac: string;
  configMac: string;
  files: number;
  /** Files and symlinks in the image. */
  leaves: number;
  reused: number;
  copied: number;
}

/**
 * Applies `changed` (paths relative to image/) to the last good build. Null when it cannot (no
 * usable previous build, the secure-FS engine unavailable, a change it does not handle): nothing
 * was changed then, and the caller stages a full build.
 */
export async function buildInPlace(
  p: InstancePaths,
  configText: string,
  changed: string[],
  mark: (stage: string) => void,
): Promise<InPlaceResult | null> {
  // This process's last verified state knows the image MAC, and the manifest when its files are
  // untouched since: the build then reads neither (20,000 entries for a Python-sized image).
  const guard = guardOf(p);
  const known = guard?.beforeBuild() ?? null;
  if (guard && !known) dropGuard(p);
  const prevMac = known?.imageMac ?? stampMac(p);
  const prev = known?.manifest ?? readManifest(p);
  // An encrypted build is repacked with its key by a staged build (the dev loop packs integrity-only).
  if (!prev || !prevMac || existsSync(join(p.hostBuild, 'image_key'))) return null;
  if (!existsSync(p.hostRootfs) || existsSync(inPlaceJournalPath(p))) return null;
  let pl;
  try {
    pl = plan(p.image, prev.entries, changed);
  } catch (err) {
    // A directory of image/ replaced by a link meanwhile (or by the user): the staged build's walk decides.
    if (err instanceof ReplacedWhileReadError) return null;
    throw err;
  }
  // A manifest entry with ".." (a forged build) or a symlink planted in the layer where the build
  // has a directory: a staged build, from image/ alone, replaces both.
  if (!pl || pl.ops.some((o) => badOp(o) !== null) || unsafeAncestor(p, pl.ops, false)) return null;
  mark('plan');
  const w = workDir(p);
  rmSync(w, { recursive: true, force: true });
  mkdirSync(join(w, 'new'), { recursive: true });
  mkdirSync(join(w, 'old'));
  // Stage new content and keep what is replaced, before the journal names them.
  for (const o of pl.ops) {
    if (o.op !== 'put' && o.op !== 'del') continue;
    if (o.op === 'del' || o.had) linkSync(hostOf(p, o.path), join(w, 'old', String(o.i)));
    if (o.op !== 'put') continue;
    const out = join(w, 'new', String(o.i));
    const link = pl.links.get(o.i);
    if (link !== undefined) {
      symlinkSync(link, out);
      pl.entries.set(o.path, { ...statEntry(out, o.path)!, path: o.path });
      continue;
    }
    const c = pl.copies.get(o.i)!;
    // A small file (what an edit usually saves) inline; big ones in the thread pool, which under
    // load costs a round trip per step but keeps the event loop free.
    const small = c.size <= SMALL_FILE;
    // Through the file as opened below image/ (see walk): no link on the way is followed.
    const fd = openFileBeneath(p.image, c.path);
    try {
      if (small) copyFileSync(`/proc/self/fd/${fd}`, out, fsc.COPYFILE_FICLONE);
      else await copyFile(`/proc/self/fd/${fd}`, out, fsc.COPYFILE_FICLONE);
    } finally {
      closeSync(fd);
    }
    chmodSync(out, c.mode);
    const e = statEntry(out, o.path)!;
    const sha256 = small ? sha256File(out) : await sha256FileAsync(out);
    pl.entries.set(o.path, { ...e, sha256, srcSize: c.size, srcSig: c.sig });
  }
  // The manifest: the changed entries appended to its delta, or now and then a whole new base.
  const lines = manifestLines(pl.entries, new Set(pl.ops.map((o) => o.path)));
  const compact = compactionDue(prev.baseBytes, prev.deltaBytes + Buffer.byteLength(lines));
  // The manifest state after this build (its entries are committed with it, below).
  let next: Omit<ManifestState, 'entries'>;
  if (compact) {
    const base = JSON.stringify({ version: 1, entries: [...pl.entries.values()] } satisfies Manifest);
    writeFileSync(join(w, 'manifest.json'), base);
    next = { hash: createHash('sha256').update(base), baseBytes: Buffer.byteLength(base), deltaBytes: 0 };
  } else {
    writeFileSync(join(w, 'manifest.delta.add'), lines);
    const hash = prev.hash.copy().update(lines);
    next = { hash, baseBytes: prev.baseBytes, deltaBytes: prev.deltaBytes + Buffer.byteLength(lines) };
  }
  mark('stage');
  const j: Journal = {
    version: 1,
    oldRootMac: prevMac,
    configText,
    imageType: 'integrity-only',
    ops: pl.ops,
    manifest: { deltaLength: prev.deltaBytes, compact },
  };
  writeFileAtomic(inPlaceJournalPath(p), JSON.stringify(j), 0o644, false);
  for (const o of pl.ops) {
    const host = hostOf(p, o.path);
    if (o.op === 'mkdir') {
      mkdirSync(host);
      chmodSync(host, o.mode);
    } else if (o.op === 'chmod') chmodSync(host, o.mode);
    else if (o.op === 'put') renameSync(join(w, 'new', String(o.i)), host);
    else if (o.op === 'del') rmSync(host, { force: true });
    else rmdirSync(host);
  }
  mark('apply');
  // The engine's warm path: only the changed paths are looked at; its commit is ours.
  const packed = await packSecureImage({
    src: p.image,
    outRoot: p.buildRoot,
    macFile: p.rootMac,
    previousRoot: null,
    imageKeyFile: null,
    changed: changed.map((c) => posix.normalize(c)),
    imageUnchanged: known?.secureUntouched ?? false,
  });
  mark('pack');
  if (!packed.ok) {
    recoverInPlace(p);
    return null;
  }
  const config = rollForward(p, j, packed.rootMac, macString(next.hash.copy().digest()));
  const entries = pl.entries.commit();
  clear(p);
  mark('config');
  const secureChanges =
    guardOf(p)?.afterBuild({
      layerPaths: pl.ops.map((o) => o.path),
      manifest: { ...next, entries },
      sysText: config.sysText,
      imageMac: packed.rootMac,
      hostFiles: packed.hostFiles,
    }) ?? null;
  if (guardOf(p) && !secureChanges) dropGuard(p);
  mark('guard');
  updateStatCache(p, pl, !!secureChanges);
  updateSecureStamp(p, packed.rootMac, secureChanges);
  mark('statcache');
  let files = 0;
  let leaves = 0;
  for (const e of entries.values()) {
    if (e.type === 'file') files++;
    if (e.type !== 'dir') leaves++;
  }
  return {
    rootMac: packed.rootMac,
    configMac: config.mac,
    files: entries.size,
    leaves,
    reused: files - pl.copies.size,
    copied: pl.copies.size,
  };
}

/**
 * The image layer's stat cache with the changed paths' new inodes (the rest is untouched):
 * appended to its delta, or (no delta wanted, or one due for compaction) rewritten whole.
 */
function updateStatCache(p: InstancePaths, pl: Plan, append: boolean): void {
  const changes: [string, string | null][] = [];
  for (const o of pl.ops) {
    if (o.op === 'del' || (o.op === 'put' && pl.links.has(o.i))) changes.push([o.path, null]);
    else if (o.op === 'put') changes.push([o.path, statKey(hostOf(p, o.path))]);
  }
  if (append && !dueForCompaction(p.hostStatCache, statCacheDelta(p))) return appendStatCache(p, changes);
  let cache: StatCache = {};
  try {
    cache = readStatCache(p);
  } catch {
    /* lost: only the changed paths are known */
  }
  for (const [path, key] of changes) {
    if (key === null) delete cache[path];
    else cache[path] = key;
  }
  writeFileAtomic(p.hostStatCache, JSON.stringify(cache), 0o644, false);
  dropDelta(statCacheDelta(p));
}

/**
 * The secure image's stamp after a warm pack. `changes`: its files the pack wrote or removed, as
 * this process's guard followed them (appended to the stamp's delta). Without them: the engine
 * writes changed inodes under new host names and never rewrites a named inode file in place, so
 * only new names and the image's own files (metadata, pack state: not 32-hex names) need a
 * stat. A stale entry would only make the next run verify the whole MAC chain.
 */
function updateSecureStamp(p: InstancePaths, rootMac: string, changes: [string, string | null][] | null): void {
  if (changes && !dueForCompaction(p.hostSecureCache, secureCacheDelta(p)))
    return appendSecureStamp(p, rootMac, changes);
  let old: Record<string, string> = {};
  try {
    old = readSecureStamp(p).files;
  } catch {
    /* lost: every name is stat'ed */
  }
  const files: Record<string, string> = {};
  for (const name of readdirSync(p.buildRoot)) {
    const kept = /^[0-9a-f]{32}$/.test(name) ? old[name] : undefined;
    files[name] = kept ?? statKeyOf(lstatBig(join(p.buildRoot, name)));
  }
  writeFileAtomic(p.hostSecureCache, JSON.stringify({ rootMac, files }), 0o644, false);
  dropDelta(secureCacheDelta(p));
}

function dueForCompaction(base: string, delta: string): boolean {
  const size = (f: string) => statSync(f, { throwIfNoEntry: false })?.size ?? 0;
  return compactionDue(size(base), size(delta));
}

/** The root MAC the last build packed, from the secure image's stamp. */
function stampMac(p: InstancePaths): string | null {
  try {
    return readSecureStamp(p).rootMac;
  } catch {
    return null;
  }
}
