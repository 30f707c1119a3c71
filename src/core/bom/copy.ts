// Carries out a bom plan incrementally, as copy_bom's `rsync -a` does: a file whose size and
// modification time match its source is left alone, a changed one is written to a temporary
// name and renamed over the old (no half-written file), modes, times (and owners, as root) are
// kept; nothing is deleted. Files in the root that no entry produces are listed, not removed.
import { lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import type { BomPlan, PlanEntry } from './plan.ts';
import { statFilesNative } from './native-copy.ts';
import { openRootWriter, type RootWriter } from './root-writer.ts';
import type { FileStat } from './tree.ts';
import type { BomIssue } from './types.ts';

export type Action = 'create' | 'update' | 'same' | 'attrs';

export interface CopyAction {
  inner: string;
  kind: PlanEntry['kind'];
  action: Action;
  why: PlanEntry['why'];
  src?: string;
  target?: string;
}

export interface CopyResult {
  dryRun: boolean;
  actions: CopyAction[];
  counts: Record<Action, number>;
  /** Bytes of the files written (or that would be written). */
  bytes: number;
  /** Paths in the root that no entry produces (top-most only), e.g. left from an older bom. */
  strays: string[];
  issues: BomIssue[];
  /** Each file written, by its path in the image, with its identity as the copy left it (the addon's). */
  written?: Map<string, string>;
}

/** finalEntries of each plan's entries (a copy and its state both ask, 20,000 entries each time). */
const finals = new WeakMap<PlanEntry[], PlanEntry[]>();

/** The last entry for each path wins; a plain mkdir never replaces a copied dir's attributes. */
export function finalEntries(plan: BomPlan): PlanEntry[] {
  let out = finals.get(plan.entries);
  if (out) return out;
  const byPath = new Map<string, PlanEntry>();
  for (const e of plan.entries) {
    const prev = byPath.get(e.inner);
    if (prev && prev.kind === 'dir' && e.kind === 'dir' && !e.src) continue;
    byPath.set(e.inner, e);
  }
  finals.set(plan.entries, (out = [...byPath.values()]));
  return out;
}

/** Times are set through a double of seconds (sub-microsecond rounding): equal within 1 ms. */
function sameTime(a: FileStat, b: FileStat): boolean {
  return Math.abs(a.mtimeMs - b.mtimeMs) < 1;
}

const tryLstat = (p: string): Stats | undefined => lstatSync(p, { throwIfNoEntry: false });

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
/** The file type of an lstat from either source (Node's Stats or the native batch). */
const isType = (st: FileStat, type: number) => (st.mode & S_IFMT) === type;

export interface ApplyOptions {
  dryRun: boolean;
  /** Only these entries (a hinted re-copy); the strays are then taken as given, not re-read. */
  only?: PlanEntry[];
  strays?: string[];
  /** Records the time since the previous mark under a stage name (diagnostics). */
  mark?: (stage: string) => void;
  /** Work for the main thread while the addon's threads copy (not called in a dry run). */
  whileCopying?: () => void;
}

export async function applyPlan(plan: BomPlan, opts: ApplyOptions): Promise<CopyResult> {
  const root = plan.root;
  const mark = opts.mark ?? (() => {});
  const issues: BomIssue[] = [];
  const result: CopyResult = {
    dryRun: opts.dryRun,
    actions: [],
    counts: { create: 0, update: 0, same: 0, attrs: 0 },
    bytes: 0,
    strays: [],
    issues,
  };
  const entries = opts.only ?? finalEntries(plan);
  const byPath = new Map(entries.map((e) => [e.inner, e]));
  const fail = (e: PlanEntry, message: string) =>
    issues.push({ severity: 'error', message: `${e.inner}: ${message}`, loc: e.loc });
  // The root itself a link: one error naming it (each entry would fail on it), nothing written.
  if (tryLstat(root)?.isSymbolicLink()) {
    issues.push({
      severity: 'error',
      message:
        `the root ${root} is a symlink (-> ${readlinkSync(root)}): the copy writes through no link; ` +
        `pass the directory itself (--root ${statSync(root, { throwIfNoEntry: false })?.isDirectory() ? realpathSync(root) : 'DIR'})`,
    });
    return result;
  }

  // Every ancestor of a planned path must be a directory of the plan (or an unplanned one).
  // A dir whose ancestors passed is not walked up again (20,000 files share 200 dirs).
  const clear = new Set<string>();
  for (const e of entries) {
    const chain: string[] = [];
    let ok = true;
    for (let p = posix.dirname(e.inner); p !== '/' && !clear.has(p); p = posix.dirname(p)) {
      const a = byPath.get(p);
      if (a && a.kind !== 'dir') {
        fail(
          e,
          `its parent ${p} is planned as a ${a.kind === 'link' ? `symlink (-> ${a.target})` : 'file'}; ` +
            'the copy does not write through it',
        );
        ok = false;
        break;
      }
      chain.push(p);
    }
    if (ok) for (const p of chain) clear.add(p);
  }
  if (issues.length > 0) return result;

  const record = (e: PlanEntry, action: Action, bytes = 0) => {
    result.actions.push({ inner: e.inner, kind: e.kind, action, why: e.why, src: e.src, target: e.target });
    result.counts[action]++;
    result.bytes += bytes;
  };
  const host = (inner: string) => (inner === '/' ? root : root + inner);
  // Opened once the root exists (the first directory made); never in a dry run.
  let w = null as RootWriter | null;
  const writer = () => (w ??= openRootWriter(root));
  try {
    return await applyEntries();
  } finally {
    w?.close();
  }
  async function applyEntries(): Promise<CopyResult> {
    const madeDirs = new Set<string>();
    /** Dirs to create, parents first, made in one batch before the copies (with the entry that needs each). */
    const toMake: { inner: string; e: PlanEntry }[] = [];
    /** Dirs this copy creates (their attributes are then part of the creation, not a fix). */
    const created = new Set<string>();
    /** mkdir -p inside the root that refuses to follow a symlink out of it. */
    const ensureDir = (inner: string, e: PlanEntry): boolean => {
      if (madeDirs.has(inner)) return true;
      if (inner !== '/' && !ensureDir(posix.dirname(inner), e)) return false;
      // Nothing is in a directory this copy creates.
      const st = inner !== '/' && created.has(posix.dirname(inner)) ? undefined : tryLstat(host(inner));
      if (st?.isDirectory()) {
        madeDirs.add(inner);
        return true;
      }
      if (st) {
        fail(
          e,
          `${inner} exists in the root as a ${st.isSymbolicLink() ? 'symlink' : 'file'}, ` +
            'where a directory is needed; remove it',
        );
        return false;
      }
      if (!opts.dryRun) {
        if (inner === '/') mkdirSync(root);
        else toMake.push({ inner, e });
      }
      madeDirs.add(inner);
      created.add(inner);
      return true;
    };

    const dirs = entries.filter((e) => e.kind === 'dir').sort((a, b) => a.inner.length - b.inner.length);
    for (const e of dirs) {
      const existed = !created.has(posix.dirname(e.inner)) && (tryLstat(host(e.inner))?.isDirectory() ?? false);
      if (!ensureDir(e.inner, e)) continue;
      if (!e.src) record(e, existed ? 'same' : 'create');
    }

    mark('dirs');
    const copies: { e: PlanEntry; src: string; st: FileStat; dest: string; action: Action }[] = [];
    // What is at each destination now, in one native batch (rsync's quick check needs it for every
    // file). Nothing is in a directory this copy just created (a cold copy reads none).
    const placed = entries.filter((e) => e.kind !== 'dir' && ensureDir(posix.dirname(e.inner), e));
    if (toMake.length > 0)
      for (const [i, message] of writer().mkdirs(toMake.map((d) => d.inner)))
        fail(toMake[i]!.e, `cannot create ${toMake[i]!.inner}: ${message}`);
    mark('mkdirs');
    const probe = placed.filter((e) => !created.has(posix.dirname(e.inner)));
    const found = new Map<PlanEntry, FileStat | null>();
    const stats =
      (await statFilesNative(probe.map((e) => host(e.inner)))) ?? probe.map((e) => tryLstat(host(e.inner)) ?? null);
    probe.forEach((e, i) => found.set(e, stats[i]!));
    for (const e of placed) {
      const dest = host(e.inner);
      const cur = found.get(e) ?? undefined;
      if (cur && isType(cur, S_IFDIR)) {
        fail(e, `a directory is in the way of this ${e.kind}; remove it from the root`);
        continue;
      }
      if (e.kind === 'link') {
        if (cur && isType(cur, S_IFLNK) && readlinkSync(dest) === e.target) {
          record(e, 'same');
          continue;
        }
        if (!opts.dryRun) {
          if (cur) writer().unlink(e.inner);
          writer().symlink(e.inner, e.target!);
        }
        record(e, cur ? 'update' : 'create');
        continue;
      }
      let st = e.stat;
      if (!st) {
        try {
          st = statSync(e.src!);
        } catch (err) {
          fail(e, `cannot read ${e.src}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
          continue;
        }
      }
      if (cur && isType(cur, S_IFREG) && cur.size === st.size && sameTime(cur, st)) {
        if ((cur.mode & 0o7777) === (st.mode & 0o7777)) record(e, 'same');
        else {
          if (!opts.dryRun) await writer().chmodFile(e.inner, st.mode & 0o7777);
          record(e, 'attrs');
        }
        continue;
      }
      copies.push({ e, src: e.src!, st, dest, action: cur ? 'update' : 'create' });
    }

    mark('compare');
    // A new file is written in place (a copy cut short has the wrong time and is redone next time);
    // a changed one goes to a temporary name renamed over the old, so the old stays whole until then.
    if (!opts.dryRun && copies.length === 0) {
      // Nothing to copy: no root to open (a plan without its "/" may come from an API caller).
      opts.whileCopying?.();
      result.written = new Map();
    } else if (!opts.dryRun) {
      const jobs = copies.map((c, i) => ({
        src: c.src,
        dest: c.e.inner,
        tmp:
          c.action === 'create'
            ? undefined
            : `${posix.dirname(c.e.inner)}/.${posix.basename(c.e.inner)}.bom-${process.pid}-${i}`,
      }));
      const copying = writer().copy(
        jobs,
        copies.map((c) => c.st),
      );
      opts.whileCopying?.();
      const { failed, ids } = await copying;
      for (const [i, message] of failed) fail(copies[i]!.e, `copying ${copies[i]!.src} failed: ${message}`);
      for (const [i, c] of copies.entries()) if (!failed.has(i)) record(c.e, c.action, c.st.size);
      if (ids) {
        result.written = new Map();
        ids.forEach((id, i) => id && result.written!.set(copies[i]!.e.inner, id));
      }
    } else if (opts.dryRun) for (const c of copies) record(c.e, c.action, c.st.size);
    mark('copy');

    // Attributes of copied dirs last, deepest first, once their contents are in place.
    for (const e of [...dirs].reverse()) {
      if (!e.src || !e.stat) continue;
      const cur = tryLstat(host(e.inner));
      const same = cur?.isDirectory() && sameTime(cur, e.stat) && (cur.mode & 0o7777) === (e.stat.mode & 0o7777);
      if (!same && !opts.dryRun) await writer().dirAttrs(e.inner, e.stat);
      record(e, same ? 'same' : created.has(e.inner) ? 'create' : 'attrs');
    }
    mark('dir attrs');
    result.strays = opts.strays ?? findStrays(root, entries, created);
    mark('strays');
    return result;
  }
}

/**
 * Paths in the root that the plan does not produce (a stray dir is listed once, not its contents).
 * A dir this copy created holds only what it wrote: not read again.
 */
export function findStrays(root: string, entries: PlanEntry[], created = new Set<string>(), limit = 1000): string[] {
  const produced = new Set<string>(['/']);
  for (const e of entries) {
    for (let p = e.inner; !produced.has(p); p = posix.dirname(p)) produced.add(p);
  }
  const out: string[] = [];
  const walk = (inner: string): void => {
    let list;
    try {
      list = readdirSync(inner === '/' ? root : root + inner, { withFileTypes: true });
    } catch {
      return;
    }
    for (const d of list.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (out.length >= limit) return;
      const child = posix.join(inner, d.name);
      if (!produced.has(child)) out.push(child);
      else if (d.isDirectory() && !created.has(child)) walk(child);
    }
  };
  if (!created.has('/')) walk('/');
  return out;
}
