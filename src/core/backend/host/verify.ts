// Before every run: the protected config must match the pin made at build, the manifest must
// match the config, and the image layer must match the manifest (spec: Occlum checks the
// config MAC inside the enclave and the image MAC chain when mounting). Costs are reported
// separately from the launch (bench: test/bench/run.bench.ts).
import { existsSync } from 'node:fs';
import { writeFileAtomic } from '../../instance/atomic.ts';
import type { InstancePaths } from '../../instance/layout.ts';
import { createHash } from 'node:crypto';
import { checkManifest, statTree, statTreeAsync, type StatCache } from './manifest.ts';
import {
  dropDelta,
  manifestState,
  readManifestTexts,
  readSecureStamp,
  readStatCache,
  secureCacheDelta,
  statCacheDelta,
  type ManifestState,
} from './deltas.ts';
import { macString } from './pin.ts';
import { decodeIntegrityOnly } from './protected-file.ts';
import { verifySecureImage } from './pack.ts';
import { hostImageKeyFile } from './fs-view.ts';
import type { VerifyOutcome } from '../types.ts';
import type { VerifyReport } from '../../securefs/types.ts';
import { MAX_CONFIG_BYTES, MAX_SMALL_FILE_BYTES, readFileSafe, readGeneratedText } from '../../instance/safe-read.ts';
import { NativeUnavailableError } from '../../securefs/native.ts';

export interface VerifiedBuild extends VerifyOutcome {
  /** The verified internal config text (what the run uses; Occlum.json edits need a rebuild). */
  sysText: string | null;
  hashedBytes?: number;
  /** What the check relied on: the manifest and every image-layer entry's stat key. */
  manifest?: ManifestState;
  keys?: Map<string, string>;
}

export function verifyBuild(p: InstancePaths, full = false): VerifiedBuild {
  const problems: string[] = [];
  const t0 = performance.now();
  const out = (ok: boolean, sysText: string | null, imageMs = 0): VerifiedBuild => ({
    ok,
    problems,
    configMs: performance.now() - t0 - imageMs,
    imageMs,
    sysText,
  });
  let pin: string;
  let sysText: string;
  try {
    pin = readGeneratedText(p.hostPin, 'the config pin', MAX_SMALL_FILE_BYTES).trim();
  } catch {
    problems.push(`the build has no config pin (${p.hostPin}); run build again`);
    return out(false, null);
  }
  let protectedBytes: Buffer;
  try {
    protectedBytes = readFileSafe(p.sysJsonProtected, { what: 'the protected config', maxBytes: MAX_CONFIG_BYTES });
  } catch {
    problems.push(`the protected config ${p.sysJsonProtected} is missing; run build again`);
    return out(false, null);
  }
  let mac: string;
  try {
    const decoded = decodeIntegrityOnly(protectedBytes, '.Occlum_sys.json.protected');
    sysText = decoded.data.toString('utf8');
    mac = decoded.mac;
  } catch (err) {
    problems.push(
      `the protected config build/.Occlum_sys.json.protected was modified after the build: ${(err as Error).message} (Occlum refuses such an enclave at boot); run build again`,
    );
    return out(false, null);
  }
  if (mac !== pin) {
    problems.push(
      `the protected config build/.Occlum_sys.json.protected was modified after the build: its MAC ${mac} does not match ${pin} pinned at build time (Occlum refuses such an enclave at boot); run build again`,
    );
    return out(false, null);
  }
  let host: { manifest_sha256?: string };
  try {
    host = (JSON.parse(sysText) as { host?: { manifest_sha256?: string } }).host ?? {};
  } catch {
    problems.push('the protected config is not valid JSON; run build again');
    return out(false, null);
  }
  const t1 = performance.now();
  let texts: { base: string; delta: string };
  try {
    texts = readManifestTexts(p);
  } catch {
    problems.push(`the image manifest ${p.hostManifest} is missing; run build again`);
    return out(false, null);
  }
  // The pinned MAC covers the manifest's exact bytes: the base, then its delta (deltas.ts).
  const hash = createHash('sha256').update(texts.base).update(texts.delta);
  let manifest: ManifestState | null = null;
  if (macString(hash.copy().digest()) === host.manifest_sha256) {
    try {
      manifest = manifestState(texts.base, texts.delta, hash);
    } catch {
      /* pinned yet unreadable: refused below like a mismatch */
    }
  }
  if (!manifest) {
    problems.push(
      'the image manifest build/host/manifest.json does not match the MAC in the protected config: the image was tampered with; run build again',
    );
    return out(false, null, performance.now() - t1);
  }
  if (!existsSync(p.hostRootfs)) {
    problems.push('the image layer build/host/rootfs is missing; run build again');
    return out(false, null, performance.now() - t1);
  }
  let cache: StatCache = {};
  try {
    cache = readStatCache(p);
  } catch {
    /* first run after a build, or a lost cache: everything gets hashed once */
  }
  const check = checkManifest(p.hostRootfs, { version: 1, entries: [...manifest.entries.values()] }, cache, full);
  if (check.ok && check.cacheChanged) {
    try {
      writeFileAtomic(p.hostStatCache, JSON.stringify(check.cache));
      dropDelta(statCacheDelta(p)); // the base holds it all now
    } catch {
      /* read-only instance: verification still holds, the next run hashes again */
    }
  }
  const imageMs = performance.now() - t1;
  if (!check.ok) {
    problems.push(
      `the image layer does not match the build (tampered or modified in build/host/rootfs): ${check.problems.join('; ')}; run build again`,
    );
    return out(false, null, imageMs);
  }
  return { ...out(true, sysText, imageMs), hashedBytes: check.hashedBytes, manifest, keys: check.keys };
}

