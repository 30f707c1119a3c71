// A bom copy's saved state, so that a fresh `bom copy` of an unchanged tree needs no new plan: after
// each complete copy the identity (dev, inode, size, mtime, ctime, mode) of every source and
// destination, the boms and the include lookups, the plan's entries and libraries, and the values
// of the variables the boms used are written to the user's cache dir, with an HMAC under a per-user
// key. The next copy with the same bom, root, include dirs and loader config re-stats them all
// natively (native/src/bom_state.rs) and re-copies the files whose source or copy changed; anything
// else that changed (a bom, a directory's listing, a link, a program or hashed file, a variable)
// or any doubt about the state (missing, forged, truncated, another root's) means a full copy.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join, posix } from 'node:path';
import { writeFileAtomic } from '../instance/atomic.ts';
import { readFileSafe } from '../instance/safe-read.ts';
import { callAsync } from '../securefs/native.ts';
import type { Env } from './env.ts';
import type { BomPlan, EntryWhy, LibraryReport, PlanEntry } from './plan.ts';
import type { BomIssue, Loc } from './types.ts';

const VERSION = 2;
/** A state bigger than this is not ours (20,000 files make about 5 MB). */
const MAX_BYTES = 256 << 20;
const WHYS: EntryWhy[] = ['mkdir', 'createlink', 'files', 'dirs', 'library'];

/** `$XDG_CACHE_HOME/occlum-studio/bom-state` (else `~/.cache/…`). */
export function stateDir(env: Env): string {
  const cache = env.XDG_CACHE_HOME?.startsWith('/') ? env.XDG_CACHE_HOME : join(env.HOME ?? homedir(), '.cache');
  return join(cache, 'occlum-studio', 'bom-state');
}

export interface StateHeader {
  v: number;
  /** What the copy was of: the bom, the root, include dirs, cwd, loader config, user (run.ts). */
  key: unknown;
  boms: string[];
  libraries: LibraryReport[];
  loaderConfig: string | null;
  strays: string[];
  /** The variables the boms read, with their values (null: unset). */
  env: [string, string | null][];
  locs: Loc[];
  /** How many lines are entries of the plan (files, dirs, links). */
  entries: number;
  /** The plan's warnings, repeated by a copy from the state (BomPlan.stateWarnings). */
  warnings: BomIssue[];
}

export interface LoadedState {
  header: StateHeader;
  /** One line per source probe, entry and destination dir (native/src/bom_state.rs format). */
  text: string;
}

/**
 * The per-user MAC key (created on first use), or null when it is not a private file of ours. `dir`
 * is a privateDir (src/core/instance/private-dir.ts).
 */
