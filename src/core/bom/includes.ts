// The bom files a copy reads, in copy_bom's order (find_all_included_bom_files): the top bom,
// then its includes breadth first; a file included more than once keeps its last place. An
// include is looked up next to the bom that names it, then in each include dir (relative to the
// current directory). A cycle is an error naming the chain (copy_bom gives up after 100 files).
import { readFileSync, statSync } from 'node:fs';
import { parseBom } from './parse.ts';
import { real, rustJoin, rustParent } from './paths.ts';
import type { BomDoc, BomIssue, Str } from './types.ts';

export interface LoadedBoms {
  /** In the order copy_bom processes them. Empty when there are errors. */
  docs: BomDoc[];
  issues: BomIssue[];
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Where copy_bom finds an included bom, or null. */
export function findInclude(include: string, bomFile: string, includeDirs: string[], cwd: string): string | null {
  const here = rustJoin(rustParent(bomFile) ?? '.', include);
  if (isFile(real(cwd, here))) return real(cwd, here);
  for (const dir of includeDirs) {
    const p = real(cwd, rustJoin(dir, include));
    if (isFile(p)) return p;
  }
  return null;
}

export function loadBoms(topFile: string, includeDirs: string[], cwd: string): LoadedBoms {
  const issues: BomIssue[] = [];
  const parsed = new Map<string, BomDoc | null>();
  const load = (path: string, namedAt?: Str): BomDoc | null => {
    if (parsed.has(path)) return parsed.get(path)!;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
      issues.push({ severity: 'error', message: `cannot read bom file ${path}: ${why}`, loc: namedAt?.loc });
      parsed.set(path, null);
      return null;
    }
    const r = parseBom(text, path);
    issues.push(...r.issues);
    const ok = !r.issues.some((i) => i.severity === 'error');
    parsed.set(path, ok ? r.doc : null);
    return ok ? r.doc : null;
  };

  const top = real(cwd, topFile);
  const order: string[] = [top];
  const queue: { path: string; chain: string[] }[] = [{ path: top, chain: [top] }];
  const cycles = new Set<string>();
  while (queue.length > 0) {
    const { path, chain } = queue.shift()!;
    const doc = load(path);
    if (!doc) continue;
    for (const inc of doc.includes) {
      const found = findInclude(inc.value, path, includeDirs, cwd);
      if (!found) {
        const dirs = includeDirs.length ? `, nor in ${includeDirs.join(', ')}` : ' (no include dir given: -i DIR)';
        issues.push({
          severity: 'error',
          loc: inc.loc,
          message: `included bom "${inc.value}" is not next to ${path}${dirs}`,
        });
        continue;
      }
      if (chain.includes(found)) {
        const key = [...chain, found].join(' -> ');
        if (!cycles.has(key)) {
          cycles.add(key);
          issues.push({ severity: 'error', loc: inc.loc, message: `include cycle: ${key}` });
        }
        continue;
      }
      order.push(found);
      queue.push({ path: found, chain: [...chain, found] });
    }
  }
  if (issues.some((i) => i.severity === 'error')) return { docs: [], issues };
  const seen = new Set<string>();
  const kept = order
    .reverse()
    .filter((p) => !seen.has(p) && seen.add(p))
    .reverse();
  return { docs: kept.map((p) => parsed.get(p)!), issues };
}
