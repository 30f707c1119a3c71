// Programs the Run picker offers: the executables found in image/ under each entry point of
// Occlum.json (the only paths `occlum run` accepts). Read-only and forgiving: a damaged
// Occlum.json falls back to Occlum's default entry point, /bin.
import { readdirSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parse } from 'jsonc-parser';
import { readConfigText } from '../instance/safe-read.ts';
import { instancePaths } from '../instance/layout.ts';

const DEFAULT_ENTRY_POINTS = ['/bin'];
const MAX_CANDIDATES = 200;

export function entryPoints(instanceDir: string): string[] {
  try {
    const conf = parse(readConfigText(instancePaths(instanceDir).config, 'Occlum.json')) as { entry_points?: unknown };
    const eps = conf?.entry_points;
    if (Array.isArray(eps)) {
      const valid = eps.filter((e): e is string => typeof e === 'string' && e.startsWith('/'));
      if (valid.length > 0) return valid;
    }
  } catch {
    // fall through to the default
  }
  return DEFAULT_ENTRY_POINTS;
}

/** Absolute in-image paths of executable regular files directly under each entry point. */
export function entryCandidates(instanceDir: string): string[] {
  const out = new Set<string>();
  for (const ep of entryPoints(instanceDir)) {
    const dir = join(instancePaths(instanceDir).image, ep);
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      try {
        const st = statSync(join(dir, name));
        if (st.isFile() && (st.mode & 0o111) !== 0) out.add(posix.join(ep, name));
      } catch {
        // a dangling link: not runnable
      }
      if (out.size >= MAX_CANDIDATES) return [...out];
    }
  }
  return [...out];
}
