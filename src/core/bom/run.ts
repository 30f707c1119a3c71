// One bom copy as the CLI and the dev loop run it: the include dirs and loader config defaults
// (Occlum's template when installed, else the studio's own), the plan, then the copy unless the
// plan has errors. Also the check-only path (`bom check`): structure, includes, variables.
import { existsSync, statSync } from 'node:fs';
import { stopwatch, type StageTimes } from '../backend/host/timing.ts';
import { findDeps, interpOf } from './autodep.ts';
import { applyPlan, finalEntries, type CopyResult } from './copy.ts';
import { expandEnv, type Env } from './env.ts';
import { loadBoms } from './includes.ts';
import { defaultLoaderConfig, occlumTemplateDir, studioTemplateDir, type LoaderConfig } from './loader-config.ts';
import { real } from './paths.ts';
import { bomWatchPaths } from './watch-paths.ts';
import { planBom, type BomPlan, type PlanEntry } from './plan.ts';
import { nativeStatus } from '../securefs/native.ts';
import { privateDir } from '../instance/private-dir.ts';
import { dropState, stateDir, type StateLines } from './state.ts';
import { copyFromState, envRecorder, linesOf, recordAfter, sourcesBefore } from './state-copy.ts';
import type { BomIssue, Loc } from './types.ts';

export interface BomRunOptions {
  file: string;
  root: string;
  includeDirs?: string[];
  dryRun?: boolean;
  cwd?: string;
  env?: Env;
  loaderConfig?: LoaderConfig | null;
  /**
   * The only source paths that changed since this process last copied the same bom (a watcher
   * knows them). Files already in the last plan whose content changed are then re-copied without
   * re-reading every source; anything else (a bom, a new or removed file, a program whose
   * libraries changed) makes a full copy.
   */
  changed?: string[];
  /** Where copy states are kept (default: the user's cache dir, state.ts); false: none. */
  stateDir?: string | false;
}

export interface BomRun {
  plan: BomPlan;
  /** Null when the plan has errors (nothing was written). */
  copy: CopyResult | null;
  includeDirs: string[];
  ok: boolean;
  /** Whether the saved state of the last copy replaced the plan, and if not, why. */
  state?: { used: boolean; note: string };
}

/** The -i dirs as given; with none and no Occlum install, the studio's template dir. */
export function effectiveIncludeDirs(given: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  if (given.length > 0 || occlumTemplateDir(env)) return given;
  const own = studioTemplateDir();
  return own && existsSync(own) ? [own] : [];
}

/** The last full plan of each bom copied in this process (for hinted re-copies). */
interface LastPlan {
  plan: BomPlan;
  /** The final file entries of each of these source paths. */
  entriesOf: (paths: string[]) => Promise<Map<string, PlanEntry[]>>;
  /** Directories copied whole: any path below them may add a file. */
  dirs: () => string[];
  strays: string[];
}
const lastPlans = new Map<string, LastPlan>();

/** Wall time per stage of the last bom copy in this process (the bench prints it). */
export const lastBomTimes: StageTimes = {};

