// `occlum build` for the host backend. Builds everything in a temp directory next to build/
// and swaps it in at the end, so a failed or killed build leaves the last good build runnable;
// run/ is wiped (like Occlum) only after the new build is in place, unless keepRun.
import {
  closeSync,
  openSync,
  readdirSync,
  writeSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { checkConfig } from '../../config/validate.ts';
import { formatDiagnostic } from '../../config/format-diagnostic.ts';
import { preflightErrors, preflightImage, type PreflightProblem } from '../../elf/preflight.ts';
import { buildPaths, instancePaths, type InstancePaths } from '../../instance/layout.ts';
import { readStatusFile, statusFileProblem, writeStatusFile } from '../../instance/status.ts';
import { readRuntimeConfig, RuntimeConfigError } from '../../sandbox/runtime-config.ts';
import { BackendError, type BuildOptions, type BuildProgress, type BuildResult } from '../types.ts';
import {
  lstatBig,
  readlinkAt,
  statEntry,
  statKey,
  statTreeAsync,
  walk,
  type Manifest,
  type ManifestEntry,
  type StatCache,
} from './manifest.ts';
import { yielder } from './yield.ts';
import { writeSecureStamp } from './verify.ts';
import { dropGuard } from './verify-run.ts';
import { SUPERSEDED } from './guard.ts';
import { writeFileAtomic } from '../../instance/atomic.ts';
import { writeBuildConfig } from './build-config.ts';
import { contentMac } from './pin.ts';
import { buildInPlace, changesSinceBuild, recoverInPlace } from './in-place.ts';
import { isAlive, procInfo } from './procs.ts';
import { packSecureImage, securePackMoved, storeImageKey } from './pack.ts';
import { lastTimes, stopwatch } from './timing.ts';
import { ensureRunDirs } from './run-state.ts';
import { copyIntoLayer, type LayerCopy } from './layer-copy.ts';
import { readConfigText, readGeneratedText, UnsafeFileError } from '../../instance/safe-read.ts';
import { withPath } from '../../errors.ts';

export const NOT_INITIALIZED =
  'Error: the current working directory is not initialized as an Occlum instance. Need to run "occlum init" first.';

/** The fix for NOT_INITIALIZED (Occlum's line names only `occlum init`), for the CLI and the panes. */
export const notAnInstance = (dir: string): string => {
  const problem = statusFileProblem(dir);
  return problem
    ? `${dir}: its .__occlum_status cannot be read (${problem})`
    : `${dir} is not an Occlum instance (no .__occlum_status): make one with occlum-studio init ${dir} ` +
        '(or new DIR), or give an instance with -C DIR';
};

/** Puts an interrupted build's directories back (build/ missing but the previous one kept aside). */
export function recoverInterruptedBuild(p: InstancePaths): void {
  const old = `${p.build}.old`;
  if (!existsSync(p.build) && existsSync(old)) renameSync(old, p.build);
  else if (existsSync(old)) rmSync(old, { recursive: true, force: true });
}

function readOldManifest(p: InstancePaths): Map<string, ManifestEntry> {
  try {
    const m = JSON.parse(readGeneratedText(p.hostManifest, 'the image manifest')) as Manifest;
    return new Map(m.entries.map((e) => [e.path, e]));
  } catch {
    return new Map();
  }
}

/**
 * Copies image/ to `dest`, hard-linking files unchanged since the last build (same size and
 * mtime as recorded) from the previous image layer, which is never modified in place.
 * One lstat per source entry, one per reused file (its mode and size, as linked); only copied
 * files are stat'ed and hashed again. Yields to the event loop every few ms.
 */
async function stageRootfs(
  src: string,
  dest: string,
  p: InstancePaths,
  force: boolean,
  onFile: (n: number) => void,
): Promise<{ entries: ManifestEntry[]; reused: number; copiedKeys: Map<string, string> }> {
  const old = force ? new Map<string, ManifestEntry>() : readOldManifest(p);
  mkdirSync(dest, { recursive: true });
  const entries: ManifestEntry[] = [];
  const pause = yielder();
  let reused = 0;
  let n = 0;
  // Stat-cache keys of the copied files as the copy left them (see writeStatCaches).
  const copiedKeys = new Map<string, string>();
  // Files to copy go in batches that are copied (and hashed) while the walk goes on; their
  // entries are filled in when their batch is done.
  let batch: { at: number; job: LayerCopy }[] = [];
  let batchBytes = 0;
  let copying = Promise.resolve();
  const flush = () => {
    const b = batch;
    batch = [];
    batchBytes = 0;
    copying = copying.then(async () => {
      const done = await copyIntoLayer(b.map((x) => x.job));
      b.forEach((x, i) => {
        const { key, ...entry } = done[i]!;
        const e = Object.assign(entries[x.at]!, entry);
        copiedKeys.set(e.path, key);
      });
    });
    copying.catch(() => {}); // awaited below; until then a failure must not count as unhandled
  };
  for (const { rel, host, at, st } of walk(src)) {
    const path = '/' + rel;
    const out = join(dest, rel);
    const mode = Number(st.mode & 0o7777n);
    if (st.isDirectory()) {
      mkdirSync(out, { mode });
      chmodSync(out, mode); // mkdir's mode is masked by the umask
      entries.push({ path, type: 'dir', mode, size: 0 });
    } else if (st.isSymbolicLink()) {
      symlinkSync(readlinkAt(at, host), out);
      const e = statEntry(out, path);
      if (e) entries.push(e);
    } else if (st.isFile()) {
      const prev = old.get(path);
      // mtime, ctime and inode: any write, chmod or replacement of the source since the last build.
      const sig = `${st.mtimeNs}:${st.ctimeNs}:${st.ino}`;
      const size = Number(st.size);
      let entry: ManifestEntry | null = null;
      if (prev && prev.type === 'file' && prev.srcSize === size && prev.srcSig === sig && prev.mode === mode) {
        entry = linkPrevious(join(p.hostRootfs, rel), out, path, prev);
        if (entry) reused++;
      }
      if (entry) entries.push({ ...entry, srcSize: size, srcSig: sig });
      else {
        // Mode, size and hash come with the copy (from the file written).
        entries.push({ path, type: 'file', mode, size: 0, sha256: '', srcSize: size, srcSig: sig });
        batch.push({ at: entries.length - 1, job: { root: src, host, out, mode } });
        batchBytes += size;
        if (batch.length >= 1000 || batchBytes >= 64 << 20) flush();
      }
    } // sockets, fifos, devices: not part of an image (sefs-cli skips them too)
    onFile(++n);
    const w = pause();
    if (w) await w;
  }
  flush();
  await copying;
  return { entries, reused, copiedKeys };
}

/**
 * Links a file of the previous image layer into the new one; its manifest entry keeps the hash
 * the previous build pinned and takes mode and size from the inode itself (a chmod of the old
 * layer shows up in the next verification, as before). Null when it is gone (copy instead).
 */
function linkPrevious(prevHost: string, out: string, path: string, prev: ManifestEntry): ManifestEntry | null {
  let st;
  try {
    st = lstatBig(prevHost);
  } catch {
    return null;
  }
  if (!st.isFile()) return null;
  linkSync(prevHost, out);
  return { path, type: 'file', mode: Number(st.mode & 0o7777n), size: Number(st.size), sha256: prev.sha256 };
}

/**
 * The stat cache of the image layer (and the secure image's, see verify.ts): written last,
 * after every link and unlink of shared inodes, since each changes their ctime. A file this
 * build copied is a new inode nothing links or unlinks afterwards: its key is the one the copy
 * read after its last write or chmod. Linked files (reused from the previous build) are stat'ed now.
 */
async function writeStatCaches(
  p: InstancePaths,
  staged: { entries: ManifestEntry[]; reused: number; copiedKeys: Map<string, string> },
  rootMac: string | null,
  mark: (stage: string) => void,
): Promise<void> {
  const { entries, reused } = staged;
  // With links, one native stat walk of the layer instead of an lstat call per file from JS.
  const keys = reused
    ? new Map((await statTreeAsync(p.hostRootfs)).map((e) => [`/${e.rel}`, e.key]))
    : staged.copiedKeys;
  const pause = yielder();
  const cache: StatCache = {};
  for (const e of entries) {
    if (e.type === 'file') cache[e.path] = keys.get(e.path) ?? statKey(join(p.hostRootfs, e.path));
    const w = pause();
    if (w) await w;
  }
  writeFileAtomic(p.hostStatCache, JSON.stringify(cache));
  mark('statcache');
  if (rootMac) await writeSecureStamp(p, rootMac, pause);
  mark('securecache');
}

/** Wipes run/ like Occlum (unless keepRun) and recreates its directories. */
function resetRun(p: InstancePaths, opts: BuildOptions, warnings: string[]): void {
  if (!opts.keepRun) rmSync(p.run, { recursive: true, force: true });
  try {
    ensureRunDirs(p, [p.runRoot, p.runInitfsRoot, p.hostUpper, p.hostWork, p.hostSefs]);
  } catch (err) {
    // --keep-run kept a run/ the sandbox will refuse; the build itself is in place.
    if (!(err instanceof BackendError)) throw err;
    warnings.push(err.message);
  }
}

/** Bench switches (test/bench/watch.bench.ts compares both in one run). */
export const buildTuning = { overlapPack: true };

const LOCK = '.occlum-studio-build.lock';

/** The live process holding a build lock file, if any. */
function lockHolder(file: string): { pid: number; startTime: string } | null {
  let holder: { pid: number; startTime: string } | null;
  try {
    holder = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null; // none, or half-written by a killed build: stale
  }
  return holder && isAlive(holder.pid, holder.startTime) ? holder : null;
}

/** Whether a build of the instance runs now (in any process). */
export function buildRunning(dir: string): boolean {
  return lockHolder(join(dir, LOCK)) !== null;
}

/** One build per instance at a time; a lock left by a killed build is taken over. */
function takeBuildLock(dir: string): () => void {
  const file = join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      try {
        writeSync(fd, JSON.stringify({ pid: process.pid, startTime: procInfo(process.pid)?.startTime ?? '' }));
      } catch (err) {
        closeSync(fd);
        rmSync(file, { force: true });
        throw withPath(err, file);
      }
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = lockHolder(file);
      if (holder && holder.pid !== process.pid) {
        throw new BackendError(
          `another build of this instance is running (pid ${holder.pid}); wait for it to finish`,
          1,
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw new BackendError(`cannot take the build lock ${file}`, 1);
}

/**
 * Removes a tree off the main thread: `rm -rf` in its own process unlinks thousands of files
 * several times faster than node's rm (one thread-pool round trip per file); node's rm if that
 * fails. Never rejects.
 */
function removeTree(path: string): Promise<void> {
  return new Promise<void>((resolve) => {
    const child = spawn('rm', ['-rf', '--', path], { stdio: 'ignore' });
    child.on('error', () => resolve(rm(path, { recursive: true, force: true }).catch(() => {})));
    child.on('close', (code) =>
      code === 0 ? resolve() : resolve(rm(path, { recursive: true, force: true }).catch(() => {})),
    );
  });
}

/** Temp build dirs of killed builds (safe to remove while holding the lock). */
function removeStaleTemps(dir: string): void {
  for (const name of readdirSync(dir))
    if (name.startsWith('.build.tmp-')) rmSync(join(dir, name), { recursive: true, force: true });
}

export async function hostBuild(
  dir: string,
  opts: BuildOptions,
  onProgress?: (p: BuildProgress) => void,
): Promise<BuildResult> {
  const p = instancePaths(dir);
  if (readStatusFile(dir) === null) throw new BackendError(notAnInstance(dir), 1, [NOT_INITIALIZED]);
  const unlock = takeBuildLock(dir);
  try {
    removeStaleTemps(dir);
    recoverInterruptedBuild(p);
    recoverInPlace(p);
    return await buildLocked(dir, p, opts, onProgress);
  } finally {
    unlock();
  }
}

async function buildLocked(
  dir: string,
  p: InstancePaths,
  opts: BuildOptions,
  onProgress?: (p: BuildProgress) => void,
): Promise<BuildResult> {
  const t0 = performance.now();
  const mark = stopwatch(lastTimes.build);
  const progress = (phase: BuildProgress['phase'], message: string, extra: Partial<BuildProgress> = {}) =>
    onProgress?.({ phase, message, ...extra });
  let diagnostics: string[] = [];
  const fail = (errors: string[], problems: PreflightProblem[] = [], warnings: string[] = []): BuildResult => ({
    ...(diagnostics.length ? { diagnostics } : {}),
    ok: false,
    rootMac: null,
    configMac: '',
    filesStaged: 0,
    filesReused: 0,
    ms: performance.now() - t0,
    problems,
    errors,
    warnings,
  });

  // 1. validate
  progress('validate', 'Checking Occlum.json');
  let text: string;
  try {
    text = readConfigText(p.config, 'Occlum.json');
  } catch (err) {
    if (err instanceof UnsafeFileError) return fail([err.message]);
    return fail([`cannot read ${p.config}: an instance needs its Occlum.json (run init, or restore the file)`]);
  }
  const check = checkConfig(text);
  if (check.family === 'ngo') {
    return fail([
      `Occlum.json: ${check.detection.reasons.join('; ')}: a config of the NGO / 1.0-preview branches; ` +
        'the host backend builds configs of released Occlum (0.10 – 0.31): start from `occlum-studio init`',
    ]);
  }
  diagnostics = check.diagnostics
    .filter((d) => d.severity === 'error' || d.severity === 'warning')
    .flatMap((d) => formatDiagnostic('Occlum.json', d));
  const warnings: string[] = [];
  const errorCount = check.counts.error;
  if (errorCount > 0) {
    // Each error as in diagnostics (printers skip those), then the count.
    const each = check.diagnostics
      .filter((d) => d.severity === 'error')
      .map((d) => formatDiagnostic('Occlum.json', d)[0]!);
    return fail([...each, `Occlum.json has ${errorCount} error${errorCount === 1 ? '' : 's'}: the build needs none`]);
  }
  let runtime;
  try {
    runtime = readRuntimeConfig(text);
  } catch (err) {
    if (err instanceof RuntimeConfigError) return fail([err.message], [], warnings);
    throw err;
  }
  mark('validate');
  if (!existsSync(p.image))
    return fail(
      [`${p.image} does not exist: put the program and its files under image/ (init creates it)`],
      [],
      warnings,
    );

  // 2. preflight every program under the entry points
  progress('preflight', `Checking programs under ${runtime.entryPoints.join(', ')}`);
  const results = preflightImage(p.image, runtime.entryPoints);
  const problems = results.flatMap((r) => r.problems);
  mark('preflight');
  if (preflightErrors(results).length)
    return fail(
      ['some programs under the entry points cannot run in Occlum (listed above, each with its fix)'],
      problems,
      warnings,
    );

  let changed = opts.changed;
  if (!changed && opts.sinceLastBuild && !opts.force && !opts.imageKey && existsSync(p.hostManifest)) {
    progress('compare', 'Comparing image/ with the last build');
    changed =
      (await changesSinceBuild(p, (done, total) =>
        progress('compare', 'Comparing image/ with the last build', { progress: { done, total } }),
      )) ?? undefined;
    mark('compare');
    if (changed)
      progress('compare', `${changed.length} path${changed.length === 1 ? '' : 's'} changed since the last build`);
  }
  if (changed && !opts.force && !opts.imageKey) {
    progress('stage', 'Updating the build in place');
    let r;
    try {
      r = await buildInPlace(p, text, changed, mark);
    } catch (err) {
      recoverInPlace(p); // the last good build, as it was
      throw err;
    }
    if (r) {
      resetRun(p, opts, warnings);
      writeStatusFile(dir, 'built');
      mark('run-reset');
      return {
        ok: true,
        rootMac: r.rootMac,
        configMac: r.configMac,
        filesStaged: r.files,
        imageFiles: r.leaves,
        filesReused: r.reused,
        ms: performance.now() - t0,
        problems,
        errors: [],
        warnings,
        ...(diagnostics.length ? { diagnostics } : {}),
      };
    }
  }

  // 3. stage the image layer in a temp build dir (replacing build/: this process's guard of it goes)
  dropGuard(p);
  const tmp = mkdtempSync(join(dir, '.build.tmp-'));
  // The build before the last one, kept until now (see commit below): removed off the main
  // thread while this build stages and packs.
  const superseded = join(p.build, SUPERSEDED);
  const clearing = existsSync(superseded) ? removeTree(superseded) : Promise.resolve();
  try {
    const t = buildPaths(tmp);
    progress('stage', 'Staging the image layer');
    // The packer reads image/ itself (native, off the main thread), so it runs while the image
    // layer is staged; its progress is reported once staging is done, phases in order.
    mkdirSync(t.buildMount, { recursive: true });
    let staging = true;
    const packing = packSecureImage({
      src: p.image,
      outRoot: t.buildRoot,
      macFile: t.rootMac,
      previousRoot: opts.force ? null : p.buildRoot,
      imageKeyFile: opts.imageKey ?? null,
      onProgress: (pr) => {
        if (!staging) progress('pack', 'Building new image...', { progress: pr });
      },
    });
    if (!buildTuning.overlapPack) await packing;
    let staged;
    try {
      staged = await stageRootfs(p.image, t.hostRootfs, p, !!opts.force, (n) => {
        if (n % 200 === 0) progress('stage', 'Staging the image layer', { progress: { done: n, total: 0 } });
      });
    } catch (err) {
      await packing; // never rejects; it writes into tmp, which is removed below
      throw err;
    }
    staging = false;
    const { entries, reused } = staged;
    mark('stage');
    const manifest: Manifest = { version: 1, entries };
    const manifestText = JSON.stringify(manifest);
    writeFileSync(t.hostManifest, manifestText);
    mark('manifest');

    // 4. the secure image (Occlum's SEFS format) when the engine is available
    progress('pack', 'Building new image...');
    const packed = await packing;
    mark('pack-wait');
    if (!packed.ok && opts.imageKey) {
      // Encryption was asked for: an unencrypted build would be a silent downgrade.
      rmSync(tmp, { recursive: true, force: true });
      return fail([packed.note.replace(/; runs are pinned.*$/, '')], problems, warnings);
    }
    if (!packed.ok) warnings.push(packed.note);
    if (packed.ok && opts.imageKey) storeImageKey(opts.imageKey, t.hostImageKey);

    // 5. internal config, protected copy, pin
    progress('config', 'Generating the internal config');
    const rootMac = packed.ok ? packed.rootMac : '';
    const imageType = opts.imageKey ? 'encrypted' : 'integrity-only';
    const manifestMac = contentMac(manifestText);
    const configMac = writeBuildConfig(tmp, t.hostBuild, text, rootMac, manifestMac, imageType, packed.ok, false).mac;
    mark('config');
    // 6. commit: swap build dirs, then wipe run/ like Occlum
    progress('commit', 'Installing the new build');
    await clearing;
    const old = `${p.build}.old`;
    rmSync(old, { recursive: true, force: true });
    if (existsSync(p.build)) renameSync(p.build, old);
    renameSync(tmp, p.build);
    // The dev loop's next build updates this image in place: the engine keeps what it packed.
    if (packed.ok) await securePackMoved(t.buildRoot, p.buildRoot);
    // The replaced build is moved into the new one, not deleted: deleting it now would cost
    // ~50 ms of unlinks on a 2000-file image, and each unlink of a hard link it shares with
    // this build changes that inode's ctime, which would void the stat caches written next.
    // The next build removes it in the background before it writes its own stat caches.
    if (existsSync(old)) renameSync(old, superseded);
    mark('commit');
    // Hash-verified at build: prime the stat caches now that no link count changes any more.
    await writeStatCaches(p, staged, packed.ok ? packed.rootMac : null, mark);
    resetRun(p, opts, warnings);
    writeStatusFile(dir, 'built');
    mark('run-reset');
    return {
      ok: true,
      rootMac: packed.ok ? packed.rootMac : null,
      configMac,
      filesStaged: entries.length,
      imageFiles: entries.filter((e) => e.type !== 'dir').length,
      filesReused: reused,
      ms: performance.now() - t0,
      problems,
      errors: [],
      warnings,
      ...(diagnostics.length ? { diagnostics } : {}),
    };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  } finally {
    if (existsSync(tmp)) rmSync(tmp, { recursive: true, force: true });
  }
}
