// Resolves a path as the program inside the image would see it: absolute symlinks point into the
// image root, not the host. Returns the host path of the final target, or null if missing.
import { lstatSync, readlinkSync } from 'node:fs';
import { join, posix } from 'node:path';

export function resolveInImage(imageRoot: string, innerPath: string, maxHops = 40): string | null {
  let parts = posix.normalize(innerPath).split('/').filter(Boolean);
  let done: string[] = [];
  let hops = 0;
  while (parts.length > 0) {
    const name = parts.shift()!;
    if (name === '..') {
      done.pop();
      continue;
    }
    const host = join(imageRoot, ...done, name);
    let st;
    try {
      st = lstatSync(host);
    } catch {
      return null;
    }
    if (st.isSymbolicLink()) {
      if (++hops > maxHops) return null;
      const target = readlinkSync(host);
      const rest = target.split('/').filter(Boolean);
      if (target.startsWith('/')) done = [];
      parts = [...rest, ...parts];
      continue;
    }
    done.push(name);
  }
  return join(imageRoot, ...done);
}
