// Everything between "run /bin/app args" and a sandbox command line: Occlum's state and path
// checks with its messages, verification of the build, loader preflight, mount plan,
// environment, limits and the fork filter.
import { existsSync, rmSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { occlumLaunchError, occlumLoaderLog, preflightFile } from '../../elf/preflight.ts';
import { instancePaths, type InstancePaths } from '../../instance/layout.ts';
import { readStatusFile } from '../../instance/status.ts';
import { OCCLUM_GLIBC_LIB, programEnv, withOcclumGlibcPath } from '../../sandbox/env.ts';
import { writeHostFiles } from '../../sandbox/host-files.ts';
import { forkShimPath, sandboxIdentity, stagerPath } from '../../sandbox/identity.ts';
import { ForkWatch } from '../../sandbox/fork-watch.ts';
import { MountError, missingMountPoints, planMounts, type LayerDirs, type MountPlan } from '../../sandbox/mounts.ts';
import { MEASURE_RLIMITS, rlimitsFor } from '../../sandbox/rlimits.ts';
import { readRuntimeConfig, RuntimeConfigError, type RuntimeConfig } from '../../sandbox/runtime-config.ts';
import { missingTools, type ProgramSpec } from '../../sandbox/launch.ts';
import { BackendError, type RunOptions } from '../types.ts';
import { buildRunning, NOT_INITIALIZED, notAnInstance, recoverInterruptedBuild } from './build.ts';
import { recoverInPlace } from './in-place.ts';
import { ensureRunDirs, ensureSeccompFile } from './run-state.ts';
import type { RuntimeLog } from './log.ts';
import { verifyForRun, type RunVerification } from './verify-run.ts';
import { fullCheckLine } from './guard.ts';
import { lastTimes, stopwatch } from './timing.ts';
import { formatSize, MB } from '../../config/sizes.ts';
import { bomFiles } from '../../watch/bom-consent.ts';
import { loadSettings } from '../../watch/settings.ts';
import { jvmDefaultHeap, occlumRlimitAs } from '../../sizing/jvm.ts';

export const NOT_BUILT = 'Error: the Occlum image and enclave are not built yet. Need to run "occlum build" first.';

export function layerDirs(p: InstancePaths): LayerDirs {
  return {
    lower: p.hostRootfs,
    upper: p.hostUpper,
    work: p.hostWork,
    merged: p.hostMerged,
    ramfs: p.hostRamfs,
    sefs: p.hostSefs,
  };
}

/** The fix for NOT_BUILT, for the CLI and the panes alike. */
export const buildFirst = (dir: string): string =>
  'the instance is not built yet (host backend): build it first ' +
  `(b in the Build pane, or occlum-studio build --backend host -C ${dir})`;

/** Occlum's state checks: initialised, then built (run/mount/__ROOT exists, spec 1.2). */
export function requireBuilt(p: InstancePaths): void {
  if (readStatusFile(p.dir) === null) throw new BackendError(notAnInstance(p.dir), 1, [NOT_INITIALIZED]);
  // A build killed between its two directory renames, or while recreating run/, is completed
  // here: the last good build stays runnable (unlike Occlum, which wipes run/ first).
  recoverInterruptedBuild(p);
  if (!buildRunning(p.dir)) recoverInPlace(p);
  // Occlum's own line names `occlum build`; the message says how to build here.
  if (!existsSync(p.hostPin) || !existsSync(p.hostRootfs)) throw new BackendError(buildFirst(p.dir), 1, [NOT_BUILT]);
  ensureRunDirs(p, [p.runRoot, p.runInitfsRoot, p.hostUpper, p.hostWork, p.hostSefs]);
}

/** Launch failures exit 127 with the LibOS + PAL lines (spec 1.3.1). */
function launchError(occlum: string, explanation: string, log: RuntimeLog): BackendError {
  log.error('process', `${occlum}: ${explanation}`);
  const errno = occlum.split(' ')[0];
  return new BackendError(explanation, 127, [
    `failed to boot up LibOS: ${occlum}`,
    `[ERROR] occlum-pal: occlum_ecall_new_process returns ${errno}`,
  ]);
}

export function isUnderEntryPoint(path: string, entryPoints: string[]): boolean {
  return entryPoints.some((ep) => {
    const e = ep.replace(/\/+$/, '');
    return e === '' || path === e || path.startsWith(e + '/');
  });
}

/** Occlum's program path checks, in its order (spec 5.1, do_spawn). */
export function checkProgramPath(path: string, entryPoints: string[], log: RuntimeLog): void {
  if (!path.startsWith('/')) {
    throw launchError(
      'EINVAL (#22, Invalid argument): program path must be absolute',
      `"${path}" is not absolute: give the path inside the image, e.g. /bin/${posix.basename(path)}`,
      log,
    );
  }
  if (path.split('/').includes('..')) {
    throw launchError(
      'EINVAL (#22, Invalid argument): program path cannot contain any parent component',
      `"${path}" contains "..": give a plain absolute path`,
      log,
    );
  }
  if (!isUnderEntryPoint(path, entryPoints)) {
    throw launchError(
      'EACCES (#13, Permission denied): program path is NOT a valid entry point',
      `${path} is not under an entry point (${entryPoints.join(', ')}); move the program there or add its directory to entry_points in Occlum.json and build`,
      log,
    );
  }
}

export interface PreparedProgram {
  paths: InstancePaths;
  cfg: RuntimeConfig;
  plan: MountPlan;
  spec: ProgramSpec;
  /** The check of the build before the launch (what it looked at, how long it took). */
  verification: RunVerification;
}

/** The log record of a passed verification: what was checked and how long it took. */
function verifiedLine(v: RunVerification, full: boolean): string {
  const what = v.incremental
    ? `what changed since the last verified state (${v.layerMs.toFixed(1)} ms${v.hashedBytes ? `, ${v.hashedBytes} bytes re-hashed` : ''}${v.secure.stamped ? '' : ', secure image MAC chain'})`
    : `config pin, manifest and image layer (${v.layerMs.toFixed(1)} ms${full ? ', full content hash' : ''})${v.secure.checked ? `, secure image MAC chain (${v.secureMs.toFixed(1)} ms${v.secure.stamped ? ', unchanged since the build' : ''})` : ''}`;
  return `Build verified: ${what}`;
}

/** The bom files the dev loop copies (pinned read-only where a hostfs mount shows them); none if unreadable. */
function devLoopBoms(dir: string): string[] {
  try {
    return bomFiles(loadSettings(dir).settings, dir);
  } catch {
    return []; // broken settings: the loop copies nothing until they are fixed
  }
}

/** Config + plan for an instance (used by start, which has no program yet). */
export async function prepareSession(dir: string, opts: RunOptions, log: RuntimeLog, resetTemporary: boolean) {
  const p = instancePaths(dir);
  const mark = stopwatch(lastTimes.run);
  requireBuilt(p);
  const tools = missingTools();
  if (tools.length) {
    throw new BackendError(
      `the host backend needs ${tools.join(', ')} on this machine: install bubblewrap and util-linux (apt-get install bubblewrap util-linux mount)`,
      1,
    );
  }
  log.info('entry', `Host runtime booting: instance ${dir} (host backend: no SGX enclave, no attestation)`);
  mark('checks');
  const v = await verifyForRun(p, !!opts.fullVerify);
  mark('verify');
  if (!v.ok) {
    for (const m of v.problems) log.error('fs', m);
    throw new BackendError(`refusing to run a tampered build: ${v.problems.join('; ')}`, 1);
  }
  if (v.secure.unchecked) log.warn('fs', `the secure image build/mount/__ROOT was not checked: ${v.secure.unchecked}`);
  log.info('fs', verifiedLine(v, !!opts.fullVerify));
  if (v.guard?.first) log.warn('fs', `${fullCheckLine(v.guard)}; fix: ${v.guard.fix}`);
  let cfg: RuntimeConfig;
  let plan: MountPlan;
  try {
    cfg = readRuntimeConfig(v.sysText!, 'build/.Occlum_sys.json.protected');
    plan = planMounts(cfg, dir, layerDirs(p), devLoopBoms(dir));
  } catch (err) {
    if (err instanceof MountError || err instanceof RuntimeConfigError) {
      const occlum = err instanceof MountError && err.occlum ? [`failed to boot up LibOS: ${err.occlum}`] : [];
      log.error('fs', err.message);
      throw new BackendError(err.message, 1, occlum);
    }
    throw err;
  }
  for (const w of plan.warnings) log.warn('fs', w);
  const missing = missingMountPoints(plan);
  if (missing.length) {
    const msg = `mount point${missing.length > 1 ? 's' : ''} ${missing.join(', ')} missing in the root file system: create ${missing.map((m) => `image${m}`).join(', ')} and build`;
    log.error('fs', msg);
    throw new BackendError(msg, 1, [
      'failed to boot up LibOS: ENOENT (#2, No such file or directory): mount point does not exist',
    ]);
  }
  const L = plan.layers;
  if (resetTemporary) for (const t of plan.temporary) rmSync(t, { recursive: true, force: true });
  const dirs = [L.upper, L.work, L.merged, L.ramfs, L.sefs];
  for (const m of plan.mounts) {
    if (m.kind === 'tmpfs') dirs.push(m.staging);
    if (m.kind === 'bind' && m.source.startsWith(L.sefs + '/')) dirs.push(m.source);
    log.debug('fs', `Mount ${m.kind === 'bind' ? `${m.from.type} ${m.source}` : m.kind} at ${m.target}`);
  }
  try {
    ensureRunDirs(p, dirs);
  } catch (err) {
    if (err instanceof BackendError) log.error('fs', err.message);
    throw err;
  }
  if (resetTemporary) {
    const names = writeHostFiles(L.upper).map((f) => `/etc/${f}`);
    if (names.length)
      log.debug('fs', `Host ${names.join(', ')} written into the root file system, as Occlum does at boot`);
  }
  mark('plan');
  return { p, cfg, plan, verification: v };
}

export async function prepareProgram(
  dir: string,
  path: string,
  args: string[],
  opts: RunOptions,
  log: RuntimeLog,
  resetTemporary: boolean,
): Promise<PreparedProgram> {
  const { p, cfg, plan, verification } = await prepareSession(dir, opts, log, resetTemporary);
  const tProgram = performance.now();
  checkProgramPath(path, cfg.entryPoints, log);
  // The program may come from the image layer or have been written into the run layer.
  const inUpper = existsSync(join(plan.layers.upper, path));
  const pf = preflightFile(inUpper ? plan.layers.upper : plan.layers.lower, path);
  const err = pf.problems.find((x) => x.severity === 'error' && !(inUpper && x.code === 'loader-missing'));
  if (err) {
    const lines = occlumLaunchError(err);
    const loaderLog = occlumLoaderLog(err);
    if (loaderLog) log.warn('process', loaderLog);
    log.error('process', `${err.occlum}: ${err.explanation}`);
    throw new BackendError(`${err.explanation}; fix: ${err.fix}`, 127, lines);
  }
  for (const w of pf.problems.filter((x) => x.severity === 'warning')) log.warn('process', `${w.explanation}`);
  for (const n of pf.problems.filter((x) => x.severity === 'note')) {
    log.info('process', `${path}: ${n.occlum}: ${n.explanation}`);
  }
  const { env: ownEnv, missing } = programEnv(cfg.envDefault, cfg.envUntrusted, opts.env ?? process.env);
  const layers = [plan.layers.lower, plan.layers.upper];
  const glibcLibs = pf.libc === 'glibc' && layers.some((l) => existsSync(join(l, OCCLUM_GLIBC_LIB)));
  const env = glibcLibs ? withOcclumGlibcPath(ownEnv) : ownEnv;
  if (glibcLibs) {
    log.debug('process', `glibc program: LD_LIBRARY_PATH gets ${OCCLUM_GLIBC_LIB}, Occlum's glibc's built-in path`);
  }
  for (const m of missing) log.debug('config', `env.untrusted: ${m} is not set by the caller; not passed`);
  checkEnvSizes(env);
  const denyFork = opts.denyFork !== false;
  const seccompFile = denyFork ? p.hostSeccompNoFork : p.hostSeccompAllowFork;
  const wrong = ensureSeccompFile(p, denyFork ? 'deny' : 'allow');
  if (wrong) log.warn('process', `run/host/${basename(seccompFile)} was ${wrong} (a full disk or an edit); rewrote it`);
  if (denyFork) {
    log.debug(
      'process',
      'fork() is denied as in Occlum (seccomp: fork and clone without CLONE_VM/CLONE_VFORK return ENOSYS)',
    );
  } else {
    log.warn(
      'process',
      'fidelity switch: fork() is allowed (Occlum has no fork; a program that forks will fail in the enclave)',
    );
  }
  lastTimes.run.program = performance.now() - tProgram;
  // A JVM without a maximum heap takes a quarter of the RAM it sees: in Occlum the user space
  // (sysinfo), here the host's, and up to half of RLIMIT_AS (user_space_size here), which can
  // then exceed it. It gets the heap it takes in Occlum; a sizing run chose its own.
  const p0 = cfg.process;
  const jvmHeap = opts.measure
    ? null
    : jvmDefaultHeap(
        path,
        args,
        cfg.envDefault,
        cfg.limits.userSpace ?? 300 * MB,
        occlumRlimitAs(p0.heapSize, p0.stackSize, p0.mmapSize),
      );
  if (jvmHeap) {
    log.info(
      'process',
      `a JVM without -Xmx takes a quarter of the user space in Occlum (its RAM there): run with ` +
        `-XX:MaxHeapSize=${formatSize(jvmHeap)}, as in Occlum`,
    );
  }
  const spec: ProgramSpec = {
    plan,
    argv: jvmHeap ? [path, `-XX:MaxHeapSize=${jvmHeap}`, ...args] : [path, ...args],
    env,
    rlimits: opts.measure ? MEASURE_RLIMITS : rlimitsFor(cfg),
    seccompFile,
    identity: sandboxIdentity(),
    stager: stagerPath(),
  };
  return { paths: p, cfg, plan, spec, verification };
}

/**
 * A run's fork rule through the fork shim and a fork watch, so that each attempt is known
 * (docs/security.md, "Fork attempts"): only for stager launches (the shim's descriptors are the
 * stager's to pass) of a program that may not fork. Otherwise the spec is unchanged, and bwrap's
 * own filter denies fork without a count.
 */
export function watchForks(prep: PreparedProgram, log: RuntimeLog): { spec: ProgramSpec; watch: ForkWatch | null } {
  const { spec } = prep;
  const shim = forkShimPath();
  if (spec.seccompFile !== prep.paths.hostSeccompNoFork || !spec.stager || !shim) return { spec, watch: null };
  const watch = ForkWatch.open();
  if (!watch) return { spec, watch: null };
  const wrong = ensureSeccompFile(prep.paths, 'notify');
  if (wrong) log.warn('process', `run/host/seccomp-forkwatch.bpf was ${wrong} (a full disk or an edit); rewrote it`);
  const seccompFile = prep.paths.hostSeccompForkWatch;
  return { spec: { ...spec, seccompFile, forkWatch: { socket: watch.socket, shim } }, watch };
}

/** Linux copies at most this many bytes per argument or environment string into a new process. */
const MAX_ARG_STRLEN = 128 * 1024;

/** A too-long entry would make spawn fail with E2BIG; say which one and where it comes from. */
function checkEnvSizes(env: [string, string][]): void {
  for (const [key, value] of env) {
    const bytes = Buffer.byteLength(key) + Buffer.byteLength(value) + 2;
    if (bytes <= MAX_ARG_STRLEN) continue;
    throw new BackendError(
      `the environment entry ${key.slice(0, 64)}=… is ${bytes} bytes; Linux passes at most ${MAX_ARG_STRLEN} bytes per ` +
        "environment string to a new process (E2BIG): shorten it in Occlum.json (env.default) or in the caller's " +
        'environment (env.untrusted), or pass the data in a file',
      1,
    );
  }
}
