// The check before every run, exec and start: through this process's guard of the build when it
// has one that can vouch for the build (guard.ts: only what changed since the last verified
// state is looked at), else the full check (verify.ts), after which a guard is set up so the
// next check is cheap. `full` (--full-verify) always takes the full check.
import { resolve } from 'node:path';
import type { InstancePaths } from '../../instance/layout.ts';
import { BuildGuard, GuardUnavailable, type GuardNotice } from './guard.ts';
import { configuredImageMac, verifyBuild, verifyPackedImage, walkSecureImage } from './verify.ts';

export interface RunVerification {
  ok: boolean;
  problems: string[];
  sysText: string | null;
  /** Time of the config and image-layer checks, and of the secure image's. */
  layerMs: number;
  secureMs: number;
  /** Checked through the guard: only what changed since the last verified state. */
  incremental: boolean;
  /** Bytes of the image layer re-hashed. */
  hashedBytes: number;
  secure: { checked: boolean; stamped?: boolean; unchecked?: string };
  /**
   * The full check ran and no guard could be armed after it: every run is checked in full (and
   * every in-place build reads the manifest) until one can. `first`: the first time this process
   * saw this reason for this instance (it is logged once).
   */
  guard?: GuardNotice & { first: boolean };
}

/** Per instance: why its runs are checked in full (the last attempt to arm a guard failed). */
const notices = new Map<string, GuardNotice>();
/** Reasons already reported (instance dir + reason). */
const reported = new Set<string>();

/** Why this process checks the instance's runs in full; null when a guard is armed (or none was tried). */
export function guardNotice(p: InstancePaths): GuardNotice | null {
  return notices.get(resolve(p.dir)) ?? null;
}

/** One guard per instance directory, in this process; the few most recent (each holds watches). */
const guards = new Map<string, BuildGuard>();
const MAX_GUARDS = 4;

export function guardOf(p: InstancePaths): BuildGuard | undefined {
  return guards.get(resolve(p.dir));
}

/** Forgets the last verified state (a build this process could not follow, a failed check). */
export function dropGuard(p: InstancePaths): void {
  const key = resolve(p.dir);
  guards.get(key)?.close();
  guards.delete(key);
}

function keepGuard(p: InstancePaths, g: BuildGuard): void {
  guards.set(resolve(p.dir), g);
  for (const [key, old] of guards) {
    if (guards.size <= MAX_GUARDS) break;
    old.close();
    guards.delete(key);
  }
}

export async function verifyForRun(p: InstancePaths, full = false): Promise<RunVerification> {
  const t0 = performance.now();
  const g = guardOf(p);
  if (g && !full) {
    let r;
    try {
      r = await g.check((mac) => walkSecureImage(p, mac));
    } catch {
      r = null; // a tree that cannot be read: the full check says what is wrong
    }
    if (r) {
      const ms = performance.now() - t0;
      if (!r.ok) dropGuard(p);
      return {
        ok: r.ok,
        problems: r.problems,
        sysText: r.ok ? r.sysText : null,
        layerMs: ms,
        secureMs: 0,
        incremental: true,
        hashedBytes: r.hashedBytes,
        secure: { checked: true, stamped: !r.secureWalked },
      };
    }
  }
  dropGuard(p);
  // Stat'ed before they are read, so that a change before the guard's watches shows (establish).
  let meta: Map<string, string> | null = null;
  try {
    meta = BuildGuard.metaKeys(p);
  } catch {
    /* the full check reports what is missing */
  }
  const v = verifyBuild(p, full);
  const t1 = performance.now();
  const fail = (problems: string[], secureMs = 0): RunVerification => ({
    ok: false,
    problems,
    sysText: null,
    layerMs: t1 - t0,
    secureMs,
    incremental: false,
    hashedBytes: v.hashedBytes ?? 0,
    secure: { checked: false },
  });
  if (!v.ok) return fail(v.problems);
  const img = await verifyPackedImage(p, v.sysText!, full);
  if (!img.ok) return fail(img.problems, img.ms);
  let notice: RunVerification['guard'];
  if (meta && v.manifest && v.keys && (img.files || !img.checked) && !img.unchecked) {
    let guard: BuildGuard | null = null;
    const key = resolve(p.dir);
    try {
      guard = BuildGuard.open(p);
      guard.establish({
        meta,
        layer: v.keys,
        secure: img.checked ? img.files! : null,
        manifest: v.manifest,
        sysText: v.sysText!,
        imageMac: configuredImageMac(v.sysText!),
      });
      keepGuard(p, guard);
      notices.delete(key);
    } catch (err) {
      guard?.close();
      if (!(err instanceof GuardUnavailable)) throw err;
      // e.g. the watch limit: every run checks in full; said once, and shown while it lasts
      notices.set(key, err.notice);
      const first = !reported.has(`${key}\0${err.notice.reason}`);
      reported.add(`${key}\0${err.notice.reason}`);
      notice = { ...err.notice, first };
    }
  }
  return {
    ...(notice ? { guard: notice } : {}),
    ok: true,
    problems: [],
    sysText: v.sysText,
    layerMs: t1 - t0,
    secureMs: img.ms,
    incremental: false,
    hashedBytes: v.hashedBytes ?? 0,
    secure: { checked: img.checked, stamped: img.stamped, unchecked: img.unchecked },
  };
}