function macKey(dir: string, create: boolean): Buffer | null {
  const path = join(dir, 'key');
  const uid = process.getuid?.() ?? -1;
  try {
    if (create) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      try {
        const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
        writeSync(fd, randomBytes(32));
        closeSync(fd);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || st.size !== 32 || st.uid !== uid || (st.mode & 0o077) !== 0) return null;
      const key = Buffer.alloc(32);
      return readSync(fd, key, 0, 32, 0) === 32 ? key : null;
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
}

export const statePath = (dir: string, key: unknown) =>
  join(dir, `${createHmac('sha256', 'bom-state').update(JSON.stringify(key)).digest('hex').slice(0, 40)}.state`);

/** The state for `key`, or why there is none that can be trusted. */
export function loadState(dir: string, key: unknown): LoadedState | string {
  const mac = macKey(dir, false);
  if (!mac) return 'no saved state';
  const path = statePath(dir, key);
  let file: Buffer;
  try {
    file = readFileSafe(path, { what: 'the saved state', maxBytes: MAX_BYTES });
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT'
      ? 'no saved state'
      : 'the saved state is not a regular file';
  }
  // Checked as bytes (what was MAC'd), decoded once.
  const at = file.lastIndexOf('\nmac ');
  if (at < 0 || file[file.length - 1] !== 0x0a) return 'the saved state is truncated';
  const body = file.subarray(0, at);
  const want = createHmac('sha256', mac).update(body).digest();
  const got = Buffer.from(file.toString('latin1', at + 5, file.length - 1), 'hex');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return 'the saved state fails its MAC check';
  const nl = body.indexOf(0x0a);
  const header = parseHeader(body.toString('utf8', 0, nl < 0 ? body.length : nl), key);
  if (typeof header === 'string') return header;
  if (nl < 0) return 'the saved state has a bad header';
  return { header, text: body.toString('utf8', nl + 1) };
}

/** The header line of a state whose MAC checked, or why it is not this copy's. */
function parseHeader(line: string, key: unknown): StateHeader | string {
  let header: StateHeader;
  try {
    header = JSON.parse(line) as StateHeader;
  } catch {
    return 'the saved state has a bad header';
  }
  if (header?.v !== VERSION) return 'the saved state is of another version';
  if (JSON.stringify(header.key) !== JSON.stringify(key)) return 'the saved state is of another copy';
  const ok =
    Array.isArray(header.boms) &&
    Array.isArray(header.libraries) &&
    Array.isArray(header.strays) &&
    Array.isArray(header.env) &&
    Array.isArray(header.locs) &&
    Array.isArray(header.warnings) &&
    header.warnings.every((w) => w?.severity === 'warning' && typeof w.message === 'string') &&
    Number.isInteger(header.entries);
  return ok ? header : 'the saved state has a bad header';
}

const headerLine = (key: unknown, header: Omit<StateHeader, 'v' | 'key'>) =>
  JSON.stringify({ v: VERSION, key, ...header });

export function saveState(dir: string, key: unknown, header: Omit<StateHeader, 'v' | 'key'>, text: string): void {
  const mac = macKey(dir, true);
  if (!mac) return;
  const body = `${headerLine(key, header)}\n${text}`;
  const sum = createHmac('sha256', mac).update(body).digest('hex');
  writeFileAtomic(statePath(dir, key), `${body}\nmac ${sum}\n`, 0o600, false);
  pruneStates(dir);
}

/** States kept per user: one per bom and root, so a few dozen cover anyone's active instances. */
const KEEP_STATES = 32;

/** Removes all but the KEEP_STATES most recently written states (each can be megabytes). */
function pruneStates(dir: string): void {
  try {
    const states = readdirSync(dir)
      .filter((n) => n.endsWith('.state'))
      .map((n) => ({ path: join(dir, n), at: lstatSync(join(dir, n)).mtimeMs }))
      .sort((a, b) => b.at - a.at);
    for (const s of states.slice(KEEP_STATES)) rmSync(s.path, { force: true });
  } catch {
    // Another copy pruning at the same time, or an unreadable entry: the next save prunes again.
  }
}

export function dropState(dir: string, key: unknown): void {
  rmSync(statePath(dir, key), { force: true });
}

/** A tab, newline or carriage return in a path would break the line format: such a plan is not saved. */
const BAD = /[\t\n\r]/;

/**
 * Every this many lines, one has its paths written whole: a line a second thread can start its
 * walk at (native/src/bom_state_file.rs), without decoding every line before it.
 */
const SYNC_EVERY = 256;

/**
 * A line's two paths as `n|rest` each: the first n characters of the previous line's (ASCII only,
 * so that n counts bytes for the native side too), then the rest. Neighbouring entries share most
 * of their path.
 */
function coder() {
  const prev = { src: '', inner: '' };
  let lines = 0;
  const one = (field: 'src' | 'inner', p: string) => {
    const q = prev[field];
    let n = 0;
    while (n < p.length && n < q.length && p.charCodeAt(n) === q.charCodeAt(n) && p.charCodeAt(n) < 128) n++;
    prev[field] = p;
    return `${n}|${p.slice(n)}`;
  };
  return (src: string, inner: string) => {
    if (++lines % SYNC_EVERY === 0) prev.src = prev.inner = '';
    return `${one('src', src)}\t${one('inner', inner)}`;
  };
}

function decoder() {
  const prev = { src: '', inner: '' };
  return (field: 'src' | 'inner', coded: string): string | null => {
    const bar = coded.indexOf('|');
    const n = Number(coded.slice(0, bar));
    if (bar < 1 || !Number.isInteger(n) || n > prev[field].length) return null;
    return (prev[field] = prev[field].slice(0, n) + coded.slice(bar + 1));
  };
}

/** How a line's source is read: through links (S, as rsync -L and the plan's stat), lstat (L), none (-). */
const followOf = (e: PlanEntry): 'S' | 'L' | '-' => (!e.src ? '-' : e.why === 'dirs' && !e.top ? 'L' : 'S');
/** A walked file's identity as the walk read it (the earliest look: a change since is seen). */
const walkedId = (e: PlanEntry): string | undefined => (followOf(e) === 'L' ? e.stat?.id : undefined);
const probesOf = (plan: BomPlan, loaderConfigFile: string | null) => [
  ...plan.boms,
  ...plan.includeProbes,
  ...(loaderConfigFile ? [loaderConfigFile] : []),
];

/**
 * The sources whose identities the walk did not read (boms, include probes, the loader config,
 * directories, links, files entries) as `follow<TAB>path`, for stateLines' `ids`; null when a path
 * cannot be kept in a state line.
 */
export function unreadSources(plan: BomPlan, entries: PlanEntry[], loaderConfigFile: string | null): string[] | null {
  const out = new Set<string>();
  for (const p of probesOf(plan, loaderConfigFile)) out.add(`S\t${p}`);
  for (const e of entries) if (e.src && !walkedId(e)) out.add(`${followOf(e)}\t${e.src}`);
  return [...out].some((k) => BAD.test(k.slice(2))) ? null : [...out];
}

/** A plan's state lines, each line's source and image paths, and each copied file's line by its image path. */
export interface StateLines {
  lines: string[];
  paths: [src: string, inner: string][];
  /** The line, where its destination identity goes (a `-` there), and its source's identity. */
  files: Map<string, { line: number; at: number; srcId: string }>;
}

/**
 * The state lines of a completed copy's plan, each source's identity from the walk or from `ids`
 * (unreadSources' keys; destinations' still to be filled: withDest, or natively), or null when a
 * path cannot be kept in a line. Lines: `follow src inner srcId destId kind why policy loc target`.
 */
export function stateLines(
  plan: BomPlan,
  entries: PlanEntry[],
  loaderConfigFile: string | null,
  locs: Loc[],
  ids: Map<string, string>,
): StateLines | null {
  const locIndex = new Map<Loc, number>();
  const locOf = (l?: Loc) => {
    if (!l) return '-';
    let i = locIndex.get(l);
    if (i === undefined) locIndex.set(l, (i = locs.push(l) - 1));
    return String(i);
  };
  const lines: string[] = [];
  const code = coder();
  const paths: [string, string][] = [];
  const at = (src: string, inner: string) => {
    paths.push([src, inner]);
    return code(src, inner);
  };
  // An identity not taken never matches: that entry is checked again next time.
  const idOf = (follow: string, src: string) => ids.get(`${follow}\t${src}`) ?? '?';
  for (const p of probesOf(plan, loaderConfigFile)) {
    if (BAD.test(p)) return null;
    lines.push(`S\t${at(p, '')}\t${idOf('S', p)}\t-\tp\t-\t-\t-\t`);
  }
  const produced = new Set<string>();
  const files: StateLines['files'] = new Map();
  for (const e of entries) {
    if (BAD.test(e.inner) || BAD.test(e.src ?? '') || BAD.test(e.target ?? '')) return null;
    const follow = followOf(e);
    const srcId = !e.src ? '-' : (walkedId(e) ?? idOf(follow, e.src));
    const policy = e.kind !== 'file' ? '-' : e.why === 'library' || e.pinned ? 'p' : e.why === 'dirs' ? 'n' : 'a';
    const kind = e.kind === 'file' ? 'f' : e.kind === 'dir' ? 'd' : 'l';
    const head = `${follow}\t${at(e.src ?? '', e.inner)}\t${srcId}\t`;
    const n = lines.push(`${head}-\t${kind}\t${e.why}\t${policy}\t${locOf(e.loc)}\t${e.target ?? ''}`);
    if (kind === 'f' && e.src) files.set(e.inner, { line: n - 1, at: head.length, srcId });
    produced.add(e.inner);
  }
  // The directories above the entries that no entry makes: a file appearing there is a stray.
  const above = new Set<string>();
  for (const e of entries)
    for (let p = posix.dirname(e.inner); p !== '/' && !produced.has(p) && !above.has(p); p = posix.dirname(p))
      above.add(p);
  for (const p of above) lines.push(`-\t${at('', p)}\t-\t-\tq\t-\t-\t-\t`);
  return { lines, paths, files };
}

/**
 * Fills the source (before a copy) or destination (after it) identities of `lines` natively; one
 * changed within `racyMs` of now is recorded as unknown (`?`): checked again next time.
 */
export async function statLines(rootFd: number, which: 'src' | 'dest', racyMs: number, lines: string[]) {
  if (lines.length === 0) return lines;
  const args = [String(rootFd), which, String(racyMs), lines.join('\n')];
  return ((await callAsync('bomStateStat', args)) as string).split('\n');
}

export type Mismatch = [
  index: number,
  srcNow: string | null,
  attrs: number[] | null,
  destChanged: 0 | 1,
  src: string,
  inner: string,
  /** The line of the directory the entry is in (-1: none), and that line's source. */
  parent: number,
  parentSrc: string,
  /** For a directory of the root that changed: the names the plan puts in it. */
  children: string[] | null,
  /** The line itself, and the parent's (null: none). */
  line: string,
  parentLine: string | null,
];

/** Which destinations the check stats: every file and link, or the directories only (docs/bom.md). */
export type DestCheck = 'files' | 'dirs';

/**
 * The state's lines that differ from what is on disk now, with its header, or why the state cannot
 * be trusted. The file is read, MAC-checked and walked natively (native/src/bom_state_file.rs):
 * its megabytes never become a JS string on this path.
 */
export async function checkState(
  dir: string,
  key: unknown,
  rootFd: number,
  dest: DestCheck,
): Promise<{ header: StateHeader; mismatches: Mismatch[] } | string> {
  const mac = macKey(dir, false);
  if (!mac) return 'no saved state';
  const args = [String(rootFd), dest, statePath(dir, key), mac.toString('hex'), `{"v":${VERSION},`];
  const out = JSON.parse((await callAsync('bomStateCheckFile', args)) as string) as
    { refused: string } | { header: string; rows: Mismatch[] };
  if ('refused' in out) return out.refused;
  const header = parseHeader(out.header, key);
  return typeof header === 'string' ? header : { header, mismatches: out.rows };
}

/** The state's lines whose source is one of `paths`: [index, src, inner, line] each, or null. */
export async function findInState(dir: string, key: unknown, paths: string[]) {
  const mac = macKey(dir, false);
  if (!mac) return null;
  const out = JSON.parse(
    (await callAsync('bomStateFind', [statePath(dir, key), mac.toString('hex'), ...paths])) as string,
  ) as { refused: string } | { rows: [number, string, string, string][] };
  return 'refused' in out ? null : out.rows;
}

/**
 * Writes the state again with new `lines` ([index, the line as checked, its new text]) and
 * header; false (nothing written) when the file is no longer the state that was checked.
 */
export async function rewriteState(
  dir: string,
  key: unknown,
  header: Omit<StateHeader, 'v' | 'key'>,
  lines: [number, string, string][],
): Promise<boolean> {
  const mac = macKey(dir, false);
  if (!mac) return false;
  const args = [statePath(dir, key), mac.toString('hex'), headerLine(key, header), ...lines.flat().map(String)];
  return 'ok' in JSON.parse((await callAsync('bomStateRewrite', args)) as string);
}

/** A line with its paths written out whole (not after a neighbour's), to be stat'ed alone. */
export function standalone(line: string, src: string, inner: string): string {
  const f = line.split('\t');
  f[1] = `0|${src}`;
  f[2] = `0|${inner}`;
  return f.join('\t');
}

/** A plain absolute path inside the image: no empty, "." or ".." component. */
function plainInner(p: string): boolean {
  if (p === '/') return true;
  if (!p.startsWith('/') || p.endsWith('/')) return false;
  return !p
    .slice(1)
    .split('/')
    .some((c) => c === '' || c === '.' || c === '..');
}

export interface StateLine {
  follow: string;
  src: string;
  inner: string;
  kind: string;
  policy: string;
  entry?: PlanEntry;
}

/** One line's fields (its paths decoded), checked; null for a forged or corrupt one. */
export function parseLine(line: string, src: string, inner: string, locs: Loc[]): StateLine | null {
  const f = line.split('\t');
  if (f.length !== 10) return null;
  const [follow, , , , , kind, why, policy, loc, target] = f as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const out: StateLine = { follow, src, inner, kind, policy };
  if (!['S', 'L', '-'].includes(follow) || (follow === '-') !== (src === '')) return null;
  if (src !== '' && !src.startsWith('/')) return null;
  if (kind === 'p') return inner === '' && follow !== '-' ? out : null;
  if (kind === 'q') return plainInner(inner) && inner !== '/' ? out : null;
  if (kind !== 'f' && kind !== 'd' && kind !== 'l') return null;
  if (!plainInner(inner) || !WHYS.includes(why as EntryWhy)) return null;
  if (kind === 'f' ? !['a', 'n', 'p'].includes(policy) || !src : policy !== '-') return null;
  if (kind === 'l' && target === '') return null;
  const li = loc === '-' ? undefined : Number(loc);
  if (li !== undefined && !(Number.isInteger(li) && li >= 0 && li < locs.length)) return null;
  out.entry = {
    kind: kind === 'f' ? 'file' : kind === 'd' ? 'dir' : 'link',
    inner,
    why: why as EntryWhy,
    ...(src ? { src } : {}),
    ...(kind === 'l' ? { target } : {}),
    ...(li !== undefined ? { loc: locs[li] } : {}),
  };
  return out;
}

/** Every line (paths decoded in order), or null when one is malformed. */
export function parseLines(text: string, locs: Loc[]): StateLine[] | null {
  const out: StateLine[] = [];
  const decode = decoder();
  for (const l of text.split('\n')) {
    const a = l.indexOf('\t');
    const b = l.indexOf('\t', a + 1);
    const c = l.indexOf('\t', b + 1);
    const src = a < 0 || b < 0 ? null : decode('src', l.slice(a + 1, b));
    const inner = c < 0 ? null : decode('inner', l.slice(b + 1, c));
    const line = src === null || inner === null ? null : parseLine(l, src, inner, locs);
    if (!line) return null;
    out.push(line);
  }
  return out;
}
