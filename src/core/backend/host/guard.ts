// The last verified state of a build, kept in memory by the process that verified it (or built
// it in place: the dev loop, the TUI), with the kernel's word on what may have changed since:
// inotify watches on the build's directories (native/src/guard.rs). A later check before a run
// drains the kernel's queue and looks only at what it names, so it costs in proportion to what
// changed. Whatever cannot be vouched for that way sends the caller back to the full check.
// What is trusted, and why, is in docs/backends.md (Verification before every run).
//
// A directory's watch reports what happens to its files by name (a write, chmod, open, create,
// removal, rename), through whatever descriptor, if the file was reached through that directory;
// a watch per inode (the old way) took one watch per file: 119,000 for a Python image, over the
// user's limit on smaller machines, and then every run was checked in full. What a directory
// watch cannot see is covered so that the guard vouches for no more than it sees:
// - a file with a name outside the watched directories (st_nlink above the names found in them;
//   build/.superseded, the build before the last, is watched too, as it shares every reused
//   file's inode): it gets a watch of its own, which sees every path;
// - a descriptor opened before the watches: its events go to the parent of the name it was
//   opened by, looked up at each event, which is watched (a name outside: the case above);
// - writes through a shared mapping: no event with either watch; the open before them is one,
//   and opened files are probed for writers (a lease) until none is left, as before.
// Left: a hard link made after the watches, from a directory outside the build, then written
// through (the link's one event, IN_ATTRIB, goes to the file's own inode only); the full check
// (--full-verify, a build by another process) still sees it. docs/backends.md says so.
import { inotifyBudget } from '../../detect/inotify.ts';
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { InstancePaths } from '../../instance/layout.ts';
import { callBytes, callJson, nativeStatus, NativeUnavailableError } from '../../securefs/native.ts';
import { entryProblem, parseStatLines, sha256File, statKeyOf, type TreeEntry } from './manifest.ts';
import type { ManifestState } from './deltas.ts';

const IN_MODIFY = 0x2;
const IN_ATTRIB = 0x4;
const IN_CLOSE_WRITE = 0x8;
const IN_OPEN = 0x20;
const IN_DELETE_SELF = 0x400;
const IN_MOVE_SELF = 0x800;
const IN_IGNORED = 0x8000;
const IN_ISDIR = 0x40000000;
const GONE = IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED;
/** An open may be a writer's, who can write through a shared mapping without any other event. */
const OPENED = IN_OPEN | IN_CLOSE_WRITE;
const CHANGED = IN_MODIFY | IN_ATTRIB | GONE;

/** The build's files that verification reads (relative to build/), and the dirs that hold them. */
const META_FILES = [
  '.Occlum_sys.json.protected',
  'host/builtin_config',
  'host/manifest.json',
  'host/manifest.delta',
  'host/image_key',
];
const META_DIRS = ['', 'host', 'mount'];
const META_NAMES = new Set([...META_FILES, 'host', 'mount', 'host/rootfs', 'mount/__ROOT']);

/** Where the build before the last one waits, inside build/, until the next build removes it. */
export const SUPERSEDED = '.superseded';

/** More files to look at than this: the full check (with its stat caches) is as cheap. */
const MAX_PENDING = 512;

export interface FastCheck {
  ok: boolean;
  problems: string[];
  sysText: string;
  /** Files re-hashed (their stat changed since the verified state). */
  hashedBytes: number;
  /** The secure image's MAC chain was walked (a file of it changed). */
  secureWalked: boolean;
}

export type SecureVerifier = (expectedMac: string) => Promise<{ ok: boolean; problems: string[] }>;

const inode = (key: string) => key.split(':')[0];

export class BuildGuard {
  private meta = new Map<string, string>();
  private layer = new Map<string, TreeEntry>();
  private secure = new Map<string, string>();
  private manifest: ManifestState | null = null;
  private sysText = '';
  private imageMac: string | null = null;
  private buildIno = '';
  /** Paths (image layer: '/x'; secure image: names; meta: build-relative) named by an event. */
  private touched = { layer: new Set<string>(), secure: new Set<string>(), meta: new Set<string>() };
  /** Files opened since: probed for writers (a lease) until none is left. */
  private opened = { layer: new Set<string>(), secure: new Set<string>(), meta: new Set<string>() };
  private broken = false;

