// The image layer the sandbox mounts (build/host/rootfs) is plain files, so it is pinned by a
// manifest: every entry's type, mode, size, content hash and the inode/ctime it had when the
// build wrote it. ctime cannot be set from user space, so any later write, chmod, rename or
// replacement shows up in a stat pass; `--full` verification rehashes the content too.
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export interface ManifestEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  size: number;
  sha256?: string;
  target?: string;
  ino: number;
  ctimeNs: string;
  /** Source (image/) size and mtime, to reuse unchanged files on the next build. */
  srcSize?: number;
  srcMtimeNs?: string;
}

export interface Manifest {
  version: 1;
  entries: ManifestEntry[];
}

export function sha256File(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** Walks a tree in sorted order: (relative path, host path, stats). */
export function* walk(root: string, rel = ''): Generator<{ rel: string; host: string; st: ReturnType<typeof lstatSync> & object }> {
  const names = readdirSync(join(root, rel)).sort();
  for (const name of names) {
    const r = rel ? `${rel}/${name}` : name;
    const host = join(root, r);
    const st = lstatSync(host, { bigint: false });
    yield { rel: r, host, st };
    if (st.isDirectory()) yield* walk(root, r);
  }
}

export function statEntry(host: string, path: string): Omit<ManifestEntry, 'sha256' | 'srcSize' | 'srcMtimeNs'> | null {
  const st = lstatSync(host, { bigint: true });
  const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : null;
  if (!type) return null;
  return {
    path,
    type,
    mode: Number(st.mode & 0o7777n),
    size: type === 'file' ? Number(st.size) : 0,
    ino: Number(st.ino),
    ctimeNs: st.ctimeNs.toString(),
    ...(type === 'symlink' ? { target: readlinkSync(host) } : {}),
  };
}

export interface ManifestCheck {
  ok: boolean;
  problems: string[];
  files: number;
  bytes: number;
}

/** Compares the tree under `root` with the manifest. */
export function checkManifest(root: string, m: Manifest, full: boolean, maxProblems = 20): ManifestCheck {
  const problems: string[] = [];
  const seen = new Set<string>();
  let bytes = 0;
  const byPath = new Map(m.entries.map((e) => [e.path, e]));
  const add = (p: string) => {
    if (problems.length < maxProblems) problems.push(p);
  };
  try {
    for (const { rel, host } of walk(root)) {
      const path = '/' + rel;
      seen.add(path);
      const want = byPath.get(path);
      if (!want) {
        add(`${path}: added after the build`);
        continue;
      }
      const got = statEntry(host, path);
      if (!got || got.type !== want.type) {
        add(`${path}: type changed`);
        continue;
      }
      if (got.mode !== want.mode) add(`${path}: mode changed (${want.mode.toString(8)} → ${got.mode.toString(8)})`);
      else if (got.size !== want.size) add(`${path}: size changed (${want.size} → ${got.size} bytes)`);
      else if (got.target !== want.target) add(`${path}: symlink target changed`);
      else if (got.ino !== want.ino || got.ctimeNs !== want.ctimeNs) add(`${path}: modified after the build (inode change time differs)`);
      else if (full && want.type === 'file' && sha256File(host) !== want.sha256) add(`${path}: content differs from the build`);
      bytes += got.size;
    }
  } catch (err) {
    add(`cannot read the image layer: ${(err as Error).message}`);
  }
  for (const e of m.entries) if (!seen.has(e.path)) add(`${e.path}: missing`);
  return { ok: problems.length === 0, problems, files: seen.size, bytes };
}
