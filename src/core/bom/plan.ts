// What a bom copy will do, computed before anything is written (copy_bom's BomManagement):
// every bom in include order contributes mkdirs, links, directory copies, file copies and the
// libraries its files need; duplicates are resolved by copy_bom's rules (remove_redundant_*);
// then every source is checked (exists, hash) so that a bad entry stops the copy before a write.
import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  statSync,
  type Stats,
} from 'node:fs';
import { posix } from 'node:path';
import { findDeps, inferDefaultLoader, loadersOf, namesLibraries, NO_LOADER, type Placed } from './autodep.ts';
import { expandEnv, type Env } from './env.ts';
import { compileExcludes } from './exclude.ts';
import { openRegularFile, typeName } from '../instance/safe-read.ts';
import { findInclude, includeCandidates, loadBoms } from './includes.ts';
import { sniffElfNative } from './native-copy.ts';
import type { LoaderConfig } from './loader-config.ts';
import { destInRoot, real, rustFileName, rustJoin, rustParent } from './paths.ts';
import { mapLimit } from './pool.ts';
import { fillFileStats, unsafeLink, walkCopy, type FileStat } from './tree.ts';
import type { BomIssue, Loc, Str } from './types.ts';

export type EntryWhy = 'mkdir' | 'createlink' | 'files' | 'dirs' | 'library';

export interface PlanEntry {
  kind: 'dir' | 'file' | 'link';
  /** Absolute path inside the image, e.g. /bin/hello. */
  inner: string;
  /** Where the content and attributes come from (none for a plain mkdir or a createlink). */
  src?: string;
  /** A symlink's text. */
  target?: string;
  why: EntryWhy;
  /** The bom entry that asks for it (for a library: the entry of the file that needs it). */
  loc?: Loc;
  /** For a library: the files that need it (host paths). */
  neededBy?: string[];
  stat?: FileStat;
  /** Its source is the top of a "dir/" copy, taken through a link (else a walked entry is lstat'ed). */
  top?: boolean;
  /** A change of its source needs a new plan: a program whose libraries were looked for, a hashed file. */
  pinned?: boolean;
}

export interface LibraryReport {
  /** The analysed file (host path) and where it is copied from in the bom. */
  file: string;
  loc?: Loc;
  interp: string | null;
  libs: Placed[];
  missing: string[];
  from: 'files' | 'dirs';
  note?: string;
}

export interface BomPlan {
  root: string;
  /** Every bom read, in copy_bom's order. */
  boms: string[];
  /** In execution order; a later entry for the same path replaces an earlier one. */
  entries: PlanEntry[];
  libraries: LibraryReport[];
  issues: BomIssue[];
  /** Host paths the plan reads (files, dirs, boms, libraries): what a watcher should watch. */
  sources: string[];
  loaderConfig: string | null;
  /**
   * Paths the include lookup tried before the bom it found (a file appearing there changes the
   * plan), for the copy's saved state (state.ts).
   */
  includeProbes: string[];
  /** Why this plan cannot be checked from a saved state next time, when so. */
  noState?: string;
  /**
   * The warnings among `issues` that a saved state may carry (and a copy from it repeats): each
   * follows only from entries whose change plans anew (programs, libraries and the ELF files of
   * copied dirs). Any other issue keeps the plan from being saved.
   */
  stateWarnings?: BomIssue[];
}

export interface PlanOptions {
  file: string;
  root: string;
  includeDirs: string[];
  cwd: string;
  env: Env;
  loaderConfig: LoaderConfig | null;
  /** Records the time since the previous mark under a stage name (diagnostics). */
  mark?: (stage: string) => void;
}

interface DirCopy {
  src: string;
  /** Destination dir inside the image. */
  dest: string;
  loc: Loc;
  excludes: string[];
  /**
   * A directory named under `files`: copy_bom's `rsync -aL` copies it into dest (so T/d/d; "d/" its
   * contents into T/d), every link followed, without excludes, and its programs get no autodep.
   */
  asFile?: boolean;
}