  private constructor(
    private readonly id: string,
    readonly p: InstancePaths,
  ) {}

  /** A guard with no watches yet; throws GuardUnavailable without the native engine or inotify. */
  static open(p: InstancePaths): BuildGuard {
    const engine = nativeStatus();
    if (!engine.ok) throw new GuardUnavailable(unavailable(engine.error));
    let id: number;
    try {
      // Past the studio's share of the user's inotify watches (a program multiplying image/'s
      // directories through /host) arming fails, and runs are checked in full.
      id = callJson<number>('guardOpen', [String(inotifyBudget())]);
    } catch (err) {
      throw new GuardUnavailable(unavailable(err)); // no inotify instance left (fs.inotify.max_user_instances)
    }
    return new BuildGuard(id.toString(), p);
  }

  close(): void {
    try {
      callJson('guardClose', [this.id]);
    } catch {
      /* already gone */
    }
  }

  private watch(tag: string, root: string, rels: string[]): TreeEntry[] {
    return parseStatLines(callBytes('guardPaths', [this.id, tag, root, ...rels]));
  }

  /**
   * Watches the build's directories (and its files with another name) and records every entry's
   * stat. Throws GuardUnavailable when it cannot (the watch limit, fs.inotify.max_user_watches; a
   * remote file system). Call after the full check passed; `verified` holds the
   * stats that check relied on (taken before its reads): an entry whose stat differs now changed
   * in between and is looked at by the next check.
   */
  establish(verified: {
    meta: Map<string, string>;
    layer: Map<string, string>;
    secure: Map<string, string> | null;
    manifest: ManifestState;
    sysText: string;
    imageMac: string | null;
  }): void {
    try {
      this.arm(verified);
    } catch (err) {
      throw new GuardUnavailable(unavailable(err));
    }
  }

  private arm(verified: Parameters<BuildGuard['establish']>[0]): void {
    const p = this.p;
    const remote = callJson<string>('guardFs', [p.build]);
    if (remote) {
      throw new GuardUnavailable({
        reason: `build/ is on a ${remote} file system, whose changes made elsewhere inotify never reports`,
        fix: 'keep the instance on a local file system for the cheap check',
      });
    }
    this.watch('i', p.dir, ['']);
    for (const e of this.watch('m', p.build, [...META_DIRS, ...META_FILES])) {
      if (e.rel === '') this.buildIno = e.key;
      this.meta.set(e.rel, e.type === 'missing' ? '-' : e.key);
      if (e.type !== 'dir' && this.meta.get(e.rel) !== (verified.meta.get(e.rel) ?? '-')) this.touched.meta.add(e.rel);
    }
    for (const rel of ['host/rootfs', 'mount/__ROOT']) {
      const st = lstatSync(join(p.build, rel), { bigint: true, throwIfNoEntry: false });
      this.meta.set(rel, st ? statKeyOf(st) : '-');
    }
    for (const e of parseStatLines(callBytes('guardTree', [this.id, 'r', p.hostRootfs]))) {
      const path = '/' + e.rel;
      this.layer.set(path, e);
      if (verified.layer.get(path) !== e.key) this.touched.layer.add(path); // changed or added since
    }
    for (const path of verified.layer.keys()) if (!this.layer.has(path)) this.touched.layer.add(path);
    if (verified.secure && existsSync(p.buildRoot)) {
      for (const e of parseStatLines(callBytes('guardTree', [this.id, 's', p.buildRoot]))) {
        this.secure.set(e.rel, e.key);
        if (verified.secure.get(e.rel) !== e.key) this.touched.secure.add(e.rel);
      }
      for (const name of verified.secure.keys()) if (!this.secure.has(name)) this.touched.secure.add(name);
    }
    // The build before the last one (build.ts) shares the inodes of every file this one reused:
    // its directories are watched too, so those files need no watch of their own.
    if (existsSync(join(p.build, SUPERSEDED))) callBytes('guardTree', [this.id, 'o', join(p.build, SUPERSEDED)]);
    const linked = callBytes('guardLinks', [this.id]).toString('utf8').split('\0');
    for (let i = 0; i + 2 <= linked.length; i += 2) {
      if (linked[i] === 'r') this.touched.layer.add('/' + linked[i + 1]);
      else if (linked[i] === 's') this.touched.secure.add(linked[i + 1]!);
    }
    this.manifest = verified.manifest;
    this.sysText = verified.sysText;
    this.imageMac = verified.imageMac;
    this.drain(); // now, not in the first check: the walk's own directory opens are in the queue
  }

