// Occlum.json's mount table → a host mount plan. The root unionfs becomes a kernel overlayfs
// (lower = the verified image layer, upper = the run layer under run/) mounted in a private
// mount namespace; the other entries become bubblewrap binds/tmpfs/proc/dev. Every host-side
// mount lives only in that namespace, so nothing is left mounted when the sandbox ends.
import { existsSync, lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, posix, relative, resolve, sep } from 'node:path';
import type { MountEntry, RuntimeConfig } from './runtime-config.ts';

export interface LayerDirs {
  /** Read-only image layer (plain files of the last good build). */
  lower: string;
  /** Writable run layer and overlayfs work dir (same filesystem). */
  upper: string;
  work: string;
  /** Where the overlay is mounted inside the private namespace. */
  merged: string;
  /** Directory holding tmpfs mount points (ramfs), one per target. */
  ramfs: string;
  /** Directory holding the data of non-root sefs / unionfs / ext2 mounts. */
  sefs: string;
}

export type PlannedMount =
  /** `id` (`dev:ino`, hostfs only): the source's inode checked here, bound from a descriptor (launch.ts). */
  | { kind: 'bind'; source: string; target: string; readOnly: boolean; from: MountEntry; id?: string }
  | { kind: 'tmpfs'; staging: string; target: string; size?: number; from: MountEntry }
  | { kind: 'proc'; target: string; auto: boolean }
  | { kind: 'dev'; target: string; auto: boolean }
  /** Hides instance build/ and run/ inside a hostfs mount (see docs/backends.md). */
  | { kind: 'mask'; target: string }
  /**
   * An entry of the instance seen through a hostfs mount, bound onto itself so the program cannot
   * replace or rename it (EBUSY): read-only for the files the studio acts on (Occlum.json, the
   * settings), writable for image/ and initfs/. `source` is the host path (as staged when root);
   * `id` (`dev:ino`) the inode checked here, which the stager binds from a descriptor (launch.ts).
   */
  | { kind: 'pin'; source: string; target: string; readOnly: boolean; id: string };

export interface MountPlan {
  layers: LayerDirs;
  mounts: PlannedMount[];
  /** Non-root sefs dirs to recreate empty at every boot (`temporary: true`). */
  temporary: string[];
  warnings: string[];
}

export class MountError extends Error {
  constructor(
    message: string,
    /** What Occlum prints for the same failure, if known. */
    readonly occlum?: string,
  ) {
    super(message);
  }
}

/** A target path as a file name: "/data/x" → "data_x". */
function slug(target: string): string {
  return target.replace(/^\/+/, '').replace(/[^A-Za-z0-9._-]/g, '_') || 'root';
}

