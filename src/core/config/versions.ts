// Occlum versions whose Occlum.json rules differ (spec 2.7), and detection of the version a
// config was written for from its shape.
import type { Node } from 'jsonc-parser';
import { findNodeAtLocation } from 'jsonc-parser';

/** Rule buckets, oldest first. A released version maps to the newest bucket not after it. */
export const VERSION_IDS = [
  '0.12',
  '0.12.1',
  '0.13',
  '0.15',
  '0.17',
  '0.21',
  '0.23',
  '0.24',
  '0.26.0',
  '0.26.3',
  '0.28',
  '0.29.0',
  '0.29.4',
  '0.29.5',
  '0.29.6',
  '0.29.7',
  '0.30.0',
  '0.30.1',
  '0.31.0',
] as const;
export type VersionId = (typeof VERSION_IDS)[number];
export const LATEST: VersionId = '0.31.0';
/** The oldest Occlum release the rules cover: the corpus of every Occlum*.json at every tag from here on. */
export const OLDEST_SUPPORTED = '0.10.0';
/**
 * The supported Occlum versions, stated once: messages, `--version` and the README say exactly
 * this. A later patch release of the newest minor gets the newest rules.
 */
export const SUPPORTED_OCCLUM = `Occlum ${OLDEST_SUPPORTED} to ${LATEST.replace(/\.\d+$/, '.x')}`;

/** What changed in each bucket (spec 2.7), shown in docs and detection reasons. */
export const VERSION_NOTES: Record<VersionId, string> = {
  '0.12':
    '≤ 0.12.0: top-level vm.user_space_size, env as a plain list, no resource_limits/metadata; the build ignores the mount section (fixed mounts)',
  '0.12.1': '0.12.1 – 0.12.2: env becomes {default, untrusted} (both lists required)',
  '0.13':
    '0.13 – 0.14: resource_limits, metadata and env {default, untrusted}; root still a plain SEFS image (integrity_only)',
  '0.15':
    '0.15 – 0.16: the template has a root unionfs with an integrity_only image layer (./image); the build ignores the mount section (fixed mounts)',
  '0.17': '0.17 – 0.20: gen_internal_conf; mount is required but still ignored (fixed mounts)',
  '0.21': 'encrypted image: image layer ./build/mount/__ROOT with options.MAC; integrity_only removed',
  '0.23': '/tmp temporary SEFS mount dropped from the template (0.23.6)',
  '0.24': 'no config changes',
  '0.26.0': 'no config changes',
  '0.26.3': 'metadata.enable_kss, family_id, ext_prod_id added and required',
  '0.28': 'metadata.pkru added (required in 0.28.x)',
  '0.29.0': 'metadata.pkru optional',
  '0.29.4': 'resource_limits.kernel_space_heap_max_size',
  '0.29.5': 'SEFS mount option cache_size',
  '0.29.6': '/proc and /dev mounted automatically',
  '0.29.7': 'template no longer lists /proc and /dev',
  '0.30.0': 'user_space_max_size, init_num_of_threads (EDMM), metadata.amx',
  '0.30.1':
    'required `feature` section {amx, pkru, enable_edmm, enable_posix_shm}; metadata.pkru/amx no longer read; metadata.disable_log',
  '0.31.0': 'feature.io_uring; ext2 mounts with disk_size; build-time cache_size/disk_size checks',
};

export function versionIndex(v: VersionId): number {
  return VERSION_IDS.indexOf(v);
}

export function atLeast(v: VersionId, min: VersionId): boolean {
  return versionIndex(v) >= versionIndex(min);
}

/** Inclusive range test; `until` is the last bucket in which something holds. */
export function inRange(v: VersionId, since?: VersionId, until?: VersionId): boolean {
  const i = versionIndex(v);
  return (since === undefined || i >= versionIndex(since)) && (until === undefined || i <= versionIndex(until));
}

function tuple(id: string): number[] {
  return id.split('.').map(Number);
}

