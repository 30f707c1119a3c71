// The build's metadata files as a base plus an append-only delta, so that an in-place build
// writes what its change set changed instead of the whole image's metadata (20,000 entries for
// a Python-sized image):
// - build/host/manifest.json + manifest.delta: the delta's lines are entries (or
//   `{"path", "deleted": true}`) applied in order. The protected config pins the MAC of the exact
//   bytes of base ‖ delta (SHA-256 is computed incrementally: the process that keeps the state
//   hashes only the appended lines).
// - statcache.json + statcache.delta, securecache.json + securecache.delta: `[path, key]` lines
//   (key null: gone) and, for the secure image, `{"rootMac"}` lines. Not pinned (caches).
// A delta grows until it is worth a quarter of its base (at least 1 MiB); then the base is
// rewritten whole and the delta removed (compaction).
import { createHash, type Hash } from 'node:crypto';
import { appendFileSync, existsSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import type { InstancePaths } from '../../instance/layout.ts';
import { readGeneratedText } from '../../instance/safe-read.ts';
import type { Manifest, ManifestEntry, StatCache } from './manifest.ts';
import { macString } from './pin.ts';

export const manifestDelta = (p: InstancePaths) => join(p.hostBuild, 'manifest.delta');
export const statCacheDelta = (p: InstancePaths) => join(p.hostBuild, 'statcache.delta');
export const secureCacheDelta = (p: InstancePaths) => join(p.hostBuild, 'securecache.delta');

const MIN_COMPACT = 1 << 20;

/** Whether a delta of `deltaBytes` over a base of `baseBytes` is due for compaction. */
export function compactionDue(baseBytes: number, deltaBytes: number): boolean {
  return deltaBytes > Math.max(MIN_COMPACT, baseBytes / 4);
}

function readOptional(file: string, what: string): string {
  return existsSync(file) ? readGeneratedText(file, what) : '';
}

/** The manifest as its files hold it: the texts (what the MAC covers) and the entries. */
export interface ManifestState {
  entries: Map<string, ManifestEntry>;
  /** SHA-256 state over base ‖ delta (copied before each digest). */
  hash: Hash;
  baseBytes: number;
  deltaBytes: number;
}

export function readManifestTexts(p: InstancePaths): { base: string; delta: string } {
  return {
    base: readGeneratedText(p.hostManifest, 'the image manifest'),
    delta: readOptional(manifestDelta(p), 'the image manifest delta'),
  };
}

/** `hash`: base ‖ delta already hashed (verify.ts checks the MAC before it parses). */
export function manifestState(base: string, delta: string, hash?: Hash): ManifestState {
  const entries = new Map((JSON.parse(base) as Manifest).entries.map((e) => [e.path, e]));
  for (const line of delta.split('\n')) {
    if (!line) continue;
    const e = JSON.parse(line) as ManifestEntry & { deleted?: true };
    if (e.deleted) entries.delete(e.path);
    else entries.set(e.path, e);
  }
  return {
    entries,
    hash: hash ?? createHash('sha256').update(base).update(delta),
    baseBytes: Buffer.byteLength(base),
    deltaBytes: Buffer.byteLength(delta),
  };
}

/** The MAC the protected config pins for this manifest state. */
export function manifestMac(s: ManifestState): string {
  return macString(s.hash.copy().digest());
}

/** The delta lines that take a manifest to `entries` for `paths` (absent: deleted). */
export function manifestLines(
  entries: { get(path: string): ManifestEntry | undefined },
  paths: Iterable<string>,
): string {
  let out = '';
  for (const path of paths) {
    const e = entries.get(path);
    out += JSON.stringify(e ?? { path, deleted: true }) + '\n';
  }
  return out;
}

/**
 * Appends `lines` to the manifest delta as it was `length` bytes long (what was appended by an
 * interrupted attempt is cut first, so a recovery that repeats this is exact).
 */
export function appendManifestDelta(p: InstancePaths, length: number, lines: string): void {
  const file = manifestDelta(p);
  if (existsSync(file)) truncateSync(file, length);
  appendFileSync(file, lines, { mode: 0o644 });
}

/** The stat cache: its base with its delta applied. */
export function readStatCache(p: InstancePaths): StatCache {
  const cache = JSON.parse(readGeneratedText(p.hostStatCache, 'the stat cache')) as StatCache;
  for (const line of readOptional(statCacheDelta(p), 'the stat cache delta').split('\n')) {
    if (!line) continue;
    const [path, key] = JSON.parse(line) as [string, string | null];
    if (key === null) delete cache[path];
    else cache[path] = key;
  }
  return cache;
}

export function appendStatCache(p: InstancePaths, changes: [string, string | null][]): void {
  appendFileSync(statCacheDelta(p), changes.map((c) => JSON.stringify(c) + '\n').join(''), { mode: 0o644 });
}

/** The secure image's stamp (verify.ts): base with its delta applied. */
export function readSecureStamp(p: InstancePaths): { rootMac: string; files: Record<string, string> } {
  const stamp = JSON.parse(readGeneratedText(p.hostSecureCache, 'the secure image stamp')) as {
    rootMac: string;
    files: Record<string, string>;
  };
  for (const line of readOptional(secureCacheDelta(p), 'the secure image stamp delta').split('\n')) {
    if (!line) continue;
    const d = JSON.parse(line) as [string, string | null] | { rootMac: string };
    if (!Array.isArray(d)) stamp.rootMac = d.rootMac;
    else if (d[1] === null) delete stamp.files[d[0]];
    else stamp.files[d[0]] = d[1];
  }
  return stamp;
}

export function appendSecureStamp(p: InstancePaths, rootMac: string, changes: [string, string | null][]): void {
  const lines = changes.map((c) => JSON.stringify(c) + '\n').join('') + JSON.stringify({ rootMac }) + '\n';
  appendFileSync(secureCacheDelta(p), lines, { mode: 0o644 });
}

/** After a base was rewritten whole: its delta is in it. */
export function dropDelta(file: string): void {
  rmSync(file, { force: true });
}