export async function runBomCopy(o: BomRunOptions): Promise<BomRun> {
  const env = o.env ?? process.env;
  const mark = stopwatch(lastBomTimes);
  const includeDirs = effectiveIncludeDirs(o.includeDirs ?? [], env);
  const cwd = o.cwd ?? process.cwd();
  const loaderConfig = o.loaderConfig === undefined ? defaultLoaderConfig(env) : o.loaderConfig;
  const key = JSON.stringify([real(cwd, o.file), real(cwd, o.root), includeDirs, cwd, loaderConfig?.source ?? null]);
  if (o.changed && !o.dryRun) {
    const hinted = await hintedCopy(lastPlans.get(key), o.changed, loaderConfig, mark);
    if (hinted) return { ...hinted, includeDirs };
  }
  lastPlans.delete(key);
  const sdir = o.dryRun || !nativeStatus().ok || o.stateDir === false ? null : (o.stateDir ?? stateDir(process.env));
  const skey = [
    real(cwd, o.file),
    real(cwd, o.root),
    includeDirs,
    cwd,
    loaderConfig?.source ?? null,
    process.geteuid?.(),
  ];
  // Another user who can change the state dir could plant links and FIFOs in it (docs/security.md).
  const own = sdir ? privateDir(sdir) : null;
  const target = own && 'dir' in own ? { dir: own.dir, key: skey } : null;
  let state = { used: false, note: o.dryRun ? 'a dry run reads and writes no state' : 'no state kept' };
  if (own && 'refused' in own) {
    state.note = `the state dir ${own.refused}; no state kept (fix: set XDG_CACHE_HOME to a directory of your own)`;
  }
  if (target) {
    const fast = await copyFromState(target, real(cwd, o.root), env, mark);
    if (typeof fast !== 'string') {
      if (fast.ok) remember(key, fast.plan, fast.copy.strays, o, includeDirs, cwd, env, fast.entriesOf);
      const { plan, copy, ok } = fast;
      return { plan, copy, ok, includeDirs, state: { used: true, note: 'checked against the saved state' } };
    }
    state = { used: false, note: fast };
  }
  const seen = envRecorder(env);
  const plan = await planBom({
    file: o.file,
    root: o.root,
    includeDirs,
    cwd,
    env: seen.env,
    loaderConfig,
    mark,
  });
  if (plan.issues.some((i) => i.severity === 'error')) {
    if (target) dropState(target.dir, target.key);
    return { plan, copy: null, includeDirs, ok: false, state };
  }
  const locs: Loc[] = [];
  const ids = target ? await sourcesBefore(plan, loaderConfig?.source ?? null) : null;
  mark('state src');
  let lines = null as StateLines | null;
  const copy = await applyPlan(plan, {
    dryRun: !!o.dryRun,
    mark,
    whileCopying: ids ? () => void (lines = linesOf(plan, loaderConfig?.source ?? null, ids, locs)) : undefined,
  });
  const ok = !copy.issues.some((i) => i.severity === 'error');
  if (target) {
    if (ok && lines && copy.issues.length === 0) {
      await recordAfter(target, plan, copy, lines, locs, seen.used, mark);
      state = { ...state, note: `${state.note}; saved a new one` };
    } else {
      dropState(target.dir, target.key);
      state = { ...state, note: `${state.note}; ${plan.noState ?? 'the copy had errors or warnings'}: none saved` };
    }
    mark('state save');
  }
  if (ok && !o.dryRun) remember(key, plan, copy.strays, o, includeDirs, cwd, env);
  mark('remember');
  return { plan, copy, includeDirs, ok, state };
}

/** Keeps the plan for hinted re-copies; what they look up is computed when one asks. */
function remember(
  key: string,
  plan: BomPlan,
  strays: string[],
  o: BomRunOptions,
  includeDirs: string[],
  cwd: string,
  env: Env,
  entriesOf?: LastPlan['entriesOf'],
): void {
  let bySrc: Map<string, PlanEntry[]> | undefined;
  let dirs: string[] | undefined;
  lastPlans.set(key, {
    plan,
    entriesOf:
      entriesOf ??
      (async () => {
        if (bySrc) return bySrc;
        bySrc = new Map();
        for (const e of finalEntries(plan))
          if (e.kind === 'file' && e.src) bySrc.set(e.src, [...(bySrc.get(e.src) ?? []), e]);
        return bySrc;
      }),
    dirs: () => (dirs ??= bomWatchPaths(o.file, o.root, includeDirs, cwd, env).dirs),
    strays,
  });
}