  /**
   * Before an in-place build by this process: null when this state no longer vouches for the
   * build; else the image MAC and, when its files are untouched, the manifest (the build then
   * need not read them).
   */
  beforeBuild(): { manifest: ManifestState | null; imageMac: string | null; secureUntouched: boolean } | null {
    this.drain();
    if (this.broken) return null;
    // Opened since (by the last build's append, or a probe's own open): still a writer?
    this.probe(this.opened.meta, this.touched.meta, (x) => join(this.p.build, x));
    const untouched = this.touched.meta.size === 0 && this.opened.meta.size === 0;
    // No file of the secure image written since the verified state (an event named it, but its
    // stat key, ctime included, is the verified one) and no writer left: the engine's warm pack
    // may then skip its own stat of every inode file.
    this.probe(this.opened.secure, this.touched.secure, (x) => join(this.p.buildRoot, x));
    const secureUntouched =
      this.opened.secure.size === 0 &&
      [...this.touched.secure].every((name) => {
        const s = lstatSync(join(this.p.buildRoot, name), { bigint: true, throwIfNoEntry: false });
        return (s ? statKeyOf(s) : undefined) === this.secure.get(name);
      });
    return { manifest: untouched ? this.manifest : null, imageMac: this.imageMac, secureUntouched };
  }

  /**
   * After an in-place build by this process: its own writes are the new verified state (the
   * build hashed and MAC'ed what it wrote, under the build lock, as the stat caches it writes
   * trust them): the image-layer paths it created, replaced or removed, the config files, and
   * the secure image's files the engine says it wrote or removed (`hostFiles`) plus its own
   * metadata files. Events on anything else meanwhile stay for the next check; opens are never
   * absorbed. Returns the secure image's changed files with their stat keys (null: removed),
   * or null when the engine did not say which (the state is then dropped by the caller).
   */
  afterBuild(build: {
    layerPaths: string[];
    manifest: ManifestState;
    sysText: string;
    imageMac: string;
    hostFiles?: { written: string[]; removed: string[] };
  }): [string, string | null][] | null {
    const p = this.p;
    if (!build.hostFiles) return null;
    this.drain();
    for (const path of build.layerPaths) {
      this.touched.layer.delete(path);
      if (!build.manifest.entries.has(path)) this.layer.delete(path);
    }
    const existing = build.layerPaths.filter((x) => build.manifest.entries.has(x)).map((x) => x.slice(1));
    for (const e of this.watch('r', p.hostRootfs, existing)) this.layer.set('/' + e.rel, e);
    for (const e of this.watch(
      'm',
      p.build,
      [...this.touched.meta].filter((x) => META_FILES.includes(x)),
    )) {
      this.meta.set(e.rel, e.type === 'missing' ? '-' : e.key);
    }
    this.touched.meta.clear();
    const changes: [string, string | null][] = [];
    for (const name of build.hostFiles.removed) {
      this.secure.delete(name);
      this.touched.secure.delete(name);
      changes.push([name, null]);
    }
    // Inode files are never rewritten in place; the engine's own files (metadata, state) are.
    const own = [...this.touched.secure].filter((n) => !/^[0-9a-f]{32}$/.test(n));
    for (const e of this.watch('s', p.buildRoot, [...build.hostFiles.written, ...own])) {
      const key = e.type === 'missing' ? null : e.key;
      if (key === null) this.secure.delete(e.rel);
      else this.secure.set(e.rel, key);
      this.touched.secure.delete(e.rel);
      changes.push([e.rel, key]);
    }
    this.manifest = build.manifest;
    this.sysText = build.sysText;
    this.imageMac = build.imageMac;
    return changes;
  }

