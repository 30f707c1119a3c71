// Occlum's build is driven by make timestamps and does not notice a changed --sign-key,
// --sign-tool or --image-key (spec 1.5: no re-sign, no re-zip, stale build/image_config.json).
// We remember what each successful build used, by content fingerprint, in
// <instance>/.occlum-studio/occlum-build.json, and add -f when it changes.
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../../instance/atomic.ts';
import { MAX_SMALL_FILE_BYTES, readGeneratedText, typeName, UnsafeFileError } from '../../instance/safe-read.ts';
import { instancePaths } from '../../instance/layout.ts';

export const STUDIO_DIR = '.occlum-studio';
export const BUILD_RECORD = 'occlum-build.json';

export interface FileFingerprint {
  path: string;
  /** sha256 of the content; null when the file could not be read. */
  sha256: string | null;
}

export interface BuildKeys {
  signKey: FileFingerprint;
  signTool: FileFingerprint | null;
  imageKey: FileFingerprint | null;
  buildinImageKey: boolean;
}

export function fingerprint(path: string, cwd: string): FileFingerprint {
  const abs = resolve(cwd, path);
  try {
    return { path: abs, sha256: createHash('sha256').update(readFileSync(abs)).digest('hex') };
  } catch {
    return { path: abs, sha256: null };
  }
}

export function recordPath(dir: string): string {
  return join(dir, STUDIO_DIR, BUILD_RECORD);
}

export function readBuildKeys(dir: string): BuildKeys | null {
  try {
    const v = JSON.parse(readGeneratedText(recordPath(dir), 'the build record', MAX_SMALL_FILE_BYTES)) as BuildKeys;
    return v && typeof v === 'object' && v.signKey ? v : null;
  } catch {
    return null; // none yet, or unreadable: treated as unknown
  }
}

export function writeBuildKeys(dir: string, keys: BuildKeys): void {
  studioDir(dir);
  writeFileAtomic(recordPath(dir), JSON.stringify(keys, null, 2) + '\n');
}

/**
 * The instance's `.occlum-studio/`, made when missing. An instance from elsewhere (a tarball, a
 * repository) may carry it as a symbolic link or a file: the studio's files would then be written
 * where it points, so anything but a real directory is refused.
 */
export function studioDir(dir: string): string {
  const p = join(dir, STUDIO_DIR);
  const st = lstatSync(p, { throwIfNoEntry: false });
  if (!st) mkdirSync(p);
  else if (!st.isDirectory()) {
    const what = st.isSymbolicLink() ? `a symbolic link (to ${readlinkSync(p)})` : typeName(st);
    throw new UnsafeFileError(
      `${p}: the studio's directory of this instance is ${what}, where a directory belongs: remove it; ` +
        'the studio makes it again',
      st.isSymbolicLink() ? 'ESYMLINK' : 'ENOTREGULAR',
      p,
    );
  }
  return p;
}

const same = (a: FileFingerprint | null, b: FileFingerprint | null) =>
  a === null || b === null ? a === b : a.sha256 === b.sha256 && (a.sha256 !== null || a.path === b.path);

/**
 * Why the next build must be forced, or null. `hadBuild`: build/ exists, so make would reuse it.
 * Without a record of the previous keys, only a build that names keys is forced (we cannot know
 * what the earlier build used).
 */
export function keyChangeReason(
  prev: BuildKeys | null,
  next: BuildKeys,
  hadBuild: boolean,
  defaultsUsed: boolean,
): string | null {
  if (!hadBuild) return null;
  if (!prev) {
    return defaultsUsed ? null : 'no record of the keys the existing build used, and this build names keys';
  }
  const changed: string[] = [];
  if (!same(prev.signKey, next.signKey)) changed.push('signing key');
  if (!same(prev.signTool, next.signTool)) changed.push('signing tool');
  if (!same(prev.imageKey, next.imageKey)) {
    changed.push(
      prev.imageKey === null ? 'image key added' : next.imageKey === null ? 'image key removed' : 'image key',
    );
  }
  if (prev.buildinImageKey !== next.buildinImageKey) changed.push('--buildin-image-key');
  return changed.length
    ? `${changed.join(', ')} changed since the last build (Occlum does not notice this itself)`
    : null;
}

export function hasBuildDir(dir: string): boolean {
  return existsSync(instancePaths(dir).build);
}
