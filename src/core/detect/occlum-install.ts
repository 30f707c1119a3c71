// Finding an installed Occlum (spec 1.1): the `occlum` script on PATH or at
// /opt/occlum/build/bin/occlum, and its version from <root>/include/occlum_version.h (Occlum has
// no `--version`). OCCLUM_STUDIO_OCCLUM_ROOT points at another install tree (tests use a fake one).
import { accessSync, constants, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, delimiter, dirname, join } from 'node:path';

export const ROOT_ENV = 'OCCLUM_STUDIO_OCCLUM_ROOT';
export const DEFAULT_ROOT = '/opt/occlum';

export interface OcclumInstall {
  /** The `occlum` script the backend runs. */
  bin: string;
  /** The install tree (what the script calls occlum_dir), e.g. /opt/occlum. */
  root: string;
  /** "0.31.0", or null when the version header is missing or unreadable. */
  version: string | null;
  versionHeader: string;
  /** How it was found, for doctor: "$OCCLUM_STUDIO_OCCLUM_ROOT", "PATH" or "/opt/occlum". */
  foundVia: string;
}

export interface OcclumSearch {
  install: OcclumInstall | null;
  /** Each place looked at and why it did not count (for doctor and error messages). */
  tried: string[];
}

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** First `name` on a PATH string that is an executable file, or null. */
export function whichOnPath(name: string, pathVar: string | undefined): string | null {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    if (isExecutableFile(p)) return p;
  }
  return null;
}

/**
 * The install root of an `occlum` script, as the script derives it from its own location:
 * <root>/build/bin/occlum → <root>. A script in a plain <root>/bin/ → <root>.
 */
export function rootOfScript(bin: string): string {
  let real = bin;
  try {
    real = realpathSync(bin);
  } catch {
    /* dangling or unreadable: use the path as given */
  }
  const binDir = dirname(real);
  const up = dirname(binDir);
  return basename(binDir) === 'bin' && basename(up) === 'build' ? dirname(up) : up;
}

/** Parses OCCLUM_MAJOR/MINOR/PATCH_VERSION from occlum_version.h text; null if any is missing. */
export function parseVersionHeader(text: string): string | null {
  const part = (name: string) =>
    text.match(new RegExp(`^\\s*#\\s*define\\s+OCCLUM_${name}_VERSION\\s+(\\d+)`, 'm'))?.[1];
  const [major, minor, patch] = [part('MAJOR'), part('MINOR'), part('PATCH')];
  if (major === undefined || minor === undefined || patch === undefined) return null;
  return `${Number(major)}.${Number(minor)}.${Number(patch)}`;
}

function readVersion(root: string): { version: string | null; header: string } {
  const header = join(root, 'include', 'occlum_version.h');
  try {
    return { version: parseVersionHeader(readFileSync(header, 'utf8')), header };
  } catch {
    return { version: null, header };
  }
}

function installAt(bin: string, root: string, foundVia: string): OcclumInstall {
  let { version, header } = readVersion(root);
  // A source checkout (build/bin/occlum inside the repository) keeps the header in src/pal/include.
  if (version === null) {
    const src = readVersion(join(root, 'src', 'pal'));
    if (src.version !== null) ({ version, header } = src);
  }
  // A PATH symlink farm (e.g. /usr/local/bin/occlum) may not sit in the tree: fall back to the default root.
  if (version === null && root !== DEFAULT_ROOT) {
    const fallback = readVersion(DEFAULT_ROOT);
    if (fallback.version !== null) ({ version, header } = fallback);
  }
  return { bin, root, version, versionHeader: header, foundVia };
}

/** Looks for Occlum the way a user's shell would, plus the standard install path. */
export function findOcclum(env: NodeJS.ProcessEnv = process.env): OcclumSearch {
  const tried: string[] = [];
  const override = env[ROOT_ENV];
  if (override) {
    for (const bin of [join(override, 'build', 'bin', 'occlum'), join(override, 'bin', 'occlum')]) {
      if (isExecutableFile(bin)) return { install: installAt(bin, override, `$${ROOT_ENV}`), tried };
    }
    tried.push(`$${ROOT_ENV}=${override}: no executable build/bin/occlum or bin/occlum there`);
    return { install: null, tried };
  }
  const onPath = whichOnPath('occlum', env.PATH);
  if (onPath) return { install: installAt(onPath, rootOfScript(onPath), 'PATH'), tried };
  tried.push('no `occlum` on PATH');
  const std = join(DEFAULT_ROOT, 'build', 'bin', 'occlum');
  if (isExecutableFile(std)) return { install: installAt(std, DEFAULT_ROOT, DEFAULT_ROOT), tried };
  tried.push(`no ${std}`);
  return { install: null, tried };
}
