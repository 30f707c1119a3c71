// Finds Occlum instances below a directory (for the start screen): a directory holding an
// Occlum.json or a .__occlum_status. Bounded depth; skips VCS, dependency and build trees.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readStatusFile } from './status.ts';
import { instancePaths } from './layout.ts';

export interface FoundInstance {
  dir: string;
  status: string | null;
}

const SKIP = new Set(['node_modules', '.git', 'build', 'run', 'image', 'initfs', 'target', 'dist']);

export function isInstanceDir(dir: string): boolean {
  const p = instancePaths(dir);
  return existsSync(p.config) || existsSync(p.status);
}

export function findInstances(root: string, maxDepth = 3, limit = 200): FoundInstance[] {
  const found: FoundInstance[] = [];
  const walk = (dir: string, depth: number) => {
    if (found.length >= limit) return;
    if (isInstanceDir(dir)) {
      // No status file: not initialised by occlum.
      found.push({ dir, status: readStatusFile(dir) || null });
      return; // instances do not nest
    }
    if (depth >= maxDepth) return;
    let names: string[];
    try {
      names = readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory() && !SKIP.has(d.name) && !d.name.startsWith('.'))
        .map((d) => d.name)
        .sort();
    } catch {
      return; // unreadable directory: nothing to list
    }
    for (const name of names) walk(join(dir, name), depth + 1);
  };
  walk(root, 0);
  return found;
}
