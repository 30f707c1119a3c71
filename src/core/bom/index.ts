// Bom files (Occlum's copy_bom): parse and check, plan, copy into an image root.
export * from './types.ts';
export { parseBom } from './parse.ts';
export { loadBoms, findInclude } from './includes.ts';
export { planBom, sha256File, type BomPlan, type PlanEntry, type LibraryReport, type PlanOptions } from './plan.ts';
export { applyPlan, finalEntries, findStrays, type CopyResult, type CopyAction, type Action } from './copy.ts';
export {
  defaultLoaderConfig,
  parseLoaderConfig,
  studioTemplateDir,
  occlumTemplateDir,
  type LoaderConfig,
} from './loader-config.ts';
export { expandEnv } from './env.ts';
export { runBomCopy, checkBom, effectiveIncludeDirs, type BomRun, type BomRunOptions } from './run.ts';
export { bomSchema } from './schema.ts';
export { bomWatchPaths, type BomWatchPaths } from './watch-paths.ts';
export {
  summarizeBomRun,
  summaryLines,
  type SummaryLine,
  type BomSummary,
  type BomPlanRow,
  type BomLibraries,
} from './summary.ts';