/** The re-copy of changed files a hint allows, or null when only a full copy is safe. */
async function hintedCopy(
  last: LastPlan | undefined,
  changed: string[],
  loaderConfig: LoaderConfig | null,
  mark: (stage: string) => void,
): Promise<Omit<BomRun, 'includeDirs'> | null> {
  if (!last) return null;
  const only: PlanEntry[] = [];
  let bySrc: Map<string, PlanEntry[]>;
  try {
    bySrc = await last.entriesOf(changed);
  } catch {
    return null; // the saved state it reads is gone or replaced: a full copy decides
  }
  for (const path of changed) {
    if (last.plan.boms.includes(path)) return null;
    const entries = bySrc.get(path);
    const inDir = last.dirs().some((d) => path === d || path.startsWith(`${d}/`));
    if (!entries && !inDir) continue; // not a source of this bom (e.g. the C file a prebuild compiles)
    let st;
    try {
      st = statSync(path);
    } catch {
      return null;
    }
    if (!entries || !st.isFile()) return null;
    // A program's libraries may change with it: a files entry's program keeps its place only
    // with the same loader and libraries; a program inside a copied dir takes a full copy.
    const before = last.plan.libraries.find((l) => l.file === path);
    if (before || interpOf(path)) {
      if (!before || before.from === 'dirs') return null;
      const deps = await findDeps(path, before.interp, loaderConfig);
      const same =
        deps.objects.length === before.libs.length &&
        deps.objects.every((x, i) => x.src === before.libs[i]!.src && x.inner === before.libs[i]!.inner);
      if (deps.missing.length > 0 || !same) return null;
    }
    // The entries keep their places; the source's attributes are read again.
    for (const e of entries) only.push({ ...e, stat: st });
  }
  mark('hint');
  const copy = await applyPlan(last.plan, { dryRun: false, only, strays: last.strays, mark });
  const ok = !copy.issues.some((i) => i.severity === 'error');
  return { plan: last.plan, copy, ok };
}

/** `bom check`: the bom and its includes parse and fit copy_bom's structure; variables are set. */
export function checkBom(
  file: string,
  includeDirsGiven: string[],
  cwd = process.cwd(),
  env: Env = process.env,
): { boms: string[]; issues: BomIssue[] } {
  const loaded = loadBoms(file, effectiveIncludeDirs(includeDirsGiven), cwd);
  const issues = [...loaded.issues];
  for (const doc of loaded.docs) {
    const strs = [
      ...doc.targets.flatMap((t) => [t.target, ...t.mkdirs, ...t.createlinks.flatMap((l) => [l.src, l.linkname])]),
      ...doc.targets.flatMap((t) =>
        t.copy.flatMap((s) => [
          ...(s.from ? [s.from] : []),
          ...(s.dirs ?? []),
          ...(s.files ?? []).flatMap((f) => [f.name, ...(f.rename ? [f.rename] : [])]),
        ]),
      ),
    ];
    // copy_bom joins these to the target as paths: an absolute one replaces the target (a host path).
    const joined = doc.targets.flatMap((t) => [
      ...t.mkdirs.map((v) => ['mkdirs', v] as const),
      ...t.createlinks.map((l) => ['linkname', l.linkname] as const),
      ...t.copy.flatMap((s) => (s.files ?? []).flatMap((f) => (f.rename ? [['rename', f.rename] as const] : []))),
    ]);
    for (const [what, s] of joined) {
      const r = expandEnv(s.value, env);
      const v = r.ok ? r.value : s.value;
      if (v.startsWith('/'))
        issues.push({
          severity: 'warning',
          loc: s.loc,
          message:
            `${what} "${s.value}" is an absolute path, which copy_bom's path join puts in place of the target: ` +
            `it names ${v} on the host, not in the image (\`bom copy\` refuses it); write it relative to the target ` +
            `("${v.replace(/^\/+/, '')}")`,
        });
    }
    for (const s of strs) {
      const r = expandEnv(s.value, env);
      // A warning here: like a source, a variable is the copy's environment (build scripts export
      // it just before copy_bom), not the bom's; `bom copy` stops on it.
      if (!r.ok)
        issues.push({
          severity: 'warning',
          loc: s.loc,
          message:
            `"${s.value}" uses ${r.missing.map((m) => `$${m}`).join(', ')}, which ${r.missing.length > 1 ? 'are' : 'is'} ` +
            `not set here; export ${r.missing[0]}=… before \`bom copy\``,
        });
    }
  }
  return { boms: loaded.docs.map((d) => d.path), issues };
}