  /** Files the verification reads, stat'ed before it reads them (see establish). */
  static metaKeys(p: InstancePaths): Map<string, string> {
    const keys = new Map<string, string>();
    for (const rel of META_FILES) {
      const st = lstatSync(join(p.build, rel), { bigint: true, throwIfNoEntry: false });
      keys.set(rel, st ? statKeyOf(st) : '-');
    }
    return keys;
  }

  /** Reads the kernel's queue into the touched and opened sets. */
  private drain(): void {
    const f = callBytes('guardDrain', [this.id]).toString('utf8').split('\0');
    for (let i = 0; i + 4 <= f.length; i += 4) {
      const [tag, rel, name] = [f[i]!, f[i + 1]!, f[i + 2]!];
      const mask = Number(f[i + 3]);
      if (tag === '!')
        this.broken = true; // the queue overflowed: events were lost
      else if (tag === 'i') {
        // The instance dir itself or its entry "build" moved, replaced or removed.
        if (name === 'build' || (rel === '' && !name && mask & GONE)) this.broken = true;
      } else if (tag === 'm') this.metaEvent(rel, name, mask);
      else if (tag === 'r')
        this.treeEvent('layer', rel ? '/' + rel : '', name ? `${rel ? '/' + rel : ''}/${name}` : '', mask);
      else if (tag === 's') this.treeEvent('secure', rel, name ? (rel ? `${rel}/${name}` : name) : '', mask);
      else if (tag === 'o') this.broken = true; // nothing touches the build before the last one
    }
  }

  private metaEvent(rel: string, name: string, mask: number): void {
    const path = name ? (rel ? `${rel}/${name}` : name) : rel;
    if (name) {
      if (META_NAMES.has(path)) this.touched.meta.add(path);
    } else if (META_DIRS.includes(rel)) {
      if (mask & GONE) this.broken = true;
    } else {
      if (mask & OPENED) this.opened.meta.add(path);
      if (mask & CHANGED) this.touched.meta.add(path);
    }
  }

  /** An event of the image layer or the secure image: on `rel` itself, or on its entry `child`. */
  private treeEvent(tree: 'layer' | 'secure', rel: string, child: string, mask: number): void {
    if (child) {
      // A file's own events come through its directory's watch too: an open is probed for a
      // writer; anything else (a write, chmod, create, removal, rename) is looked at.
      if (mask & OPENED && !(mask & IN_ISDIR)) this.opened[tree].add(child);
      if (mask & ~(OPENED | IN_ISDIR)) this.touched[tree].add(child);
    } else if (rel === '') {
      if (mask & GONE) this.broken = true; // the root of the tree itself
    } else {
      if (mask & OPENED) this.opened[tree].add(rel);
      if (mask & CHANGED) this.touched[tree].add(rel);
    }
  }

  /** Probes opened files for writers; those without one leave the set (a later writer makes a new event). */
  private probe(opened: Set<string>, touched: Set<string>, hostOf: (x: string) => string): void {
    if (opened.size === 0) return;
    const names = [...opened];
    const hosts = names.map(hostOf);
    const marks = callJson<string>('guardLease', [this.id, ...hosts]);
    const release: string[] = [];
    names.forEach((n, i) => {
      const m = marks[i];
      // A writer now (or cannot tell): its content is checked now, and again next time. A name
      // gone since ('x': the engine's own temporary files, made and removed by a build) is
      // no longer opened; its removal is a change the caller compares with the verified state.
      if (m === 'y' || m === '?') touched.add(n);
      else opened.delete(n);
      if (m === 'x') touched.add(n);
      if (m === 'N') release.push(hosts[i]!);
    });
    // No writer, probed through a descriptor held since before the last drain: done with it.
    if (release.length) callJson('guardRelease', [this.id, ...release]);
  }