/**
 * The secure image's stat cache: the root MAC the build packed and the inode + ctime of every
 * host file of build/mount/__ROOT as the build left it. While every file still has them (ctime
 * cannot be set from user space; a write, chmod, replacement, addition or removal shows), the
 * image is the one the build packed and verified, so a run need not re-read and re-MAC all of
 * it (≈ 55 ms for 200 MB). Like statcache.json it is not pinned: it only lets a check be
 * skipped for files provably untouched since the build; `--full-verify` ignores it.
 */

interface SecureStamp {
  rootMac: string;
  files: Record<string, string>;
}

function secureFiles(root: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const e of statTree(root)) files[e.rel] = e.key;
  return files;
}

/** Written by the build after its last link/unlink of shared inodes (build.ts). */
export async function writeSecureStamp(
  p: InstancePaths,
  rootMac: string,
  pause: () => Promise<void> | undefined,
): Promise<void> {
  const files: Record<string, string> = {};
  // One native stat walk (in the thread pool) instead of an lstat call per file from JS.
  for (const e of await statTreeAsync(p.buildRoot)) {
    files[e.rel] = e.key;
    const w = pause();
    if (w) await w;
  }
  writeFileAtomic(p.hostSecureCache, JSON.stringify({ rootMac, files } satisfies SecureStamp));
  dropDelta(secureCacheDelta(p));
}

/** Whether the stamp holds for `now` (the secure image's files as stat'ed). */
function secureStampHolds(p: InstancePaths, expectedMac: string, now: Record<string, string>): boolean {
  try {
    // ≈ 60 bytes a file: 1.2 MB for 20,000 files (a 1 MB cap sent such images to the full check).
    const stamp: SecureStamp = readSecureStamp(p);
    if (stamp.rootMac !== expectedMac || typeof stamp.files !== 'object' || stamp.files === null) return false;
    const names = Object.keys(now);
    return names.length === Object.keys(stamp.files).length && names.every((n) => stamp.files[n] === now[n]);
  } catch {
    return false; // no stamp, unreadable tree: the full verification decides
  }
}

/** The image MAC the protected config names (the root unionfs image layer's MAC option). */
export function configuredImageMac(sysText: string): string | null {
  try {
    const sys = JSON.parse(sysText) as {
      mount?: { target?: string; options?: { layers?: { options?: { MAC?: unknown } }[] } }[];
    };
    for (const m of sys.mount ?? []) {
      if (m.target !== '/') continue;
      for (const l of m.options?.layers ?? [])
        if (typeof l.options?.MAC === 'string' && l.options.MAC) return l.options.MAC;
    }
  } catch {
    /* checked by verifyBuild */
  }
  return null;
}

/** Walks the whole MAC chain of build/mount/__ROOT up to `expected` (throws without the engine). */
export async function walkSecureImage(
  p: InstancePaths,
  expected: string,
): Promise<{ ok: boolean; problems: string[]; report: VerifyReport }> {
  const report = await verifySecureImage(p.buildRoot, expected, hostImageKeyFile(p.dir));
  const shown = report.problems.slice(0, 5).map((x) => `${x.path}: ${x.message}`);
  const problems = report.ok
    ? []
    : [
        `the secure image build/mount/__ROOT does not match the image MAC ${expected} in the protected config: ${shown.join('; ')}; run build again`,
      ];
  return { ok: report.ok, problems, report };
}

/**
 * Verifies build/mount/__ROOT (Occlum's SEFS image) against the MAC in the verified config, as
 * the LibOS does when it mounts the root: every inode's MAC up to the root MAC.
 */
export async function verifyPackedImage(
  p: InstancePaths,
  sysText: string,
  full = false,
): Promise<{
  ok: boolean;
  problems: string[];
  ms: number;
  checked: boolean;
  report?: VerifyReport;
  stamped?: boolean;
  /** The secure image's files as stat'ed before the check read them (name → stat key). */
  files?: Map<string, string>;
  /** Why the image could not be checked here (no secure-FS engine): not a finding about the build. */
  unchecked?: string;
}> {
  const t0 = performance.now();
  const expected = configuredImageMac(sysText);
  if (!expected) return { ok: true, problems: [], ms: 0, checked: false };
  let now: Record<string, string> | null = null;
  try {
    now = secureFiles(p.buildRoot);
  } catch {
    /* an unreadable tree: the engine says why */
  }
  const files = now ? new Map(Object.entries(now)) : undefined;
  if (!full && now && secureStampHolds(p, expected, now))
    return { ok: true, problems: [], ms: performance.now() - t0, checked: true, stamped: true, files };
  try {
    const { ok, problems, report } = await walkSecureImage(p, expected);
    return { ok, problems, ms: performance.now() - t0, checked: true, report, files };
  } catch (err) {
    const ms = performance.now() - t0;
    if (err instanceof NativeUnavailableError)
      return { ok: true, problems: [], ms, checked: false, unchecked: err.message };
    return {
      ok: false,
      problems: [`cannot verify the secure image build/mount/__ROOT: ${(err as Error).message}; run build again`],
      ms,
      checked: true,
    };
  }
}
