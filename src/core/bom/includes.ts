// The bom files a copy reads, in copy_bom's order (find_all_included_bom_files): the top bom,
// then its includes breadth first; a file included more than once keeps its last place. An
// include is looked up next to the bom that names it, then in each include dir (relative to the
// current directory). A cycle is an error naming the chain (copy_bom gives up after 100 files).
import { statSync } from 'node:fs';
import { DEFAULT_ROOT } from '../detect/occlum-install.ts';
import { readFileSafe } from '../instance/safe-read.ts';
import { decodeBom, parseBom } from './parse.ts';
import { real, rustJoin, rustParent } from './paths.ts';
import type { BomDoc, BomIssue, Str } from './types.ts';

export interface LoadedBoms {
  /** In the order copy_bom processes them. Empty when there are errors. */
  docs: BomDoc[];
  issues: BomIssue[];
}

/** Bom files are a few KiB; a bigger one is not a bom (and YAML parsing it would take long). */
export const MAX_BOM_BYTES = 4 << 20;
/** copy_bom reads at most 100 boms (MAX_ITERATION), counting a bom each time it is named. */
const MAX_BOM_READS = 100;

/** There and not a directory: a FIFO or device found here is then refused by name when read. */
function isFile(p: string): boolean {
  try {
    return !statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Where copy_bom looks for an included bom, in order: next to the bom, then each include dir. */
export function includeCandidates(include: string, bomFile: string, includeDirs: string[], cwd: string): string[] {
  return [rustJoin(rustParent(bomFile) ?? '.', include), ...includeDirs.map((d) => rustJoin(d, include))].map((p) =>
    real(cwd, p),
  );
}

/** Where copy_bom finds an included bom, or null. */
export function findInclude(include: string, bomFile: string, includeDirs: string[], cwd: string): string | null {
  return includeCandidates(include, bomFile, includeDirs, cwd).find(isFile) ?? null;
}

export function loadBoms(topFile: string, includeDirs: string[], cwd: string): LoadedBoms {
  const issues: BomIssue[] = [];
  const parsed = new Map<string, BomDoc | null>();
  const load = (path: string, namedAt?: Str): BomDoc | null => {
    if (parsed.has(path)) return parsed.get(path)!;
    let bytes: Buffer;
    try {
      // Never blocks on a FIFO, nor reads /dev/zero until memory runs out.
      bytes = readFileSafe(path, {
        what: 'the bom file',
        maxBytes: MAX_BOM_BYTES,
        followLinks: true,
        fix: `a bom must be a regular file of at most ${MAX_BOM_BYTES >> 20} MiB`,
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? `cannot read bom file ${path}: no such file` : (err as Error).message;
      issues.push({ severity: 'error', message: why, loc: namedAt?.loc });
      parsed.set(path, null);
      return null;
    }
    const decoded = decodeBom(bytes, path);
    const r = 'text' in decoded ? parseBom(decoded.text, path) : { issues: [decoded.issue] };
    issues.push(...r.issues);
    const ok = 'doc' in r && !r.issues.some((i) => i.severity === 'error');
    parsed.set(path, ok ? r.doc : null);
    return ok ? r.doc : null;
  };

  const top = real(cwd, topFile);
  const order: string[] = [top];
  const queue: { path: string; chain: string[]; from?: Str }[] = [{ path: top, chain: [top] }];
  const cycles = new Set<string>();
  for (let read = 0; queue.length > 0; read++) {
    // copy_bom's bound: each include is read again where it is named, so includes that name the
    // same boms twice at every level would double the work per level without it.
    if (read === MAX_BOM_READS) {
      const counts = new Map<string, number>();
      for (const q of queue) counts.set(q.path, (counts.get(q.path) ?? 0) + 1);
      const [most, n] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
      issues.push({
        severity: 'error',
        loc: queue[0]!.from?.loc,
        message:
          `more than ${MAX_BOM_READS} bom files to read (copy_bom's bound), e.g. ${most} is named ${n} more times: ` +
          'the includes fan out; include each bom once',
      });
      break;
    }
    const { path, chain, from } = queue.shift()!;
    const doc = load(path, from);
    if (!doc) continue;
    for (const inc of doc.includes) {
      const found = findInclude(inc.value, path, includeDirs, cwd);
      if (!found) {
        // An -i dir is taken from the current directory (copy_bom: current_dir().join(dir)): say where that is.
        const shown = includeDirs.map((d) => (real(cwd, d) === d ? d : `${d} (${real(cwd, d)})`));
        const dirs = includeDirs.length ? `, nor in ${shown.join(', ')}` : ' (no include dir given: -i DIR)';
        // Occlum's JDK boms live in its install's template dir; the studio ships only base.yaml.
        const occlumTemplate = /^java-[\w.-]+\.yaml$/.test(inc.value)
          ? `; Occlum installs its JDK boms in ${DEFAULT_ROOT}/etc/template: pass that dir (or one holding a copy) with -i`
          : '';
        issues.push({
          severity: 'error',
          loc: inc.loc,
          message: `included bom "${inc.value}" is not next to ${path}${dirs}${occlumTemplate}`,
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
      queue.push({ path: found, chain: [...chain, found], from: inc });
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