  /**
   * The check before a run: null when this state cannot vouch for the build (then the full check
   * decides and a new state is made), else the outcome of checking only what changed.
   */
  async check(verifySecure: SecureVerifier): Promise<FastCheck | null> {
    const p = this.p;
    this.drain();
    if (this.broken) return null;
    const st = lstatSync(p.build, { bigint: true, throwIfNoEntry: false });
    if (!st || inode(statKeyOf(st)) !== inode(this.buildIno)) return null; // a path above moved
    const total = () =>
      this.touched.layer.size + this.opened.layer.size + this.touched.secure.size + this.opened.secure.size;
    if (total() > MAX_PENDING) return null;
    this.probe(this.opened.meta, this.touched.meta, (x) => join(p.build, x));
    if (this.opened.meta.size) return null; // a writer holds a config or manifest file: read them all
    for (const rel of this.touched.meta) {
      const s = lstatSync(join(p.build, rel), { bigint: true, throwIfNoEntry: false });
      const want = this.meta.get(rel) ?? '-';
      const key = s ? statKeyOf(s) : '-';
      // A directory may get new entries (caches, the in-place build's work dir); a file must be untouched.
      if (s?.isDirectory() ? inode(want) !== inode(key) : want !== key) return null;
      this.touched.meta.delete(rel);
    }
    const problems: string[] = [];
    const hashed = this.checkLayer(problems);
    if (hashed === null) return null;
    const secure = await this.checkSecure(verifySecure, problems);
    if (secure === null) return null;
    return { ok: problems.length === 0, problems, sysText: this.sysText, hashedBytes: hashed, secureWalked: secure };
  }

  /** The image layer's touched paths against the manifest; null: a directory was replaced. */
  private checkLayer(problems: string[]): number | null {
    const p = this.p;
    const host = (path: string) => join(p.hostRootfs, path);
    this.probe(this.opened.layer, this.touched.layer, host);
    let hashed = 0;
    for (const path of [...this.touched.layer].sort()) {
      const want = this.manifest!.entries.get(path);
      let got = this.stat(path);
      if (!got) {
        if (want) problems.push(`${path}: missing`);
        else this.touched.layer.delete(path);
        continue;
      }
      if (!want) {
        problems.push(`${path}: added after the build`);
        continue;
      }
      const rec = this.layer.get(path);
      if (got.type === 'dir') {
        // A directory with a new inode has unwatched entries below it.
        if (!rec || inode(rec.key) !== inode(got.key)) return null;
      } else if (!rec || inode(rec.key) !== inode(got.key)) {
        got = this.watch('r', p.hostRootfs, [path.slice(1)])[0]!; // a new inode: watch it, then read it
        got.rel = path.slice(1);
      }
      const problem = entryProblem(path, got, want);
      if (problem) {
        problems.push(problem);
        continue;
      }
      if (got.type === 'file' && (rec?.key !== got.key || this.opened.layer.has(path))) {
        hashed += got.size;
        if (sha256File(host(path)) !== want.sha256) {
          problems.push(`${path}: content differs from the build`);
          continue;
        }
      }
      this.layer.set(path, got);
      if (!this.opened.layer.has(path)) this.touched.layer.delete(path);
    }
    if (problems.length)
      problems.splice(
        0,
        problems.length,
        `the image layer does not match the build (tampered or modified in build/host/rootfs): ${problems
          .slice(0, 20)
          .join('; ')}; run build again`,
      );
    return hashed;
  }

  /** The secure image: untouched files are as verified; any other change walks the MAC chain. */
  private async checkSecure(verifySecure: SecureVerifier, problems: string[]): Promise<boolean | null> {
    const p = this.p;
    if (!this.imageMac) return false;
    this.probe(this.opened.secure, this.touched.secure, (x) => join(p.buildRoot, x));
    const changed: string[] = [];
    for (const name of this.touched.secure) {
      const s = lstatSync(join(p.buildRoot, name), { bigint: true, throwIfNoEntry: false });
      if ((s ? statKeyOf(s) : undefined) !== this.secure.get(name) || this.opened.secure.has(name)) changed.push(name);
      else this.touched.secure.delete(name);
    }
    if (!changed.length) return false;
    const r = await verifySecure(this.imageMac);
    if (!r.ok) {
      problems.push(...r.problems);
      return true;
    }
    // The chain holds with these files: they are the verified state now (watched anew).
    for (const e of this.watch('s', p.buildRoot, changed)) {
      if (e.type === 'missing') this.secure.delete(e.rel);
      else this.secure.set(e.rel, e.key);
      if (!this.opened.secure.has(e.rel)) this.touched.secure.delete(e.rel);
    }
    return true;
  }

