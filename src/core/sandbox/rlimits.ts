// Occlum.json limits → host rlimits (soft limits only: Occlum lets programs raise them with
// prlimit, docs/occlum_configuration.md). What cannot be mapped is listed in docs/backends.md.
import type { RuntimeConfig } from './runtime-config.ts';

export interface Rlimits {
  /** RLIMIT_STACK ← process.default_stack_size (main-thread stack of every process). */
  stack?: number;
  /** RLIMIT_AS ← resource_limits.user_space_max_size || user_space_size (all user memory). */
  as?: number;
}

export function rlimitsFor(cfg: RuntimeConfig): Rlimits {
  const r: Rlimits = {};
  if (cfg.process.stackSize) r.stack = cfg.process.stackSize;
  if (cfg.limits.userSpace) r.as = cfg.limits.userSpace;
  return r;
}

/** prlimit(1) arguments setting the soft limits. */
export function prlimitArgs(r: Rlimits): string[] {
  const a: string[] = [];
  if (r.as) a.push(`--as=${r.as}:`);
  if (r.stack) a.push(`--stack=${r.stack}:`);
  return a;
}

/**
 * Limits of a sizing run (`size`): none from the config, so the program shows what it needs;
 * the stack soft limit is raised so deep recursion is measured rather than cut off.
 */
export const MEASURE_RLIMITS: Rlimits = { stack: 1024 ** 3 };