function cmp(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Maps what a user typed ("0.30", "v0.26.4", "0.31.0", "latest") to a rule bucket.
 * "0.29" means the newest 0.29.x. Returns an error text for versions we have no rules for.
 */
export function resolveVersion(input: string): { ok: true; id: VersionId } | { ok: false; message: string } {
  const s = input.trim().replace(/^v/i, '');
  if (s === 'latest') return { ok: true, id: LATEST };
  if (!/^\d+\.\d+(\.\d+)?$/.test(s)) {
    return { ok: false, message: `"${input}" is not an Occlum version (expected e.g. 0.31.0, 0.30.1, 0.29)` };
  }
  const t = tuple(s);
  // "0.29" → newest 0.29.x bucket.
  const probe = t.length === 2 ? [t[0]!, t[1]!, 999] : t;
  if (cmp(probe, tuple(OLDEST_SUPPORTED)) < 0 || cmp(t.slice(0, 2), tuple(LATEST).slice(0, 2)) > 0) {
    const yaml = t[0]! >= 1 ? ' (1.x previews use Occlum.yaml, not Occlum.json)' : '';
    return { ok: false, message: `no rules for Occlum ${input}: supported are ${SUPPORTED_OCCLUM}${yaml}` };
  }
  let best: VersionId = VERSION_IDS[0];
  for (const id of VERSION_IDS) if (cmp(tuple(id), probe) <= 0) best = id;
  return { ok: true, id: best };
}

export interface Detection {
  version: VersionId;
  /** Human-readable range the shape fits, e.g. "0.28 – 0.30.0". */
  range: string;
  reasons: string[];
  /** The evidence contradicts itself (e.g. a feature section and metadata.pkru). */
  mixed: boolean;
  /** The oldest bucket the shape fits (the range's lower end). */
  oldest?: VersionId;
}

const LAST_OF: Partial<Record<VersionId, string>> = {
  '0.12': '0.12.0',
  '0.12.1': '0.12.2',
  '0.13': '0.14.x',
  '0.15': '0.16.x',
  '0.17': '0.20.x',
  '0.26.0': '0.26.2',
  '0.29.0': '0.29.3',
  '0.30.0': '0.30.0',
  '0.29.7': '0.29.7',
};

/** Guesses which Occlum version a config was written for, from keys only present in some. */
export function detectVersion(root: Node | undefined): Detection {
  let lo = 0;
  let hi = VERSION_IDS.length - 1;
  const evidence: { kind: 'min' | 'max'; index: number; text: string }[] = [];
  let mixed = false;
  const has = (...path: (string | number)[]) => (root ? findNodeAtLocation(root, path) !== undefined : false);
  const min = (id: VersionId, why: string) => {
    evidence.push({ kind: 'min', index: versionIndex(id), text: `${why} → ≥ ${id}` });
    lo = Math.max(lo, versionIndex(id));
  };
  const max = (id: VersionId, why: string) => {
    evidence.push({ kind: 'max', index: versionIndex(id), text: `${why} → ≤ ${LAST_OF[id] ?? id}` });
    hi = Math.min(hi, versionIndex(id));
  };

  const mounts = root ? findNodeAtLocation(root, ['mount']) : undefined;
  const allMounts: Node[] = [];
  const collect = (arr: Node | undefined) => {
    if (arr?.type !== 'array') return;
    for (const m of arr.children ?? []) {
      if (m.type !== 'object') continue;
      allMounts.push(m);
      collect(findNodeAtLocation(m, ['options', 'layers']));
    }
  };
  collect(mounts);
  const mountStr = (m: Node, key: string) => findNodeAtLocation(m, [key])?.value;
  const mountOpt = (m: Node, key: string) => findNodeAtLocation(m, ['options', key]) !== undefined;

  if (has('feature', 'io_uring')) min('0.31.0', 'feature.io_uring');
  if (allMounts.some((m) => mountStr(m, 'type') === 'ext2')) min('0.31.0', 'an ext2 mount');
  if (has('feature')) min('0.30.1', 'a feature section');
  if (has('metadata', 'disable_log')) min('0.30.1', 'metadata.disable_log');
  if (has('metadata', 'amx')) min('0.30.0', 'metadata.amx');
  if (has('resource_limits', 'user_space_max_size')) min('0.30.0', 'resource_limits.user_space_max_size');
  if (has('resource_limits', 'init_num_of_threads')) min('0.30.0', 'resource_limits.init_num_of_threads');
  if (allMounts.some((m) => mountOpt(m, 'cache_size'))) min('0.29.5', 'a SEFS cache_size option');
  if (has('resource_limits', 'kernel_space_heap_max_size')) min('0.29.4', 'resource_limits.kernel_space_heap_max_size');
  if (has('metadata', 'pkru')) min('0.28', 'metadata.pkru');
  if (has('metadata', 'enable_kss') || has('metadata', 'family_id') || has('metadata', 'ext_prod_id'))
    min('0.26.3', 'KSS keys in metadata');
  // Only the root's image layer: ≤ 0.20 configs also gave MACs to plain integrity-only SEFS mounts.
  const rootLayers = (mounts?.type === 'array' ? (mounts.children ?? []) : [])
    .filter((m) => m.type === 'object' && mountStr(m, 'target') === '/')
    .flatMap((m) => findNodeAtLocation(m, ['options', 'layers'])?.children ?? []);
  if (rootLayers.some((m) => m.type === 'object' && mountOpt(m, 'MAC'))) min('0.21', 'an image layer with options.MAC');

  if (has('metadata', 'pkru')) max('0.30.0', 'metadata.pkru (no longer read since 0.30.1)');
  if (has('metadata', 'amx')) max('0.30.0', 'metadata.amx (no longer read since 0.30.1)');
  if (has('vm')) max('0.17', 'top-level vm section');
  if (root?.type === 'object' && has('vm') && !has('resource_limits') && !has('metadata'))
    if (!has('env')) max('0.12', 'vm without env: a config older than Occlum 0.5');
    else if (!has('entry_points')) max('0.12', 'vm without entry_points: an Occlum 0.5 – 0.6 config');
    else max('0.12.1', 'vm without resource_limits / metadata');
  const env = root ? findNodeAtLocation(root, ['env']) : undefined;
  if (env?.type === 'array') max('0.12', 'env is a plain list');
  if (env?.type === 'object') min('0.12.1', 'env is {default, untrusted}');
  const rootMount =
    mounts?.type === 'array'
      ? mounts.children?.find((m) => m.type === 'object' && mountStr(m, 'target') === '/')
      : undefined;
  if (rootMount && mountStr(rootMount, 'type') === 'sefs') max('0.13', 'the root mount is a plain SEFS (no unionfs)');
  if (has('resource_limits') || has('metadata')) min('0.13', 'resource_limits / metadata sections');
  if (allMounts.some((m) => mountOpt(m, 'integrity_only'))) max('0.17', 'SEFS option integrity_only');
  if (root?.type === 'object' && !has('feature') && has('metadata'))
    max('0.30.0', 'no feature section (required since 0.30.1)');
  if (root?.type === 'object' && has('metadata') && !has('metadata', 'enable_kss'))
    max('0.26.0', 'no metadata.enable_kss (required since 0.26.3)');

  // Only the decisive evidence explains the result: what set the lower and the upper bound.
  const reasons = evidence.filter((e) => (e.kind === 'min' ? e.index === lo : e.index === hi)).map((e) => e.text);
  if (lo > hi) {
    // Contradictory evidence (e.g. a feature section next to legacy metadata.pkru): the newest
    // evidence wins; the old keys are reported as legacy.
    mixed = true;
    hi = lo;
  }
  // Without a lower bound from evidence, the shape fits everything up to `hi`: pick the newest.
  const version = VERSION_IDS[hi]!;
  const range = lo === hi ? (LAST_OF[version] ?? version) : `${VERSION_IDS[lo]} – ${LAST_OF[version] ?? version}`;
  if (reasons.length === 0) reasons.push('no version-specific keys: current shape');
  return { version, range, reasons, mixed, oldest: VERSION_IDS[lo]! };
}
