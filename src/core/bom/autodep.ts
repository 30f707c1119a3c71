// The shared libraries of one ELF file, found as copy_bom finds them (util.rs,
// find_dependent_shared_objects): run the loader its .interp names (or the configured stand-in
// of the same file name) with --list, read "name => path" lines, and place each library in the
// image at its host path, or in the loader's lib dir when it came from the configured dirs.
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { basename, posix } from 'node:path';
import { ET_DYN, ET_EXEC, readElfInfo } from '../elf/header.ts';
import type { LoaderConfig } from './loader-config.ts';

/** A file to copy into the image: host path → absolute path inside the image. */
export interface Placed {
  src: string;
  inner: string;
}

export interface Deps {
  /** The loader named by .interp (or inferred), null when the file needs none. */
  interp: string | null;
  /** The loader and the libraries, loader first. */
  objects: Placed[];
  /** Library names the loader could not find. */
  missing: string[];
  /** What the loader printed on stderr, when anything (copy_bom: "cannot autodep"). */
  stderr: string;
  /** Why nothing was analysed, when so (not an ELF program or library, no loader). */
  skipped?: string;
}

const DEPENDENCY = /^(\S+) => (\S+) /;
const NOT_FOUND = /^(\S+) => not found/;
// musl's loader, then glibc's (which stops at the first missing library; copy_bom only warns).
const ERROR_LOADING = /Error loading shared library (\S+): No such file or directory/g;
const GLIBC_CANNOT_OPEN = /error while loading shared libraries: (\S+): cannot open shared object file/g;

/** The .interp of a 64-bit ELF program or library, '' for one without, null for other files. */
export function interpOf(file: string): string | null | '' {
  let info;
  try {
    info = readElfInfo(file);
  } catch {
    return null;
  }
  if (info.kind !== 'elf' || (info.type !== ET_DYN && info.type !== ET_EXEC)) return null;
  return info.interp ?? '';
}

/** The loaders the .interp of these files name. */
export function loadersOf(files: string[]): Set<string> {
  const loaders = new Set<string>();
  for (const f of files) {
    const i = interpOf(f);
    if (i) loaders.add(i);
  }
  return loaders;
}

/** copy_bom's infer_default_loader: the one loader all files with an .interp share, if any. */
export function inferDefaultLoader(files: string[]): string | null {
  const loaders = loadersOf(files);
  return loaders.size === 1 ? [...loaders][0]! : null;
}

/** Whether an ELF file names libraries it needs (DT_NEEDED), or they could not be read. */
export function namesLibraries(file: string): boolean {
  try {
    const info = readElfInfo(file);
    return info.kind === 'elf' && (info.needed === undefined ? !!info.dynamic : info.needed.length > 0);
  } catch {
    return false;
  }
}

/** Why analyse() skipped a file that has no .interp and got no default loader. */
export const NO_LOADER = 'no dynamic loader (.interp) and none can be inferred';

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ stdout: string; stderr: string; error?: string }> {
  return new Promise((resolveRun) => {
    let stdout = '';
    let stderr = '';
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => resolveRun({ stdout, stderr, error: err.message }));
    child.on('close', () => resolveRun({ stdout, stderr }));
  });
}

/**
 * Loader runs remembered per process (the dev loop's copies analyse the same programs again):
 * keyed by the file's inode, size and time, the default loader and the config file, and used
 * while every library they found is still the file it was (one removed or replaced since is
 * looked for again, not copied from where it was).
 */
const depsSeen = new Map<string, { deps: Deps; found: string }>();

const identity = (path: string): string => {
  const st = statSync(path, { throwIfNoEntry: false });
  return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : '-';
};
const foundIds = (deps: Deps) => deps.objects.map((o) => identity(o.src)).join('\0');

export async function findDeps(file: string, defaultLoader: string | null, config: LoaderConfig | null): Promise<Deps> {
  let key: string | null = null;
  try {
    const st = statSync(file);
    key = [file, st.ino, st.size, st.mtimeMs, defaultLoader, config?.source ?? ''].join('\0');
  } catch {
    /* analysed below, which reports it */
  }
  const seen = key ? depsSeen.get(key) : undefined;
  if (seen && foundIds(seen.deps) === seen.found) return seen.deps;
  const deps = await analyse(file, defaultLoader, config);
  // A failed loader run may succeed once the machine is fixed: only successes are kept.
  if (key && deps.missing.length === 0) {
    if (depsSeen.size > 50_000) depsSeen.clear();
    depsSeen.set(key, { deps, found: foundIds(deps) });
  }
  return deps;
}

async function analyse(file: string, defaultLoader: string | null, config: LoaderConfig | null): Promise<Deps> {
  const own = interpOf(file);
  const none = (skipped: string): Deps => ({ interp: null, objects: [], missing: [], stderr: '', skipped });
  if (own === null) return none('not an ELF program or library');
  const interp = own || defaultLoader;
  if (!interp) return none(`${NO_LOADER}: statically linked, or a library`);
  // copy_bom runs whatever the .interp names; a file from a downloaded tree could name any
  // program (a script of its own), so only the config's loaders are run.
  const entry = config?.byName.get(basename(interp));
  if (!entry)
    return {
      ...none(
        `its loader ${interp} is not in the loader config${config ? ` ${config.source}` : ''}, ` +
          'and a loader a file names is not run (it could be any program): its libraries were not looked for; ' +
          'add the loader to the config, or list the libraries under "files"',
      ),
      interp,
    };
  const loader = entry.loader;
  const out: Deps = { interp, objects: [{ src: loader, inner: interp }], missing: [], stderr: '' };
  const target = file.includes('/') ? file : `./${file}`;
  const env = { ...process.env, LD_LIBRARY_PATH: entry.libraryPath };
  const r = await run(loader, ['--list', target], env);
  if (r.error) {
    out.missing.push(interp);
    out.stderr = `cannot run the loader ${loader}: ${r.error}`;
    return out;
  }
  out.stderr = r.stderr.trim();
  for (const m of r.stderr.matchAll(ERROR_LOADING)) out.missing.push(m[1]!);
  for (const m of r.stderr.matchAll(GLIBC_CANNOT_OPEN)) out.missing.push(m[1]!);
  for (const raw of r.stdout.split('\n')) {
    const line = raw.trim();
    const nf = NOT_FOUND.exec(line);
    if (nf) {
      out.missing.push(nf[1]!);
      continue;
    }
    const dep = DEPENDENCY.exec(line);
    if (!dep) continue;
    const path = dep[2]!.startsWith('/') ? dep[2]! : posix.resolve(posix.dirname(file), dep[2]!);
    if (!path.startsWith('/')) continue;
    const inLibDir = entry.searchDirs.includes(posix.dirname(path));
    const inner = inLibDir ? posix.join(entry.libDir, dep[1]!) : path;
    if (!out.objects.some((o) => o.src === path && o.inner === inner)) out.objects.push({ src: path, inner });
  }
  return out;
}