interface FileCopy {
  src: string;
  dest: string;
  inner: string;
  loc: Loc;
  hash?: Str;
  autodep: boolean;
}

interface Management {
  mkdirs: { inner: string; loc?: Loc }[];
  links: { src: string; inner: string; loc: Loc }[];
  dirs: DirCopy[];
  files: FileCopy[];
  libs: { src: string; inner: string; loc?: Loc; neededBy: string }[];
}

/** Longer than PATH_MAX or with a name over NAME_MAX: no file system call would take it. */
function tooLong(path: string): boolean {
  return Buffer.byteLength(path) > 4095 || path.split('/').some((c) => Buffer.byteLength(c) > 255);
}

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

export function sha256File(path: string): string {
  const h = createHash('sha256');
  // Checked as a regular file just before; swapped for a FIFO since, it must not block.
  const { fd } = openRegularFile(path, { what: 'the file to hash', followLinks: true });
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex').toUpperCase();
}

/** For a source that stat cannot follow: what is wrong when it is a link (to nothing, or a loop). */
function brokenLink(host: string, e: unknown): string | null {
  if (!lstatSync(host, { throwIfNoEntry: false })?.isSymbolicLink()) return null;
  const target = readlinkSync(host);
  return (e as NodeJS.ErrnoException).code === 'ELOOP'
    ? `${host} is a symlink loop (-> ${target}: too many levels of symbolic links)`
    : `${host} is a symlink to ${target}, which does not exist`;
}

/** The prefixes of `path` that a ".." follows (create_dir_all makes them too): "r/a/../b" → ["r/a"]. */
function leftByDotDot(path: string): string[] {
  const parts = path.split('/');
  const out: string[] = [];
  parts.forEach((c, i) => {
    if (parts[i + 1] === '..' && c !== '..' && c !== '.' && c !== '') out.push(parts.slice(0, i + 1).join('/'));
  });
  return out;
}

/** Inner path of a host path under the root, as copy_bom's dest_in_root inverse. */
function innerOf(rootAbs: string, hostPath: string): string {
  const rel = posix.relative(rootAbs, hostPath);
  return rel === '' ? '/' : `/${rel}`;
}

