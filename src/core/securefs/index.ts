// Secure-FS facade: Occlum images (SEFS over SGX protected files) read, verified and packed by the
// Rust engine in native/. Contract: ./types.ts. Heavy work (verify, pack, big reads) runs on the
// libuv thread pool with progress; light lookups are synchronous.
import {
  closeSync,
  constants,
  fchmodSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { callAsync, callBytes, callJson } from './native.ts';
import { chmodDirBeneath, createBeneath, mkdirBeneath, symlinkBeneath, unlinkBeneath } from './beneath.ts';
import { keySpec, parseDashed16, parseMac } from './keys.ts';
import { yielder } from '../backend/host/yield.ts';
import { readTextIfPresent } from '../instance/safe-read.ts';
import type {
  ExtractResult,
  FsEntry,
  FsView,
  KeyMode,
  Listing,
  PackOptions,
  PackResult,
  Progress,
  TreeProgress,
  VerifyReport,
  VerifyProblem,
} from './types.ts';

export * from './types.ts';
export { readImageKeyFile, sgxSimKey, mrsignerFromPem, parseMac, macString, DEFAULT_MRSIGNER_HEX } from './keys.ts';
export { loadNative, nativeStatus, NativeUnavailableError, NATIVE_FIX, type NativeError } from './native.ts';

const INTEGRITY_ONLY: KeyMode = { kind: 'integrity-only' };

/** Native arguments of a ranged read; refuses what is not a byte position. */
function rangeArgs(offset: number, length: number): [string, string] {
  for (const [what, v] of [
    ['offset', offset],
    ['length', length],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new RangeError(`readRange: ${what} must be a non-negative integer, got ${v}`);
  }
  return [String(offset), String(length)];
}

function toProgress(cb?: (p: Progress) => void) {
  return cb
    ? (p: { done: number; total: number; bytes: number }) => cb({ done: p.done, total: p.total, bytes: p.bytes })
    : undefined;
}

/** How `.ROOT_MAC` is read: a regular file of one MAC (a few spaces allowed), never a link. */
export const ROOT_MAC_FILE = { what: 'the root MAC file', maxBytes: 4096, fix: 'remove it and rebuild the image' };

/** Reads `<dir of __ROOT>/.ROOT_MAC` when present. */
export function readRootMacFile(rootDir: string): string | undefined {
  const f = join(dirname(resolve(rootDir)), '.ROOT_MAC');
  const text = readTextIfPresent(f, ROOT_MAC_FILE);
  return text === undefined ? undefined : parseMac(text, f);
}

export interface ImageInfo {
  rootMac: string;
  era: string;
  garbagePad: boolean;
  groups: number;
  blocks: number;
  unusedBlocks: number;
  mode: string;
}

export function imageInfo(rootDir: string, key: KeyMode = INTEGRITY_ONLY): ImageInfo {
  return callJson<ImageInfo>('info', [resolve(rootDir), keySpec(key)]);
}

/**
 * Opens one SEFS layer (an `__ROOT` directory). `expectedMac` is what verify checks the root
 * against; by default the `.ROOT_MAC` next to the directory, if any; '' checks no root MAC.
 */
export function openImage(rootDir: string, key: KeyMode = INTEGRITY_ONLY, expectedMac?: string): FsView {
  const root = resolve(rootDir);
  const spec = keySpec(key);
  const info = imageInfo(root, key);
  const expected =
    expectedMac === ''
      ? undefined
      : expectedMac !== undefined
        ? parseMac(expectedMac, 'expected MAC')
        : readRootMacFile(root);
  const listing = (p: string) => callJson<Listing>('list', [root, spec, p]);
  const walkListing = async (): Promise<Listing> => {
    const w = JSON.parse((await callAsync('walk', [root, spec])) as string) as {
      entries: FsEntry[];
      problems: { path: string; message: string }[];
    };
    return { entries: w.entries, skipped: w.problems.map((p) => ({ path: p.path, reason: p.message })) };
  };
  return {
    kind: 'image',
    rootMac: info.rootMac,
    list: (p) => listing(p).entries,
    listing,
    walkListing,
    stat: (p) => callJson<FsEntry>('stat', [root, spec, p]),
    readFile: (p) => callBytes('read', [root, spec, p]),
    readFileAsync: async (p) => (await callAsync('read', [root, spec, p])) as Buffer,
    readRange: async (p, offset, length) =>
      (await callAsync('readRange', [root, spec, p, ...rangeArgs(offset, length)])) as Buffer,
    readlink: (p) => callBytes('readlink', [root, spec, p]).toString('utf8'),
    walk: () => callJson<{ entries: FsEntry[] }>('walk', [root, spec]).entries,
    walkAsync: async () => (await walkListing()).entries,
    verify: async (opts) =>
      JSON.parse(
        (await callAsync('verify', [root, spec, expected ?? ''], toProgress(opts?.onProgress))) as string,
      ) as VerifyReport,
  };
}

export interface UnionInfo {
  /** ok: the run layer's /.ufs.mac names this image; mismatch: another image; absent: never mounted. */
  binding: 'ok' | 'mismatch' | 'absent';
  boundTo: string;
  imageRootMac: string;
  runRootMac: string;
}

/**
 * The merged view Occlum's UnionFS shows: `runLayer` (run/mount/__ROOT) over `imageLayer`
 * (build/mount/__ROOT). With an image key both layers use it; without, the run layer uses the SGX
 * auto key (pass `runKey`, e.g. sgxSimKey() for simulation-mode instances).
 */
export function openUnion(
  imageLayer: string,
  runLayer: string,
  keys: { imageKey?: KeyMode; runKey?: KeyMode; expectedMac?: string } = {},
): FsView & { info(): UnionInfo } {
  const imageKey = keys.imageKey ?? INTEGRITY_ONLY;
  const runKey = keys.runKey ?? (imageKey.kind === 'image-key' ? imageKey : undefined);
  if (!runKey) {
    throw new Error(
      'the run layer of an instance without an image key is sealed with the SGX auto key: pass runKey (e.g. --sgx-sim for simulation-mode instances)',
    );
  }
  const base = [resolve(imageLayer), keySpec(imageKey), resolve(runLayer), keySpec(runKey)];
  const info = callJson<UnionInfo>('uInfo', base);
  const image = openImage(imageLayer, imageKey, keys.expectedMac);
  const run = openImage(runLayer, runKey, '');
  return {
    kind: 'union',
    rootMac: info.imageRootMac,
    info: () => info,
    list: (p) => callJson<Listing>('uList', [...base, p]).entries,
    listing: (p) => callJson<Listing>('uList', [...base, p]),
    walkListing: async () => JSON.parse((await callAsync('uWalk', base)) as string) as Listing,
    stat: (p) => callJson<FsEntry>('uStat', [...base, p]),
    readFile: (p) => callBytes('uRead', [...base, p]),
    readFileAsync: async (p) => (await callAsync('uRead', [...base, p])) as Buffer,
    readRange: async (p, offset, length) =>
      (await callAsync('uReadRange', [...base, p, ...rangeArgs(offset, length)])) as Buffer,
    readlink: (p) => {
      const e = callJson<FsEntry>('uStat', [...base, p]);
      if (e.type !== 'symlink') throw new Error(`${p}: not a symlink`);
      return e.target ?? '';
    },
    walk: () => callJson<Listing>('uWalk', base).entries,
    walkAsync: async () => (JSON.parse((await callAsync('uWalk', base)) as string) as Listing).entries,
    verify: async (opts) => {
      const a = await image.verify(opts);
      const b = await run.verify(opts);
      const problems: VerifyProblem[] = [
        ...a.problems,
        ...b.problems.map((p) => ({ ...p, message: `run layer: ${p.message}` })),
      ];
      if (info.binding === 'mismatch') {
        problems.push({
          path: '/.ufs.mac',
          kind: 'mac-mismatch',
          message: `run layer is bound to image ${info.boundTo}, not to this image (${info.imageRootMac})`,
        });
      }
      return { ...a, ok: problems.length === 0, files: a.files + b.files, bytes: a.bytes + b.bytes, problems };
    },
  };
}

/** Packs a directory into an Occlum image + .ROOT_MAC (atomic; incremental when asked). */
export async function packImage(opts: PackOptions): Promise<PackResult> {
  if (opts.key.kind === 'sgx-sim')
    throw new Error('images are packed integrity-only or with an image key; the SGX auto key only seals run layers');
  const args = [
    resolve(opts.src),
    resolve(opts.outRoot),
    resolve(opts.macFile),
    keySpec(opts.key),
    opts.incremental ? '1' : '0',
  ];
  // Native args 5 (fsync) and 6 (crash test hook) stay default; 7 flags the hint ('2': and the
  // image is vouched unchanged), 8 is the seed, 9.. are the hint paths.
  const hint = opts.changed ? (opts.imageUnchanged ? '2' : '1') : '0';
  if (opts.changed || opts.seedFrom)
    args.push('0', '', hint, opts.seedFrom ? resolve(opts.seedFrom) : '', ...(opts.changed ?? []));
  const r = JSON.parse((await callAsync('pack', args, toProgress(opts.onProgress))) as string) as PackResult & {
    inodes: number;
    hostFiles?: PackResult['hostFiles'] | null;
  };
  return {
    rootMac: r.rootMac,
    filesPacked: r.filesPacked,
    filesReused: r.filesReused,
    bytes: r.bytes,
    ms: Number(r.ms),
    ...(r.hostFiles ? { hostFiles: r.hostFiles } : {}),
  };
}

/**
 * The image this process packed into `from` now lives at `to` (its directory was renamed): the
 * next hinted pack into `to` takes the warm path instead of reading the image again.
 */
export function packMoved(from: string, to: string): void {
  callJson('packMoved', [resolve(from), resolve(to)]);
}

/** Verifies an image layer against `expectedMac` (default: its .ROOT_MAC). */
export async function verifyImage(
  rootDir: string,
  key: KeyMode = INTEGRITY_ONLY,
  expectedMac?: string,
  onProgress?: (p: Progress) => void,
): Promise<VerifyReport> {
  return openImage(rootDir, key, expectedMac).verify({ onProgress });
}

// ---- single protected files ----

export interface PfHeader {
  magic: string;
  major: number;
  minor: number;
  keyId: string;
  cpuSvn: string;
  isvSvn: number;
  useUserKdkKey: number;
  mac: string;
  updateFlag: number;
  integrityOnly: number;
  hostBytes: number;
}
export interface PfInfo {
  name: string;
  mode: string;
  mac: string;
  size: number;
  nodes: number;
  dataNodes: number;
  extraNodes: number;
  recovered: boolean;
  cpuSvn: string;
  isvSvn: number;
}

/** The plain (unauthenticated) header of a PF, readable without any key. */
export function pfHeader(file: string): PfHeader {
  return callJson<PfHeader>('pfHeader', [resolve(file)]);
}
/** Opens and authenticates every node; throws NativeError (EWRONGKEY, ECORRUPT with .node, …). */
export async function pfVerify(file: string, key: KeyMode = INTEGRITY_ONLY): Promise<PfInfo> {
  return JSON.parse((await callAsync('pfVerify', [resolve(file), keySpec(key)])) as string) as PfInfo;
}
/** A small PF's content, read on the calling thread (callers bound the size first). */
export function pfReadSync(file: string, key: KeyMode = INTEGRITY_ONLY): Buffer {
  return callBytes('pfRead', [resolve(file), keySpec(key)]);
}
export async function pfRead(file: string, key: KeyMode = INTEGRITY_ONLY): Promise<Buffer> {
  return (await callAsync('pfRead', [resolve(file), keySpec(key)])) as Buffer;
}

// ---- extract ----

/**
 * Bytes per ranged read when extract copies or diff compares a file: memory stays bounded for any
 * file size, and each read (authentication, decryption: the costly part) is one job on the libuv
 * pool. The host side of a chunk (write, or read to compare) is a synchronous call of a few ms at
 * most: a promise round trip per small file would cost more than it saves.
 */
const CHUNK = 8 << 20;

/** Writes all of `data` at `position` (a write may be short). */
function writeAll(fd: number, data: Buffer, position: number): void {
  for (let w = 0; w < data.length;) w += writeSync(fd, data, w, data.length - w, position + w);
}

/** Reads up to `length` bytes at `position` (fewer only at the end of the file). */
function readUpTo(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.alloc(length);
  let n = 0;
  while (n < length) {
    const got = readSync(fd, buf, n, length - n, position + n);
    if (got === 0) break;
    n += got;
  }
  return buf.subarray(0, n);
}

/** A failed read of the image (the file is skipped); other errors abort the extract. */
class ImageReadError extends Error {}

/** An extract stopped by its abort signal in the middle of a file. */
class Cancelled extends Error {}

async function readChunk(view: FsView, path: string, offset: number): Promise<Buffer> {
  try {
    return await view.readRange(path, offset, CHUNK);
  } catch (err) {
    throw new ImageReadError((err as Error).message);
  }
}

export interface TreeOptions {
  /** Called after each entry and each copied or compared chunk. */
  onProgress?: (p: TreeProgress) => void;
  /** Extract: stop at the next chunk; the file in progress is removed (never left half-written). */
  signal?: AbortSignal;
}

/**
 * Copies `path` (file or directory tree) of a view into `dest`. Never writes outside `dest`: the
 * destination is opened once and every directory, file and symlink is created below that
 * descriptor, one path component at a time without following links (beneath.ts), so a directory
 * swapped for a symlink meanwhile stops the extract instead of redirecting a write. Names are
 * checked, files are created exclusively and symlinks last. File content is read in ranged chunks
 * off the main thread, and the event loop gets a turn between entries: a big tree does not freeze
 * the caller.
 */
export async function extract(
  view: FsView,
  path: string,
  dest: string,
  opts: TreeOptions = {},
): Promise<ExtractResult> {
  mkdirSync(dest, { recursive: true });
  const destFd = openSync(dest, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    return await extractBelow(view, path, dest, destFd, opts);
  } finally {
    closeSync(destFd);
  }
}

async function extractBelow(
  view: FsView,
  path: string,
  dest: string,
  destFd: number,
  opts: TreeOptions,
): Promise<ExtractResult> {
  const out: ExtractResult = { files: 0, dirs: 0, symlinks: 0, bytes: 0, skipped: [] };
  const top = view.stat(path);
  const prefix = top.path === '/' ? '/' : top.path + '/';
  const under = (p: string) => p === top.path || p.startsWith(prefix);
  let all = [top];
  if (top.type === 'dir') {
    const tree = await view.walkListing();
    all = tree.entries.filter((e) => under(e.path));
    // Entries the image holds but cannot give (illegal names, unreadable directories) are listed.
    out.skipped.push(...tree.skipped.filter((s) => under(s.path)).map((s) => ({ path: s.path, reason: s.reason })));
  }
  const topParent = top.path === '/' ? '/' : top.path.slice(0, top.path.lastIndexOf('/')) || '/';
  /** The entry's path below the destination ('' for the destination itself). */
  const relOf = (e: FsEntry): string => {
    if (e.path === '/' && top.path === '/') return '';
    const rel = e.path.slice(topParent === '/' ? 1 : topParent.length + 1);
    const parts = rel.split('/');
    if (parts.some((c) => c === '' || c === '.' || c === '..' || c.includes('\0')))
      throw new Error(`${e.path}: unsafe name, not extracted`);
    return rel;
  };
  /** Runs a write below the destination; its error names the entry and the destination. */
  const below = <T>(e: FsEntry, write: () => T): T => {
    try {
      return write();
    } catch (err) {
      throw new Error(`extracting ${e.path} into ${dest}: ${(err as Error).message}`, { cause: err });
    }
  };
  const entries = all.filter((e) => e.layer !== 'deleted');
  const progress: TreeProgress = { done: 0, total: entries.length, bytes: 0 };
  const report = (current?: string) => opts.onProgress?.({ ...progress, ...(current ? { current } : {}) });
  const pause = yielder();

  /** Copies one file; the reason when the image cannot give its content (nothing is left then). */
  const copyFile = async (e: FsEntry, rel: string): Promise<string | undefined> => {
    let chunk: Buffer;
    try {
      chunk = await readChunk(view, e.path, 0);
    } catch (err) {
      return (err as Error).message; // a missing or broken inode file: go on with the rest
    }
    const fd = below(e, () => createBeneath(destFd, rel, 0o600));
    let size = 0;
    try {
      for (;;) {
        writeAll(fd, chunk, size);
        size += chunk.length;
        progress.bytes += chunk.length;
        if (chunk.length < CHUNK) break;
        report(e.path);
        if (opts.signal?.aborted) throw new Cancelled();
        chunk = await readChunk(view, e.path, size);
      }
      fchmodSync(fd, e.mode & 0o777);
    } catch (err) {
      closeSync(fd);
      try {
        unlinkBeneath(destFd, rel); // no half-written file is left behind
      } catch {
        /* already gone */
      }
      if (err instanceof ImageReadError) return err.message;
      throw err;
    }
    closeSync(fd);
    out.files++;
    out.bytes += size;
    return undefined;
  };

  const dirModes: [string, number][] = [];
  const links: [FsEntry, string, string][] = [];
  for (const e of entries) {
    if (opts.signal?.aborted) {
      out.cancelled = true;
      break;
    }
    const rel = relOf(e);
    if (e.type === 'dir') {
      if (rel !== '') {
        below(e, () => mkdirBeneath(destFd, rel));
        dirModes.push([rel, e.mode & 0o777]);
      }
      out.dirs++;
    } else if (e.type === 'file') {
      let skipped: string | undefined;
      try {
        skipped = await copyFile(e, rel);
      } catch (err) {
        if (!(err instanceof Cancelled)) throw err;
        out.cancelled = true;
        break;
      }
      if (skipped !== undefined) out.skipped.push({ path: e.path, reason: skipped });
    } else if (e.type === 'symlink') {
      links.push([e, rel, e.target ?? view.readlink(e.path)]);
    } else {
      out.skipped.push({ path: e.path, reason: `${e.type} entries are not extracted` });
    }
    if (e.type !== 'symlink') {
      progress.done++;
      report(e.path);
    }
    await pause();
  }
  for (const [e, rel, to] of links) {
    below(e, () => symlinkBeneath(destFd, rel, to));
    out.symlinks++;
    progress.done++;
    report(e.path);
  }
  // Deepest first, so read-only directories do not block their own children.
  for (const [rel, mode] of dirModes.reverse()) chmodDirBeneath(destFd, rel, mode);
  return out;
}

// ---- diff against a source tree ----

export interface DiffItem {
  path: string;
  change: 'added' | 'removed' | 'changed' | 'mode' | 'type';
  detail?: string;
}

type HostType = 'dir' | 'symlink' | 'file' | 'other';

/** True when the image file and the host file hold the same bytes (compared chunk by chunk). */
async function sameContent(
  view: FsView,
  imagePath: string,
  hostPath: string,
  progress: TreeProgress,
  report: () => void,
): Promise<boolean> {
  const fd = openSync(hostPath, 'r');
  try {
    for (let off = 0; ;) {
      const a = await view.readRange(imagePath, off, CHUNK);
      const b = readUpTo(fd, a.length, off);
      if (!a.equals(b)) return false;
      off += a.length;
      progress.bytes += a.length;
      if (a.length < CHUNK) return readUpTo(fd, 1, off).length === 0;
      report();
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Compares an image with a host source tree (what a rebuild would change). Same-size files are
 * compared in ranged chunks off the main thread; the event loop gets a turn between entries.
 */
export async function diffWithSource(view: FsView, srcDir: string, opts: TreeOptions = {}): Promise<DiffItem[]> {
  const items: DiffItem[] = [];
  const img = new Map((await view.walkAsync()).filter((e) => e.layer !== 'deleted').map((e) => [e.path, e]));
  const pause = yielder();
  // The source tree first (sorted names, pre-order), so progress has a total.
  const host: { hp: string; ip: string; st: Stats; type: HostType }[] = [];
  const visit = async (hostDir: string, imgDir: string) => {
    for (const name of readdirSync(hostDir).sort()) {
      const hp = join(hostDir, name);
      const ip = imgDir === '/' ? `/${name}` : `${imgDir}/${name}`;
      const st = lstatSync(hp);
      const type: HostType = st.isDirectory()
        ? 'dir'
        : st.isSymbolicLink()
          ? 'symlink'
          : st.isFile()
            ? 'file'
            : 'other';
      host.push({ hp, ip, st, type });
      if (type === 'dir') await visit(hp, ip);
    }
    await pause();
  };
  await visit(resolve(srcDir), '/');
  const progress: TreeProgress = { done: 0, total: host.length, bytes: 0 };
  const report = (current?: string) => opts.onProgress?.({ ...progress, ...(current ? { current } : {}) });
  report();
  const seen = new Set<string>();
  for (const { hp, ip, st, type } of host) {
    const e = img.get(ip);
    seen.add(ip);
    if (!e) items.push({ path: ip, change: 'added', detail: type });
    else if (e.type !== type) items.push({ path: ip, change: 'type', detail: `${e.type} in image, ${type} in source` });
    else {
      let unreadable = false;
      if (type === 'file') {
        let same = e.size === st.size;
        if (same) {
          try {
            same = await sameContent(view, ip, hp, progress, () => report(ip));
          } catch (err) {
            items.push({ path: ip, change: 'changed', detail: `unreadable in image: ${(err as Error).message}` });
            unreadable = true;
          }
        }
        if (!same && !unreadable)
          items.push({ path: ip, change: 'changed', detail: `${e.size} bytes in image, ${st.size} in source` });
      } else if (type === 'symlink' && (e.target ?? '') !== readlinkSync(hp)) {
        items.push({
          path: ip,
          change: 'changed',
          detail: `link to ${e.target} in image, ${readlinkSync(hp)} in source`,
        });
      }
      if (!unreadable && type !== 'symlink' && (e.mode & 0o777) !== (st.mode & 0o777) && ip !== '/') {
        items.push({
          path: ip,
          change: 'mode',
          detail: `${(e.mode & 0o777).toString(8)} in image, ${(st.mode & 0o777).toString(8)} in source`,
        });
      }
    }
    progress.done++;
    report(ip);
    await pause();
  }
  for (const p of img.keys()) if (p !== '/' && !seen.has(p)) items.push({ path: p, change: 'removed' });
  return items.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export { parseDashed16, keySpec };
