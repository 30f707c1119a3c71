// The mount plan as the unprivileged side of a root-started sandbox sees it: every host
// directory it mounts (image layer, run/host, hostfs sources) is an idmapped bind under STAGE,
// a tmpfs the stager mounts in the private namespace, reachable whatever the permissions of
// the directories above the instance (e.g. /root, 0700).
import { realpathSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import type { MountPlan, PlannedMount } from './mounts.ts';

/** Covered by the stager's tmpfs inside the private mount namespace only (the host's is untouched). */
export const STAGE = '/tmp';

export interface StagedPlan {
  plan: MountPlan;
  /** Arguments for the stager after UID GID STAGE: `dir:REL`, `bind:NAME=SOURCE`. */
  stagerArgs: string[];
}

const under = (p: string, dir: string) => p === dir || p.startsWith(dir + '/');

export function stagePlan(plan: MountPlan): StagedPlan {
  const L = plan.layers;
  // upper, work and the sefs dirs live in run/host, staged as one mount: overlayfs needs upper
  // and work on the same mount.
  const runHost = dirname(L.upper);
  for (const d of [L.work, L.sefs]) {
    if (!under(d, runHost)) throw new Error(`sandbox staging: ${d} is not inside ${runHost}`);
  }
  const inRun = (p: string) => join(STAGE, 'run', relative(runHost, p));
  // Canonical paths: the stager resolves them refusing any symlink (one swapped in after the checks).
  const args = [`bind:lower=${realpathSync(L.lower)}`, `bind:run=${realpathSync(runHost)}`, 'dir:merged'];
  let hostfs = 0;
  const staged = new Map<string, string>(); // hostfs source → its staged path
  const mounts = plan.mounts.map((m): PlannedMount => {
    if (m.kind === 'pin') {
      // Inside the hostfs view of the instance it pins (staged before it: mounts are by depth).
      for (const [src, at] of staged)
        if (under(m.source, src)) return { ...m, source: join(at, relative(src, m.source)) };
      throw new Error(`sandbox staging: ${m.source} is not inside a hostfs source`);
    }
    if (m.kind === 'tmpfs') {
      const staging = join(STAGE, 'ramfs', basename(m.staging));
      args.push(`dir:ramfs/${basename(m.staging)}`);
      return { ...m, staging };
    }
    if (m.kind !== 'bind') return m;
    if (under(m.source, runHost)) return { ...m, source: inRun(m.source) };
    const name = `hostfs${hostfs++}`;
    args.push(`bind:${name}=${m.source}`);
    staged.set(m.source, join(STAGE, name));
    return { ...m, source: join(STAGE, name) };
  });
  const layers = {
    ...L,
    lower: join(STAGE, 'lower'),
    upper: inRun(L.upper),
    work: inRun(L.work),
    merged: join(STAGE, 'merged'),
    ramfs: join(STAGE, 'ramfs'),
    sefs: inRun(L.sefs),
  };
  return { plan: { ...plan, layers, mounts }, stagerArgs: args };
}