export async function planBom(opts: PlanOptions): Promise<BomPlan> {
  const { cwd, env } = opts;
  const mark = opts.mark ?? (() => {});
  const rootAbs = real(cwd, opts.root);
  const loaded = loadBoms(opts.file, opts.includeDirs, cwd);
  const issues: BomIssue[] = [...loaded.issues];
  const plan: BomPlan = {
    root: rootAbs,
    boms: loaded.docs.map((d) => d.path),
    entries: [],
    libraries: [],
    issues,
    sources: loaded.docs.map((d) => d.path),
    loaderConfig: opts.loaderConfig?.source ?? null,
    includeProbes: loaded.docs.flatMap((d) =>
      d.includes.flatMap((inc) => {
        const all = includeCandidates(inc.value, d.path, opts.includeDirs, cwd);
        const found = findInclude(inc.value, d.path, opts.includeDirs, cwd);
        return all.slice(0, found === null ? all.length : all.indexOf(found));
      }),
    ),
  };
  if (loaded.docs.length === 0) return plan;
  const err = (message: string, loc?: Loc) => issues.push({ severity: 'error', message, loc });
  const warn = (message: string, loc?: Loc) => issues.push({ severity: 'warning', message, loc });
  // A warning the saved state carries (BomPlan.stateWarnings).
  const warnKept = (message: string, loc?: Loc) => {
    const w: BomIssue = { severity: 'warning', message, loc };
    issues.push(w);
    (plan.stateWarnings ??= []).push(w);
  };
  const expand = (s: Str): string | null => {
    const r = expandEnv(s.value, env);
    if (r.ok) return r.value;
    err(
      `"${s.value}" uses ${r.missing.map((m) => `$${m}`).join(', ')}, ` +
        `which ${r.missing.length > 1 ? 'are' : 'is'} not set; export ${r.missing[0]}=… before the copy`,
      s.loc,
    );
    return null;
  };
  // copy_bom's workspace: relative sources are taken from the parent of the root dir.
  const workspace = rustParent(opts.root) ?? '.';
  const hostOf = (p: string) => real(cwd, p);
  const innerFromRootJoin = (p: string) => innerOf(rootAbs, hostOf(p));

  const managements: Management[] = [];
  // Where each destination the bom writes comes from, to name it when it leaves the root.
  const dests: { inner: string; loc: Loc; what: string; value: string }[] = [];
  for (const doc of loaded.docs) {
    const m: Management = { mkdirs: [{ inner: '/' }], links: [], dirs: [], files: [], libs: [] };
    const excludes = doc.excludes.map((e) => e.value);
    for (const e of doc.excludes) {
      try {
        compileExcludes([e.value]);
      } catch (why) {
        err((why as Error).message, e.loc);
      }
    }
    for (const t of doc.targets) {
      const target = expand(t.target);
      if (target === null) continue;
      const targetPath = destInRoot(opts.root, target);
      // create_dir_all makes every directory the path names, also one a ".." then leaves ("a/../b": a, b).
      const mkdirAll = (path: string, loc: Loc, what: string, value: string) => {
        for (const dir of [...leftByDotDot(path), path]) {
          const inner = innerFromRootJoin(dir);
          m.mkdirs.push({ inner, loc });
          dests.push({ inner, loc, what, value });
        }
      };
      mkdirAll(targetPath, t.target.loc, 'target', target);
      for (const d of t.mkdirs) {
        const v = expand(d);
        if (v !== null) mkdirAll(rustJoin(targetPath, v), d.loc, 'mkdirs', v);
      }
      for (const l of t.createlinks) {
        const src = expand(l.src);
        const name = expand(l.linkname);
        if (src === null || name === null) continue;
        // ln -s fails on "l/" (no such directory) and on "." (the target exists).
        if (name.endsWith('/') || rustFileName(name) === null) {
          err(
            `linkname "${name}" names no link: copy_bom's ln -s fails on a name ending in "/", "." or ".."; ` +
              'write the name of the link',
            l.linkname.loc,
          );
          continue;
        }
        const inner = innerFromRootJoin(rustJoin(targetPath, name));
        m.links.push({ src, inner, loc: l.linkname.loc });
        dests.push({ inner, loc: l.linkname.loc, what: 'linkname', value: name });
      }
      for (const s of t.copy) {
        const from = s.from ? expand(s.from) : undefined;
        if (from === null) continue;
        const srcDir = from === undefined ? workspace : rustJoin(workspace, from);
        for (const d of s.dirs ?? []) {
          const v = expand(d);
          if (v !== null) m.dirs.push({ src: rustJoin(srcDir, v), dest: targetPath, loc: d.loc, excludes });
        }
        for (const f of s.files ?? []) {
          const name = expand(f.name);
          const rename = f.rename ? expand(f.rename) : undefined;
          if (name === null || rename === null) continue;
          const src = rustJoin(srcDir, name);
          const base = rustFileName(src);
          if (base === null) {
            // copy_bom's file_name().unwrap() panics on it.
            err(
              `"${f.name.value}" names no file: the copy takes its name from the last component, ` +
                'and ".." (or "/") has none (copy_bom panics on it); name the file itself, or list a directory under "dirs"',
              f.name.loc,
            );
            continue;
          }
          const dest = rustJoin(targetPath, rename ?? base);
          m.files.push({ src, dest, inner: innerFromRootJoin(dest), loc: f.loc, hash: f.hash, autodep: f.autodep });
          dests.push(
            rename === undefined
              ? { inner: innerFromRootJoin(dest), loc: f.loc, what: 'file', value: name }
              : { inner: innerFromRootJoin(dest), loc: f.rename!.loc, what: 'rename', value: rename },
          );
        }
        // Neither dirs nor files: the whole `from` dir; copy_bom passes `from` as written, so a
        // relative one is taken from the current directory here, not from the workspace.
        if (s.dirs === undefined && s.files === undefined && from !== undefined) {
          m.dirs.push({ src: from.endsWith('/') ? from : `${from}/`, dest: targetPath, loc: s.loc, excludes });
        }
      }
    }
    managements.push(m);
  }
  // ln -s where a target or mkdirs makes a directory fails in copy_bom ("File exists"); the plan
  // would replace the directory (and what is copied into it) by the link.
  const madeDirs = new Set(managements.flatMap((m) => m.mkdirs.map((d) => d.inner)));
  for (const m of managements)
    for (const l of m.links)
      if (madeDirs.has(l.inner))
        err(
          `a link at ${l.inner}, where a target or mkdirs makes a directory: copy_bom's ln -s fails there ` +
            '("File exists"); rename the link or drop the directory',
          l.loc,
        );
  // copy_bom would write wherever a ".." or an absolute name leads; an image is the root's content only.
  const outside = (inner: string) => inner === '/..' || inner.startsWith('/../');
  for (const d of dests) {
    const host = posix.join(rootAbs, d.inner);
    // A file without rename lands in its target: the target's error says it.
    if (outside(d.inner) && d.what !== 'file')
      err(
        d.what !== 'target' && d.value.startsWith('/')
          ? `${d.what} "${d.value}" is an absolute path, which copy_bom's path join puts in place of the ` +
              `target: it would write ${host} on the host, outside the root ${rootAbs}; ` +
              `write it relative to the target ("${d.value.replace(/^\/+/, '')}")`
          : `${d.what} "${d.value}" writes to ${host}, outside the root ${rootAbs}: ` +
              'its ".." climbs out of the image; remove it',
        d.loc,
      );
    else if (tooLong(rootAbs + d.inner))
      // Else the copy fails half-way, after creating the directories above it.
      err(
        `${d.what} "${d.value.slice(0, 60)}${d.value.length > 60 ? '…' : ''}" writes to a path of ` +
          `${Buffer.byteLength(rootAbs + d.inner)} bytes (${d.inner.slice(0, 60)}…): ` +
          'Linux allows 4095 bytes a path, 255 a name; shorten it',
        d.loc,
      );
  }
  if (issues.some((i) => i.severity === 'error')) return plan;

  mark('boms');
  // Sources: each must exist (and match its hash) before anything is written.
  for (const m of managements) {
    for (const f of [...m.files]) {
      const host = hostOf(f.src);
      plan.sources.push(host);
      let st: Stats;
      try {
        st = statSync(host);
      } catch (e) {
        err(
          brokenLink(host, e) ??
            `${f.src}: no such file (taken from ${host}; ` +
              `relative paths start at the parent of the root dir, ${hostOf(workspace)})`,
          f.loc,
        );
        continue;
      }
      if (st.isDirectory()) {
        // "d/" is rsync's "contents of d" (into T/d): what such an entry means, so no warning.
        if (!f.src.endsWith('/'))
          warn(
            `${f.src} is a directory under "files": copied as copy_bom does (rsync -aL: into ` +
              `${f.inner}/${rustFileName(f.src)}, every link followed, no autodep); to copy it to its own name ` +
              'list it under "dirs"',
            f.loc,
          );
        m.files = m.files.filter((x) => x !== f);
        m.mkdirs.push({ inner: f.inner, loc: f.loc });
        m.dirs.push({ src: f.src, dest: f.dest, loc: f.loc, excludes: [], asFile: true });
        continue;
      }
      // A FIFO would block the copy (and the hash), /dev/zero would fill the disk.
      if (!st.isFile()) {
        err(`${f.src} is ${typeName(st)} (${host}): "files" copies regular files; remove the entry`, f.loc);
        continue;
      }
      if (f.hash) {
        const actual = sha256File(host);
        const ok = actual === f.hash.value.toUpperCase();
        if (!ok)
          err(
            `hash mismatch for ${f.src}: the bom says ${f.hash.value}, ` +
              `the file's SHA-256 is ${actual}; fix the hash or the file`,
            f.hash.loc,
          );
      }
    }
    for (const d of m.dirs) {
      const host = hostOf(d.src);
      plan.sources.push(host);
      let st: Stats;
      try {
        st = statSync(host);
      } catch (e) {
        const broken = brokenLink(host, e);
        // rsync -a copies a top-level link as a link when it stays inside the copy (the walk keeps it).
        if (broken && !d.src.endsWith('/') && !unsafeLink(readlinkSync(host), posix.basename(host))) continue;
        err(
          broken
            ? `${broken}; copy_bom's rsync (--copy-unsafe-links) follows it and fails`
            : `${d.src}: no such directory (taken from ${host})`,
          d.loc,
        );
        continue;
      }
      if (!st.isDirectory() && d.src.endsWith('/')) err(`${d.src} is not a directory`, d.loc);
    }
  }
  if (issues.some((i) => i.severity === 'error')) return plan;

  mark('sources');
  // Libraries of the files entries (copy_bom: BomManagement::autodep, per bom).
  const missingForFiles = new Map<string, LibraryReport[]>();
  for (const m of managements) {
    const wanted = m.files.filter((f) => f.autodep);
    const hosts = wanted.map((f) => hostOf(f.src));
    const defaultLoader = inferDefaultLoader(hosts);
    const deps = await mapLimit(hosts, 4, (h) => findDeps(h, defaultLoader, opts.loaderConfig));
    deps.forEach((d, i) => {
      const f = wanted[i]!;
      const report: LibraryReport = {
        file: hosts[i]!,
        loc: f.loc,
        interp: d.interp,
        libs: d.objects,
        missing: d.missing,
        from: 'files',
        note: d.skipped,
      };
      if (d.interp || d.missing.length) plan.libraries.push(report);
      for (const name of d.missing) missingForFiles.set(name, [...(missingForFiles.get(name) ?? []), report]);
      if (d.stderr && d.missing.length === 0) warn(`the loader printed for ${f.src}: ${d.stderr}`, f.loc);
      if (d.interp && d.skipped) warn(`${f.src}: ${d.skipped}`, f.loc);
      for (const o of d.objects) {
        const inner = posix.normalize(o.inner);
        m.mkdirs.push({ inner: posix.dirname(inner), loc: f.loc });
        m.libs.push({ src: o.src, inner, loc: f.loc, neededBy: hosts[i]! });
      }
    });
  }

  removeRedundant(managements);
  mark('autodep files');

  // Expand directory copies into files, dirs and links.
  interface Expanded {
    entries: PlanEntry[];
    files: { host: string; loc: Loc; srcRoot: string; stat?: FileStat; entry: PlanEntry }[];
  }
  const expanded: Expanded[] = [];
  for (const m of managements) {
    const ex: Expanded = { entries: [], files: [] };
    for (const d of m.dirs) {
      const host = hostOf(d.src) + (d.src.endsWith('/') ? '/' : '');
      const tree = walkCopy(host, compileExcludes(d.excludes), d.asFile);
      mark('walk');
      await fillFileStats(tree, scanElfInWalk());
      mark('stat');
      for (const w of tree.warnings) warn(w, d.loc);
      if (tree.followed) plan.noState ??= `${d.src} has a link leading out of it (followed)`;
      const destInner = innerFromRootJoin(d.dest);
      for (const it of tree.items) {
        // rel is already normal ('/'-joined names): no posix.join per file.
        const inner = it.rel === '' ? destInner : destInner === '/' ? `/${it.rel}` : `${destInner}/${it.rel}`;
        ex.entries.push({
          kind: it.kind,
          inner,
          src: it.src,
          target: it.target,
          why: 'dirs',
          loc: d.loc,
          stat: it.stat,
          ...(it.rel === '' ? { top: true } : {}),
        });
        if (it.kind === 'file' && !d.asFile)
          ex.files.push({ host: it.src, loc: d.loc, srcRoot: hostOf(d.src), stat: it.stat, entry: ex.entries.at(-1)! });
      }
    }
    expanded.push(ex);
  }
  mark('entries');

  // Libraries of files in copied dirs (copy_bom: autodep_for_copydirs): a missing one is a warning.
  const fileLibPairs = new Set(managements.flatMap((m) => m.libs.map((l) => `${l.src}\0${l.inner}`)));
  const dirLibs: PlanEntry[] = [];
  const missingForDirs = new Map<string, LibraryReport[]>();
  // Copied dirs whose ELF files name no loader at all (only libraries, e.g. Python extension
  // modules) borrow the one loader of the programs under files (copy_bom would skip them, each
  // with "cannot autodep", and the image would lack their libraries).
  let programsLoader: string | null | undefined;
  for (const [i, ex] of expanded.entries()) {
    const elfs = await elfFiles(ex.files);
    for (const f of elfs) f.entry.pinned = true;
    if (elfs.length === 0) continue;
    const own = loadersOf(elfs.map((f) => f.host));
    programsLoader ??= inferDefaultLoader(
      managements.flatMap((m) => m.files.filter((f) => f.autodep).map((f) => hostOf(f.src))),
    );
    const borrowed = own.size === 0 ? programsLoader : null;
    const defaultLoader = own.size === 1 ? [...own][0]! : borrowed;
    const deps = await mapLimit(elfs, 4, (f) => findDeps(f.host, defaultLoader, opts.loaderConfig));
    const unloaded = elfs
      .filter((f, j) => deps[j]!.skipped?.startsWith(NO_LOADER) && namesLibraries(f.host))
      .map((f) => f.host);
    if (unloaded.length > 0)
      warnKept(
        `${counted(unloaded)} in copied dirs ${unloaded.length === 1 ? 'has' : 'have'} no .interp and no loader ` +
          `can be inferred (${own.size > 1 ? `the dirs' programs name ${own.size}` : 'no program names one'}): ` +
          'their libraries were not looked for, as copy_bom skips them ("cannot autodep"); ' +
          'list the program that loads them under files, or their libraries',
        managements[i]!.dirs[0]?.loc,
      );
    const viaBorrowed = borrowed ? elfs.filter((_, j) => deps[j]!.objects.length > 1).map((f) => f.host) : [];
    if (viaBorrowed.length > 0)
      warnKept(
        `the libraries of ${counted(viaBorrowed)} without .interp in copied dirs were found through ${borrowed}, ` +
          "the loader of the programs under files (copy_bom infers it only from the dirs' own programs and " +
          'would copy none of them)',
        managements[i]!.dirs[0]?.loc,
      );
    deps.forEach((d, i) => {
      const f = elfs[i]!;
      const libs = d.objects.filter((o) => !isUnder(o.src, f.srcRoot) && !isUnder(o.src, rootAbs));
      const report: LibraryReport = {
        file: f.host,
        loc: f.loc,
        interp: d.interp,
        libs,
        missing: d.missing,
        from: 'dirs',
      };
      if (d.interp) plan.libraries.push(report);
      if (d.interp && d.skipped) warn(`${f.host}: ${d.skipped}`, f.loc);
      for (const name of d.missing) missingForDirs.set(name, [...(missingForDirs.get(name) ?? []), report]);
      for (const o of libs) {
        const inner = posix.normalize(o.inner);
        if (fileLibPairs.has(`${o.src}\0${inner}`)) continue;
        fileLibPairs.add(`${o.src}\0${inner}`);
        dirLibs.push({ kind: 'file', inner, src: o.src, why: 'library', loc: f.loc, neededBy: [f.host] });
      }
    });
  }

  mark('autodep dirs');
  // Execution order (copy_bom's manage): per bom mkdirs, links, dirs, files, libraries; then the
  // libraries of copied dirs.
  managements.forEach((m, i) => {
    for (const d of m.mkdirs) plan.entries.push({ kind: 'dir', inner: d.inner, why: 'mkdir', loc: d.loc });
    for (const l of m.links)
      plan.entries.push({ kind: 'link', inner: l.inner, target: l.src, why: 'createlink', loc: l.loc });
    plan.entries.push(...expanded[i]!.entries);
    for (const f of m.files)
      plan.entries.push({
        kind: 'file',
        inner: f.inner,
        src: hostOf(f.src),
        why: 'files',
        loc: f.loc,
        pinned: f.autodep || !!f.hash,
      });
    for (const l of m.libs)
      plan.entries.push({
        kind: 'file',
        inner: l.inner,
        src: l.src,
        why: 'library',
        loc: l.loc,
        neededBy: [l.neededBy],
      });
  });
  for (const l of dirLibs) {
    plan.entries.push({ kind: 'dir', inner: posix.dirname(l.inner), why: 'mkdir', loc: l.loc });
    plan.entries.push(l);
  }
  for (const e of plan.entries) if (e.why === 'library' && e.src) plan.sources.push(e.src);
  missingParents(rootAbs, plan.entries, err);

  // Missing libraries: found anywhere in the image (after the copy, or already there) is enough
  // (copy_bom's lazy_check_missing_libraries); otherwise an error for files, a warning for dirs.
  const names =
    missingForFiles.size + missingForDirs.size > 0 ? namesInImage(rootAbs, plan.entries) : new Set<string>();
  for (const [name, reports] of missingForFiles) {
    if (names.has(name)) continue;
    for (const r of reports)
      err(
        `${r.file} needs ${name}, which the loader ${r.interp ?? ''} cannot find ` +
          '(add its dir to the loader config\'s library path, copy it with a "files" entry, or set autodep: false)',
        r.loc,
      );
  }
  // A name found in the image is not missing: the reports say so (the JVM's libraries need its
  // libjvm.so, which the launcher loads by its path before them).
  if (names.size > 0) for (const r of plan.libraries) r.missing = r.missing.filter((n) => !names.has(n));
  for (const [name, reports] of missingForDirs) {
    if (names.has(name)) continue;
    const files = reports.map((r) => r.file);
    warn(
      `${name} is needed by ${files.slice(0, 3).join(', ')}` +
        `${files.length > 3 ? ` and ${files.length - 3} more` : ''} ` +
        'but the loader cannot find it; the program will fail to start unless it is in the image',
      reports[0]!.loc,
    );
  }
  mark('order');
  return plan;
}