function within(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Entries of the instance pinned in a hostfs view of it, and whether read-only. */
const PINNED: [string, boolean][] = [
  ['Occlum.json', true],
  ['.occlum-studio.json', true],
  ['image', false],
  ['initfs', false],
];
const PINNED_DIRS = new Set(PINNED.filter(([, ro]) => !ro).map(([n]) => n));

/**
 * A pinned entry that is a symlink cannot be pinned: a bind mount goes onto what a link names,
 * never onto the link, so the program could replace the link with its own file or directory.
 */
function linkInView(where: string, name: string, path: string): MountError {
  let to = '?';
  try {
    to = readlinkSync(path);
  } catch {
    // Gone meanwhile: the message still names the entry.
  }
  return new MountError(
    `${where}: the instance's ${name} is a symbolic link (to ${to}), which the program could replace through ` +
      `this mount with its own ${name} (the studio acts on it on its own: the dev loop rebuilds and reruns); ` +
      `make it a regular ${PINNED_DIRS.has(name) ? 'directory' : 'file'} (or mount a directory that does not contain the instance)`,
  );
}

function depth(target: string): number {
  return target.split('/').filter(Boolean).length;
}

/**
 * `protect`: host files (real paths) pinned read-only in every hostfs view that shows them: the
 * dev loop's bom files (src/core/watch/bom-consent.ts), which its next change build reads.
 */
export function planMounts(
  cfg: RuntimeConfig,
  instanceDir: string,
  layers: LayerDirs,
  protect: string[] = [],
): MountPlan {
  const warnings: string[] = [];
  const mounts: PlannedMount[] = [
    { kind: 'proc', target: '/proc', auto: true },
    { kind: 'dev', target: '/dev', auto: true },
  ];
  const temporary: string[] = [];
  const root = cfg.mounts.filter((m) => m.target === '/');
  if (root.length !== 1 || root[0].type !== 'unionfs' || !Array.isArray(root[0].options.layers)) {
    throw new MountError(
      'the root mount must be one entry with target "/" and type "unionfs" with options.layers (the image and run layers); see the Occlum.json template',
      'Mount configuration invalid: Err("the root UnionFS is not valid")',
    );
  }
  const rootLayers = root[0].options.layers as Record<string, unknown>[];
  const image = rootLayers.find(
    (l) => l?.type === 'sefs' && typeof l.options === 'object' && l.options !== null && 'MAC' in (l.options as object),
  );
  const container = rootLayers.find((l) => l?.type === 'sefs' && l !== image);
  if (!image)
    throw new MountError(
      'the root unionfs needs an image layer: a sefs layer at "/" whose options contain "MAC"',
      'Mount configuration invalid: Err("the image SEFS in layers is not valid")',
    );
  if (!container)
    throw new MountError(
      'the root unionfs needs a writable container layer: a sefs layer at "/" without "MAC"',
      'the container SEFS in layers is not valid',
    );

  const instReal = realpathSync(instanceDir);
  const others = cfg.mounts
    .map((m, i) => ({ m, i }))
    .filter(({ m }) => m.target !== '/')
    .sort((a, b) => depth(a.m.target) - depth(b.m.target) || a.i - b.i);
  for (const { m, i } of others) {
    const where = `mount[${i}] (${m.type} at ${m.target})`;
    if (!m.target.startsWith('/') || m.target.split('/').includes('..')) {
      throw new MountError(`${where}: target must be an absolute path without ".."`);
    }
    switch (m.type) {
      case 'hostfs': {
        if (!m.source)
          throw new MountError(`${where}: "source" is required for hostfs`, 'Source is expected for HostFS');
        const src = resolve(instanceDir, m.source);
        if (!existsSync(src) || !statSync(src).isDirectory()) {
          throw new MountError(
            `${where}: source ${src} is not an existing host directory; create it or fix "source"`,
            'Source is expected for HostFS',
          );
        }
        const srcReal = realpathSync(src);
        for (const hidden of ['build', 'run']) {
          const h = join(instReal, hidden);
          if (within(srcReal, h))
            throw new MountError(
              `${where}: source ${src} is inside the instance's ${hidden}/, which the runtime owns; mount another directory`,
            );
        }
        const st = statSync(srcReal, { bigint: true });
        const id = `${st.dev}:${st.ino}`;
        mounts.push({ kind: 'bind', source: srcReal, target: m.target, readOnly: false, from: m, id });
        for (const file of protect) {
          // A link is left as it is: what a replaced one names is held by the dev loop's check.
          if (!within(file, srcReal) || file === srcReal) continue;
          if (['build', 'run', ...PINNED.map(([n]) => n)].some((n) => within(file, join(instReal, n)))) continue;
          const st = lstatSync(file, { bigint: true, throwIfNoEntry: false });
          if (!st?.isFile()) continue;
          const target = posix.join(m.target, relative(srcReal, file).split(sep).join('/'));
          mounts.push({ kind: 'pin', source: file, target, readOnly: true, id: `${st.dev}:${st.ino}` });
        }
        // The image layer is plain files here (Occlum keeps it encrypted / MAC-protected), so a
        // hostfs view of the instance must not expose or let the program rewrite it.
        if (within(instReal, srcReal)) {
          const rel = relative(srcReal, instReal).split(sep).join('/');
          for (const hidden of ['build', 'run']) {
            mounts.push({ kind: 'mask', target: posix.join(m.target, rel, hidden) });
          }
          // What the next build reads: the program may write image/ and initfs/ (as in Occlum) but
          // not swap them for a link to a host directory (the build would pack it: a read of any
          // file of the studio's user), nor rewrite the config or the settings, which the dev
          // loop applies on its own (a hostfs of "/" and a rerun; a bom copying ~/.ssh in).
          for (const [name, readOnly] of PINNED) {
            const st = lstatSync(join(instReal, name), { bigint: true, throwIfNoEntry: false });
            if (st?.isSymbolicLink()) throw linkInView(where, name, join(instReal, name));
            if (!st || (readOnly ? !st.isFile() : !st.isDirectory())) continue;
            const target = posix.join(m.target, rel, name);
            const id = `${st.dev}:${st.ino}`;
            mounts.push({ kind: 'pin', source: join(instReal, name), target, readOnly, id });
          }
        }
        break;
      }
      case 'ramfs':
        mounts.push({
          kind: 'tmpfs',
          staging: join(layers.ramfs, slug(m.target)),
          target: m.target,
          size: cfg.limits.kernelHeap ?? undefined,
          from: m,
        });
        break;
      case 'procfs':
        mounts.push({ kind: 'proc', target: m.target, auto: false });
        break;
      case 'devfs':
        mounts.push({ kind: 'dev', target: m.target, auto: false });
        break;
      case 'sefs':
      case 'unionfs':
      case 'ext2': {
        if (m.type === 'sefs' && !m.source)
          throw new MountError(`${where}: "source" is required for sefs`, 'Source is expected for SEFS');
        const dir = join(layers.sefs, slug(m.target));
        const integrityImage = m.type === 'sefs' && 'MAC' in m.options;
        if (integrityImage)
          warnings.push(
            `${where}: an integrity-only SEFS image cannot be opened by the host backend; it is mounted empty and read-only`,
          );
        if (m.options.temporary === true && !integrityImage) temporary.push(dir);
        mounts.push({ kind: 'bind', source: dir, target: m.target, readOnly: integrityImage, from: m });
        break;
      }
      default:
        throw new MountError(
          `${where}: unsupported file system type "${m.type}" (known: sefs, hostfs, ramfs, unionfs, devfs, procfs, ext2)`,
          'Unsupported file system type',
        );
    }
  }
  // A user entry for /proc or /dev shadows the automatic one (as in Occlum since 0.29.6).
  const userTargets = new Set(
    mounts.filter((x) => (x.kind === 'proc' || x.kind === 'dev') && !x.auto).map((x) => x.target),
  );
  const deduped = mounts.filter(
    (x) => !((x.kind === 'proc' || x.kind === 'dev') && x.auto && userTargets.has(x.target)),
  );
  return { layers, mounts: deduped, temporary, warnings };
}

/**
 * Occlum mounts onto existing directories only (ENOENT at boot otherwise). Checked against
 * the image and run layers, which together are the root file system.
 */
export function missingMountPoints(plan: MountPlan): string[] {
  const missing: string[] = [];
  for (const m of plan.mounts) {
    if (m.kind === 'mask' || m.kind === 'pin' || ('auto' in m && m.auto)) continue;
    const inLower = join(plan.layers.lower, m.target);
    const inUpper = join(plan.layers.upper, m.target);
    const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();
    if (!isDir(inLower) && !isDir(inUpper)) missing.push(m.target);
  }
  return missing;
}
