// What a dev loop must watch for a bom: the bom files themselves (with their includes) and every
// file and directory they copy from. Read without running loaders or walking directories, so it
// is cheap enough to recompute after each copy; a broken bom yields what could be read (the copy
// reports the errors).
import { posix } from 'node:path';
import { expandEnv, type Env } from './env.ts';
import { loadBoms } from './includes.ts';
import { real, rustJoin, rustParent } from './paths.ts';

export interface BomWatchPaths {
  files: string[];
  /** Directories copied by a `dirs` entry or a bare `from`: everything below them counts. */
  dirs: string[];
}

export function bomWatchPaths(file: string, root: string, includeDirs: string[], cwd: string, env: Env): BomWatchPaths {
  const loaded = loadBoms(file, includeDirs, cwd);
  const files = new Set<string>([real(cwd, file), ...loaded.docs.map((d) => d.path)]);
  const dirs = new Set<string>();
  const workspace = rustParent(root) ?? '.';
  const exp = (s: string): string | null => {
    const r = expandEnv(s, env);
    return r.ok ? r.value : null;
  };
  for (const doc of loaded.docs) {
    for (const t of doc.targets) {
      for (const s of t.copy) {
        const from = s.from ? exp(s.from.value) : undefined;
        if (from === null) continue;
        const srcDir = from === undefined ? workspace : rustJoin(workspace, from);
        for (const f of s.files ?? []) {
          const n = exp(f.name.value);
          if (n !== null) files.add(real(cwd, rustJoin(srcDir, n)));
        }
        for (const d of s.dirs ?? []) {
          const n = exp(d.value);
          if (n !== null) dirs.add(real(cwd, rustJoin(srcDir, n)));
        }
        if (s.dirs === undefined && s.files === undefined && from !== undefined) dirs.add(real(cwd, from));
      }
    }
  }
  return { files: [...files].sort(), dirs: [...dirs].map((d) => posix.normalize(d)).sort() };
}