/** "2 ELF files (a, b)", "40 ELF files (a, b, c and 37 more)". */
function counted(files: string[]): string {
  const shown = files.slice(0, 3).join(', ');
  const more = files.length > 3 ? ` and ${files.length - 3} more` : '';
  return `${files.length} ELF file${files.length === 1 ? '' : 's'} (${shown}${more})`;
}

/**
 * Which files start with the ELF magic, remembered per process by inode, size and time: the dev
 * loop copies the same trees again and again. A process that knows none yet has the walk's native
 * scan read the magic in its one pass (FileStat.elf); otherwise the walk only stats and the files
 * not known here are read in one native batch (else one by one).
 */
const elfSeen = new Map<string, boolean>();
const elfKey = (f: { host: string; stat?: FileStat }) =>
  f.stat ? `${f.host}\0${f.stat.ino}\0${f.stat.size}\0${f.stat.mtimeMs}` : null;

async function elfFiles<T extends { host: string; stat?: FileStat }>(files: T[]): Promise<T[]> {
  if (elfSeen.size + files.length > 200_000) elfSeen.clear();
  const known = new Map<T, boolean>();
  for (const f of files) {
    const key = elfKey(f);
    const elf = f.stat?.elf ?? (key === null ? undefined : elfSeen.get(key));
    if (elf !== undefined) known.set(f, elf);
    if (f.stat?.elf !== undefined && key !== null) elfSeen.set(key, f.stat.elf);
  }
  // Shorter than an ELF header: not a program or library.
  const unknown = files.filter((f) => !known.has(f) && (!f.stat || f.stat.size >= 64));
  const sniffed = (await sniffElfNative(unknown.map((f) => f.host))) ?? unknown.map((f) => startsWithElf(f.host));
  unknown.forEach((f, i) => {
    known.set(f, sniffed[i]!);
    const key = elfKey(f);
    if (key) elfSeen.set(key, sniffed[i]!);
  });
  return files.filter((f) => known.get(f) ?? false);
}

