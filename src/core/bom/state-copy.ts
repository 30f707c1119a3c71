// The two ends of a bom copy's saved state (state.ts): recording it around a full copy, and a copy
// from it, which re-copies what changed (a source's content, or the copy in the root) and hands
// back why not whenever anything else changed, so that the caller plans anew.
import { closeSync, constants, lstatSync, openSync, readdirSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { applyPlan, finalEntries, type CopyAction, type CopyResult } from './copy.ts';
import type { Env } from './env.ts';
import type { BomPlan, PlanEntry } from './plan.ts';
import {
  checkState,
  dropState,
  findInState,
  loadState,
  parseLine,
  parseLines,
  rewriteState,
  saveState,
  standalone,
  stateLines,
  unreadSources,
  statLines,
  type DestCheck,
  type StateHeader,
  type StateLine,
  type StateLines,
} from './state.ts';
import type { FileStat } from './tree.ts';
import type { Loc } from './types.ts';

/** A source changed within this of its record may change again unseen (coarse or lagging clocks). */
const SRC_RACY_MS = 1000;
/** The same for a copy just written here: past the file system's timestamp tick. */
const DEST_RACY_MS = 50;
/**
 * Destinations checked: every file and link (rsync's quick check, the default) or, with
 * OCCLUM_STUDIO_BOM_DEST_CHECK=dirs, the directories only (docs/bom.md has the trade-off).
 */
const destCheck = (): DestCheck => (process.env.OCCLUM_STUDIO_BOM_DEST_CHECK === 'dirs' ? 'dirs' : 'files');
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

export interface StateTarget {
  dir: string;
  key: unknown;
}

const openRoot = (root: string) => openSync(root, constants.O_RDONLY | constants.O_DIRECTORY);

/** An env that notes every variable read (the boms' `$VAR`s), for the state. */
export function envRecorder(env: Env): { env: Env; used: Map<string, string | null> } {
  const used = new Map<string, string | null>();
  const proxy = new Proxy(env, {
    get: (t, k) => {
      if (typeof k !== 'string') return undefined;
      used.set(k, t[k] ?? null);
      return t[k];
    },
  });
  return { env: proxy, used };
}

/** The loader config's file as a state line probes it (an absolute path; else none). */
const loaderFile = (loaderConfig: string | null) => (loaderConfig?.startsWith('/') ? loaderConfig : null);

/**
 * The identities of the sources the walk did not read, taken before the copy (a source that
 * changes during it then differs next time), or null when this plan is not to be kept.
 */
export async function sourcesBefore(plan: BomPlan, loaderConfig: string | null): Promise<Map<string, string> | null> {
  if (plan.noState || plan.issues.some((i) => !plan.stateWarnings?.includes(i))) return null;
  const keys = unreadSources(plan, finalEntries(plan), loaderFile(loaderConfig));
  if (!keys) return null;
  // Each alone (no shared prefix), as a probe: only the follow mode and the path matter here.
  const probes = keys.map((k) => `${k[0]}\t0|${k.slice(2)}\t0|\t-\t-\tp\t-\t-\t-\t`);
  const ids = await statLines(-1, 'src', SRC_RACY_MS, probes);
  return new Map(keys.map((k, i) => [k, ids[i]!.split('\t')[3]!]));
}

/**
 * The state's lines with the identities `sourcesBefore` took (pure work: built while the copy runs
 * on the addon's threads), or null when the plan cannot be kept.
 */
export function linesOf(plan: BomPlan, loaderConfig: string | null, ids: Map<string, string>, locs: Loc[]) {
  return stateLines(plan, finalEntries(plan), loaderFile(loaderConfig), locs, ids);
}

/** After a complete copy: the destinations' identities, then the state is written. */
export async function recordAfter(
  t: StateTarget,
  plan: BomPlan,
  copy: CopyResult,
  made: StateLines,
  locs: Loc[],
  used: Map<string, string | null>,
  mark: (stage: string) => void,
): Promise<void> {
  const copied = Date.now();
  // The files the copy wrote need no stat (it gave their identities as it left them); the rest
  // (directories, links, files left as they were) are stat'ed, each line alone.
  const done = made.lines;
  const given = new Set<number>();
  for (const [inner, id] of copy.written ?? []) {
    const f = made.files.get(inner);
    // `hash:size:mtime`: a copy without its source's recorded size and mtime (the source changed
    // since the walk) is not recorded as one (the stat below gives `?`, as bom_state.rs does).
    const hash = id.slice(0, id.indexOf(':'));
    if (!f || !f.srcId.endsWith(id.slice(hash.length))) continue;
    given.add(f.line);
    done[f.line] = `${done[f.line]!.slice(0, f.at)}${hash}${done[f.line]!.slice(f.at + 1)}`;
  }
  mark('state ids');
  // The stats past the file system's timestamp tick since the copy's last write, so that what it
  // wrote last (the directories' attributes) is not racy.
  await new Promise((r) => setTimeout(r, Math.max(0, copied + DEST_RACY_MS + 10 - Date.now())));
  mark('state wait');
  const rest = made.paths.flatMap(([, inner], i) => (inner && !given.has(i) ? [i] : []));
  const fd = openRoot(plan.root);
  try {
    const ids = await statLines(
      fd,
      'dest',
      DEST_RACY_MS,
      rest.map((i) => standalone(done[i]!, ...made.paths[i]!)),
    );
    rest.forEach((i, k) => (done[i] = setField(done[i]!, 4, ids[k]!.split('\t')[4]!)));
  } finally {
    closeSync(fd);
  }
  mark('state dest');
  const header = {
    boms: plan.boms,
    libraries: plan.libraries,
    loaderConfig: plan.loaderConfig,
    strays: copy.strays,
    env: [...used],
    locs,
    entries: done.filter((l) => /^[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t[fdl]\t/.test(l)).length,
    warnings: plan.issues,
  };
  saveState(t.dir, t.key, header, done.join('\n'));
}

const toStat = (r: number[]): FileStat => {
  const mtimeMs = r[7]! * 1000 + r[8]! / 1e6;
  return {
    size: r[0]!,
    mode: r[1]!,
    uid: r[2]!,
    gid: r[3]!,
    ino: r[4]!,
    atime: new Date(r[5]! * 1000 + r[6]! / 1e6),
    mtimeMs,
    mtime: new Date(mtimeMs),
  };
};

/** Defines `obj[key]` as computed on first read (the 20,000 entries of a plan nobody lists). */
function lazy<T extends object, K extends keyof T>(obj: T, key: K, make: () => T[K]): void {
  let v: T[K] | undefined;
  Object.defineProperty(obj, key, { enumerable: true, configurable: true, get: () => (v ??= make()) });
}

export type StateCopy = {
  plan: BomPlan;
  copy: CopyResult;
  ok: boolean;
  /** The plan's entries copied from each of `paths` (without reading the other 20,000). */
  entriesOf: (paths: string[]) => Promise<Map<string, PlanEntry[]>>;
};

/** The copy from the saved state, or why there is none to trust or what changed. */
export async function copyFromState(
  t: StateTarget,
  root: string,
  env: Env,
  mark: (stage: string) => void,
): Promise<StateCopy | string> {
  let fd: number;
  try {
    fd = openRoot(root);
  } catch {
    return 'the root is gone';
  }
  try {
    const checked = await checkState(t.dir, t.key, fd, destCheck());
    if (typeof checked === 'string') return checked;
    const { header, mismatches } = checked;
    for (const [name, value] of header.env)
      if ((env[name] ?? null) !== value) return `the variable ${name} changed since the saved state`;
    mark('state check');
    const parse = (line: string | null, src: string, inner: string): StateLine | string =>
      (line !== null && parseLine(line, src, inner, header.locs)) || 'the saved state has a malformed line';
    // The lines to copy again (by index, with the line as checked), and the directories of the
    // root whose listing changed.
    const redo = new Map<number, StateLine & { line: string }>();
    const srcNow = new Map<number, string>();
    const changedDirs = new Map<string, string[]>();
    for (const [i, now, attrs, dest, src, inner, parent, parentSrc, children, line, parentLine] of mismatches) {
      const l = parse(line, src, inner);
      if (typeof l === 'string') return l;
      if (l.kind === 'p') return `${l.src} (a bom, an include lookup or the loader config) changed`;
      if (now !== null) {
        if (l.kind !== 'f') return `${l.src} changed (a ${l.kind === 'd' ? 'directory' : 'link'} of the copy)`;
        if (!attrs || (attrs[1]! & S_IFMT) !== S_IFREG) return `${l.src} is gone or no longer a regular file`;
        if (l.policy === 'p') return `${l.src} changed (a program, library or hashed file: planned anew)`;
        if (l.policy === 'n' && attrs[9] === 1) return `${l.src} became an ELF file`;
        l.entry!.stat = toStat(attrs);
        srcNow.set(i, now);
      } else if (dest && (l.kind === 'q' || l.kind === 'd')) changedDirs.set(l.inner, children ?? []);
      redo.set(i, { ...l, line });
      // A file is renamed into its directory: that directory's attributes are set again after it.
      if (l.kind === 'f' && parent >= 0 && !redo.has(parent)) {
        const pl = parse(parentLine, parentSrc, posix.dirname(l.inner));
        if (typeof pl === 'string') return pl;
        redo.set(parent, { ...pl, line: parentLine! });
      }
    }
    let strays = header.strays;
    if (changedDirs.size > 0) {
      if (strays.length >= 1000) return 'the root holds many strays and a directory of it changed';
      strays = straysAfter(root, strays, changedDirs);
    }
    const only: PlanEntry[] = [];
    for (const l of redo.values()) {
      const e = l.entry;
      if (!e) continue;
      if (e.src && !e.stat && e.kind !== 'link') {
        try {
          e.stat = l.follow === 'S' ? statSync(e.src) : lstatSync(e.src);
        } catch {
          return `${e.src} is gone`;
        }
      }
      only.push(e);
    }
    const plan: BomPlan = {
      root,
      boms: header.boms,
      entries: [],
      libraries: header.libraries,
      issues: header.warnings,
      sources: [],
      loaderConfig: header.loaderConfig,
      includeProbes: [],
    };
    // Every entry of the plan: the state's text, read only when someone asks for them all.
    const entries = (): PlanEntry[] => {
      const loaded = loadState(t.dir, t.key);
      const ls = typeof loaded === 'string' ? null : parseLines(loaded.text, header.locs);
      if (!ls) throw new Error('the saved bom state changed while it was read');
      return ls.flatMap((l) => (l.entry ? [l.entry] : []));
    };
    lazy(plan, 'entries', entries);
    lazy(plan, 'sources', () => [...header.boms, ...plan.entries.flatMap((e) => (e.src ? [e.src] : []))]);
    const copy = await applyPlan(plan, { dryRun: false, only, strays, mark });
    const ok = !copy.issues.some((i) => i.severity === 'error');
    if (redo.size > 0) {
      if (copy.issues.length > 0) dropState(t.dir, t.key);
      else await rerecord(t, fd, header, redo, srcNow, copy.strays);
    }
    // Every other entry is as the state recorded it: unchanged.
    const written = copy.actions;
    const seen = new Set(written.map((a) => a.inner));
    copy.counts.same += header.entries - seen.size;
    lazy(copy, 'actions', (): CopyAction[] => [
      ...written,
      ...plan.entries
        .filter((e) => !seen.has(e.inner))
        .map((e) => ({
          inner: e.inner,
          kind: e.kind,
          action: 'same' as const,
          why: e.why,
          src: e.src,
          target: e.target,
        })),
    ]);
    mark('state copy');
    // The dev loop asks for the same few files again and again: each is looked up once.
    const known = new Map<string, PlanEntry[]>();
    const entriesOf = async (paths: string[]) => {
      const fresh = paths.filter((p) => !known.has(p));
      const found = fresh.length ? await findInState(t.dir, t.key, fresh) : [];
      if (!found) throw new Error('the saved bom state is gone');
      for (const p of fresh) known.set(p, []);
      for (const [, src, inner, line] of found) {
        const e = parseLine(line, src, inner, header.locs)?.entry;
        if (e?.kind === 'file') known.get(src)?.push(e);
      }
      return new Map(paths.flatMap((p) => (known.get(p)!.length ? [[p, known.get(p)!] as const] : [])));
    };
    return { plan, copy, ok, entriesOf };
  } finally {
    closeSync(fd);
  }
}

/** `line` with tab-separated field `n` replaced. */
function setField(line: string, n: number, value: string): string {
  const f = line.split('\t');
  f[n] = value;
  return f.join('\t');
}

/** The strays with the listings of `changed` directories (with the names the plan puts there) read again. */
function straysAfter(root: string, strays: string[], changed: Map<string, string[]>): string[] {
  const out = strays.filter((s) => !changed.has(posix.dirname(s)));
  for (const [d, planned] of changed) {
    const produced = new Set(planned);
    let names: string[];
    try {
      names = readdirSync(d === '/' ? root : root + d);
    } catch {
      continue; // gone: made again by the copy
    }
    for (const n of names) if (!produced.has(n)) out.push(posix.join(d, n));
  }
  return out.sort();
}

/** The new identities of the lines copied again, written into the state. */
async function rerecord(
  t: StateTarget,
  fd: number,
  header: StateHeader,
  redo: Map<number, StateLine & { line: string }>,
  srcNow: Map<number, string>,
  strays: string[],
): Promise<void> {
  const idx = [...redo.keys()];
  const old = idx.map((i) => redo.get(i)!.line);
  const fresh = await statLines(
    fd,
    'dest',
    DEST_RACY_MS,
    // The recorded destination is the one that changed: stat'ed anew.
    idx.map((i, k) => setField(standalone(old[k]!, redo.get(i)!.src, redo.get(i)!.inner), 4, '-')),
  );
  const lines = idx.map((i, k): [number, string, string] => {
    const line = setField(old[k]!, 3, srcNow.get(i) ?? old[k]!.split('\t')[3]!);
    return [i, old[k]!, setField(line, 4, fresh[k]!.split('\t')[4]!)];
  });
  const { v: _v, key: _k, ...rest } = header;
  if (!(await rewriteState(t.dir, t.key, { ...rest, strays }, lines))) dropState(t.dir, t.key);
}