  private stat(path: string): TreeEntry | null {
    const host = join(this.p.hostRootfs, path);
    const s = lstatSync(host, { bigint: true, throwIfNoEntry: false });
    if (!s) return null;
    const type = s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : 'other';
    return {
      rel: path.slice(1),
      type,
      mode: Number(s.mode & 0o7777n),
      size: Number(s.size),
      key: statKeyOf(s),
      ...(type === 'symlink' ? { target: readlinkSync(host) } : {}),
    };
  }
}

/** Why runs are checked in full: the guard could not be armed (what, and how to fix it). */
export interface GuardNotice {
  reason: string;
  fix: string;
}

/** The one line that says so (the run log, `watch`, the Build pane). */
export function fullCheckLine(n: GuardNotice): string {
  return `runs are checked in full (no build guard): ${n.reason}`;
}

export class GuardUnavailable extends Error {
  constructor(readonly notice: GuardNotice) {
    super(notice.reason);
  }
}

function procNumber(file: string): number | null {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

/** The limit that applies here: the user's, or a lower one of this user namespace (Linux ≥ 5.11). */
function inotifyLimit(kind: 'watches' | 'instances'): string {
  const user = procNumber(`/proc/sys/fs/inotify/max_user_${kind}`);
  const ns = procNumber(`/proc/sys/user/max_inotify_${kind}`);
  if (ns !== null && user !== null && ns < user)
    return `/proc/sys/user/max_inotify_${kind} = ${ns} in this user namespace`;
  return `fs.inotify.max_user_${kind} = ${user ?? 'unknown'}`;
}

/** What an arming error means for the user. */
function unavailable(err: unknown): GuardNotice {
  if (err instanceof GuardUnavailable) return err.notice;
  const msg = err instanceof Error ? err.message : String(err);
  const errno = /os error (\d+)/.exec(msg)?.[1];
  if (errno === '28') {
    const user = procNumber('/proc/sys/fs/inotify/max_user_watches') ?? 65536;
    return {
      reason: `inotify watch limit reached (${inotifyLimit('watches')})`,
      fix: `sudo sysctl fs.inotify.max_user_watches=${Math.max(524288, user * 2)} (keep it in /etc/sysctl.d/)`,
    };
  }
  const share = /more than (\d+) inotify watches, the guard's share/.exec(msg);
  if (share) {
    const user = procNumber('/proc/sys/fs/inotify/max_user_watches') ?? 65536;
    return {
      reason: `the build needs more than ${share[1]} inotify watches, the guard's third of the user's (${inotifyLimit('watches')})`,
      fix: `sudo sysctl fs.inotify.max_user_watches=${Math.max(524288, user * 2)} (keep it in /etc/sysctl.d/)`,
    };
  }
  if (errno === '24' || errno === '23') {
    return {
      reason: `no inotify instance left (${inotifyLimit('instances')}, or the open-file limit)`,
      fix: 'sudo sysctl fs.inotify.max_user_instances=1024, or close other watching programs',
    };
  }
  if (errno === '38' || errno === '95') {
    return { reason: 'inotify is not available on this kernel or file system', fix: 'none: runs are checked in full' };
  }
  if (err instanceof NativeUnavailableError) {
    return {
      reason: `the native addon is not available: ${err.reason}`,
      fix: 'run `npm rebuild occlum-studio` (in a checkout: `npm run build:native`)',
    };
  }
  return { reason: `the build could not be watched: ${msg}`, fix: 'build again; the next run tries again' };
}