/** Whether the walk's stat pass should also read each file's ELF magic (see elfFiles). */
const scanElfInWalk = (): boolean => elfSeen.size === 0;

function startsWithElf(host: string): boolean {
  try {
    const fd = openSync(host, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const b = Buffer.alloc(4);
      return readSync(fd, b, 0, 4, 0) === 4 && b.readUInt32BE(0) === 0x7f454c46;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

/**
 * copy_bom's `rsync -aL src T/a/b` and `ln -s` create no parent directory: a `files` entry renamed
 * into a subdirectory, or a link named so, fails there unless a mkdir (or a directory copy, or an
 * earlier copy into the root) made that directory first. The entries are in copy_bom's order.
 */
function missingParents(rootAbs: string, entries: PlanEntry[], err: (message: string, loc?: Loc) => void): void {
  const made = new Set<string>(['/']);
  const isDirInRoot = (inner: string) => {
    try {
      return lstatSync(rootAbs + inner).isDirectory();
    } catch {
      return false;
    }
  };
  for (const e of entries) {
    if (e.kind === 'dir') {
      for (let d = e.inner; !made.has(d); d = posix.dirname(d)) made.add(d);
      continue;
    }
    if (e.why !== 'files' && e.why !== 'createlink') continue;
    const parent = posix.dirname(e.inner);
    if (made.has(parent) || isDirInRoot(parent)) continue;
    made.add(parent); // one error per directory
    const what = e.why === 'files' ? `rsync copies ${e.inner} into it` : `ln -s makes ${e.inner} in it`;
    err(
      `${parent} does not exist in the image when ${what}, and neither creates a parent directory, so copy_bom ` +
        `fails there; create it first with a "mkdirs" entry (mkdir -p) of its target`,
      e.loc,
    );
  }
}

/** File names present in the image after the copy: planned entries plus what is already there. */
function namesInImage(rootAbs: string, entries: PlanEntry[]): Set<string> {
  const names = new Set(entries.map((e) => posix.basename(e.inner)));
  const walk = (dir: string, depth: number): void => {
    if (depth > 64) return;
    let list;
    try {
      list = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of list) {
      names.add(e.name);
      if (e.isDirectory()) walk(`${dir}/${e.name}`, depth + 1);
    }
  };
  try {
    if (lstatSync(rootAbs).isDirectory()) walk(rootAbs, 0);
  } catch {
    /* no root yet */
  }
  return names;
}

/** copy_bom's remove_redundant: first mkdir wins; last link, dir copy and file copy win. */
function removeRedundant(ms: Management[]): void {
  const made = new Set<string>();
  for (const m of ms) {
    m.mkdirs = m.mkdirs.filter((d) => {
      const k = d.inner.replace(/\/+$/, '') || '/';
      return !made.has(k) && made.add(k);
    });
  }
  const keepLast = <T>(
    get: (m: Management) => T[],
    set: (m: Management, v: T[]) => void,
    key: (t: T) => string | null,
  ) => {
    const seen = new Set<string>();
    for (const m of [...ms].reverse()) {
      const kept = [...get(m)].reverse().filter((t) => {
        const k = key(t);
        return k === null || (!seen.has(k) && !!seen.add(k));
      });
      set(m, kept.reverse());
    }
  };
  keepLast(
    (m) => m.links,
    (m, v) => (m.links = v),
    (l) => l.inner,
  );
  keepLast(
    (m) => m.dirs,
    (m, v) => (m.dirs = v),
    (d) => {
      const name = rustFileName(d.src);
      return name === null ? null : rustJoin(d.dest, name);
    },
  );
  // Files and libraries share one set of destinations; within a bom, user files come first.
  const seen = new Set<string>();
  for (const m of [...ms].reverse()) {
    m.files = [...m.files]
      .reverse()
      .filter((f) => !seen.has(f.inner) && !!seen.add(f.inner))
      .reverse();
    m.libs = [...m.libs]
      .reverse()
      .filter((l) => !seen.has(l.inner) && !!seen.add(l.inner))
      .reverse();
  }
}
