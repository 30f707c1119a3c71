// One bom copy as the CLI and the dev loop run it: the include dirs and loader config defaults
// (Occlum's template when installed, else the studio's own), the plan, then the copy unless the
// plan has errors. Also the check-only path (`bom check`): structure, includes, variables.
import { existsSync } from 'node:fs';
import { applyPlan, type CopyResult } from './copy.ts';
import { expandEnv, type Env } from './env.ts';
import { loadBoms } from './includes.ts';
import { defaultLoaderConfig, occlumTemplateDir, studioTemplateDir, type LoaderConfig } from './loader-config.ts';
import { planBom, type BomPlan } from './plan.ts';
import type { BomIssue } from './types.ts';

export interface BomRunOptions {
  file: string;
  root: string;
  includeDirs?: string[];
  dryRun?: boolean;
  cwd?: string;
  env?: Env;
  loaderConfig?: LoaderConfig | null;
}

export interface BomRun {
  plan: BomPlan;
  /** Null when the plan has errors (nothing was written). */
  copy: CopyResult | null;
  includeDirs: string[];
  ok: boolean;
}

/** The -i dirs as given; with none and no Occlum install, the studio's template dir. */
export function effectiveIncludeDirs(given: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  if (given.length > 0 || occlumTemplateDir(env)) return given;
  const own = studioTemplateDir();
  return own && existsSync(own) ? [own] : [];
}

export async function runBomCopy(o: BomRunOptions): Promise<BomRun> {
  const env = o.env ?? process.env;
  const includeDirs = effectiveIncludeDirs(o.includeDirs ?? [], env);
  const plan = await planBom({
    file: o.file,
    root: o.root,
    includeDirs,
    cwd: o.cwd ?? process.cwd(),
    env,
    loaderConfig: o.loaderConfig === undefined ? defaultLoaderConfig(env) : o.loaderConfig,
  });
  if (plan.issues.some((i) => i.severity === 'error')) return { plan, copy: null, includeDirs, ok: false };
  const copy = await applyPlan(plan, { dryRun: !!o.dryRun });
  return { plan, copy, includeDirs, ok: !copy.issues.some((i) => i.severity === 'error') };
}

/** `bom check`: the bom and its includes parse and fit copy_bom's structure; variables are set. */
export function checkBom(file: string, includeDirsGiven: string[], cwd = process.cwd(), env: Env = process.env): { boms: string[]; issues: BomIssue[] } {
  const loaded = loadBoms(file, effectiveIncludeDirs(includeDirsGiven), cwd);
  const issues = [...loaded.issues];
  for (const doc of loaded.docs) {
    const strs = [
      ...doc.targets.flatMap((t) => [t.target, ...t.mkdirs, ...t.createlinks.flatMap((l) => [l.src, l.linkname])]),
      ...doc.targets.flatMap((t) => t.copy.flatMap((s) => [...(s.from ? [s.from] : []), ...(s.dirs ?? []), ...(s.files ?? []).flatMap((f) => [f.name, ...(f.rename ? [f.rename] : [])])])),
    ];
    for (const s of strs) {
      const r = expandEnv(s.value, env);
      if (!r.ok) issues.push({ severity: 'error', loc: s.loc, message: `"${s.value}" uses ${r.missing.map((m) => `$${m}`).join(', ')}, which is not set` });
    }
  }
  return { boms: loaded.docs.map((d) => d.path), issues };
}
