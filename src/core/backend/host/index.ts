// The host backend: Occlum's instance, build and run semantics with a bubblewrap sandbox in
// place of the enclave. See docs/backends.md for what it is and is not.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsc, existsSync, fstatSync, openSync, readFileSync, rmSync, closeSync, mkdirSync } from 'node:fs';
import { typeName } from '../../instance/safe-read.ts';
import { join } from 'node:path';
import { initInstance, newInstance } from '../../instance/init.ts';
import { buildPaths, instancePaths } from '../../instance/layout.ts';
import { readStatusFile } from '../../instance/status.ts';
import { writeFileAtomic } from '../../instance/atomic.ts';
import {
  execLaunch as execLaunchRaw,
  goMessage,
  inCgroups,
  occlumExitStatus,
  READY_LINE,
  runLaunch as runLaunchRaw,
  SandboxError,
  serverLaunch as serverLaunchRaw,
  type Launch,
} from '../../sandbox/launch.ts';
import {
  BackendError,
  type Backend,
  type BackendEvents,
  type BuildOptions,
  type BuildResult,
  type LiveStatus,
  type PreparedLaunch,
  type ProcessExit,
  type RunOptions,
  type VerifyOutcome,
} from '../types.ts';
import { sandboxIdentity, stagerPath } from '../../sandbox/identity.ts';
import { hostBuild } from './build.ts';
import { RuntimeLog } from './log.ts';
import { allPids, descendants, exeOf, isAlive, namespaceOf, procInfo, signal } from './procs.ts';
import { prepareProgram, prepareSession, requireBuilt, watchForks } from './program.ts';
import type { ForkWatch } from '../../sandbox/fork-watch.ts';
import { forkAttemptsText } from '../../logs/fork-hint.ts';
import { verifyBuild, verifyPackedImage } from './verify.ts';
import { lastTimes } from './timing.ts';
import { WarmTerminal } from './warm.ts';
import type { PtySize } from '../../pty/session.ts';
import { hostOpenFs } from './fs-view.ts';
import type { FsView } from '../../securefs/types.ts';
import { RunCgroup, runCgroupName } from '../../sandbox/cgroup.ts';
import { treeLimitsFor } from '../../sandbox/tree-limits.ts';
import { beginExecLimits, createServerLimits, removeServerLimits } from '../../sandbox/server-limits.ts';
import type { RuntimeConfig } from '../../sandbox/runtime-config.ts';

export const SERVER_STARTED = 'Error: the server of current Occlum instance has been started.';
export const SERVER_NOT_STARTED = 'Error: the server of current Occlum instance has not been started.';
/** The fix after Occlum's line, in the occlum backend's words. */
const START_FIRST =
  'the server of this instance is not running: start it first (s in the Run pane, or occlum-studio start)';
export const RUN_BUSY =
  'Error: the process of current Occlum instance is running. Need to wait for the process to finish or kill it first.';

interface LiveRecord {
  pid: number;
  startTime: string;
  /** Server only: host pid of the holder, PID 1 of the server's PID namespace. */
  nsInit?: number;
  /** Server only: its cgroup (server-limits.ts), which caps all its programs together. */
  cgroup?: string;
}

const isPid = (n: unknown) => Number.isInteger(n) && (n as number) > 1;

function readLive(file: string): LiveRecord | null {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as LiveRecord;
    // Checked by content: a corrupted or forged record must not make stop signal pid 1 or an
    // unrelated process (the start time must match the live process's too).
    if (!isPid(r.pid) || typeof r.startTime !== 'string' || (r.nsInit !== undefined && !isPid(r.nsInit))) return null;
    return isAlive(r.pid, r.startTime) ? r : null;
  } catch {
    return null;
  }
}

function writeLive(file: string, pid: number, extra: Partial<LiveRecord> = {}): void {
  const info = procInfo(pid);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileAtomic(file, JSON.stringify({ pid, startTime: info?.startTime ?? '', ...extra }) + '\n');
}

/** What an exit status means, in words (Run pane banner, CLI logs). */
export function describeExit(status: number): string {
  if (status === 0) return 'exited normally';
  if (status === 127) return 'could not launch (127), or the program exited with 127';
  if (status > 128) return `killed by signal ${status - 128}`;
  return `exited with status ${status}`;
}

/** Sandbox setup problems (e.g. an instance path overlayfs cannot mount) as clean user errors. */
function sandboxed<A extends unknown[], R>(fn: (...a: A) => R): (...a: A) => R {
  return (...a) => {
    try {
      return fn(...a);
    } catch (err) {
      if (err instanceof SandboxError) throw new BackendError(err.message, 1);
      throw err;
    }
  };
}
const runLaunch = sandboxed(runLaunchRaw);
const execLaunch = sandboxed(execLaunchRaw);
const serverLaunch = sandboxed(serverLaunchRaw);
const warmGo = sandboxed(goMessage);

/**
 * What the enclave would have logged when the tree hit a limit, so that the Logs and Run panes
 * offer the same hints (and sizing) as for a real Occlum run.
 */
function limitRecords(cgroup: RunCgroup, cfg: RuntimeConfig, log: RuntimeLog): void {
  const { tasksRefused, oomKills } = cgroup.events();
  if (tasksRefused > 0) {
    log.pal(
      `Out of TCS (SGX error 0x1003): ${tasksRefused} thread or process creation(s) refused at ` +
        `max_num_of_threads = ${cfg.limits.maxThreads} (host backend: cgroup pids.max)`,
    );
  }
  if (oomKills > 0) {
    const cap = (cfg.limits.userSpace ?? 0) + (cfg.limits.kernelHeap ?? 0);
    log.pal(
      `ENOMEM (#12, Out of memory): run out of reserved memory: ${oomKills} process(es) killed at ` +
        `user_space_size + kernel heap = ${cap} bytes (host backend: memory cgroup)`,
    );
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class HostBackend implements Backend {
  readonly kind = 'host' as const;
  private readonly paths;

  constructor(
    readonly dir: string,
    private readonly events: BackendEvents = {},
  ) {
    this.paths = instancePaths(dir);
  }

  private logger(opts: RunOptions): RuntimeLog {
    const env = opts.env ?? process.env;
    return new RuntimeLog(opts.logLevel ?? env.OCCLUM_LOG_LEVEL, this.events.log);
  }

  async init(dir: string): Promise<void> {
    initInstance(dir);
  }

  async newInstance(dir: string): Promise<void> {
    newInstance(dir);
  }

  async build(opts: BuildOptions = {}): Promise<BuildResult> {
    if (readLive(this.paths.server)) {
      throw new BackendError(
        // The fix first: a status line cuts the end off.
        'stop the server first (S in the Run pane, or occlum-studio stop): it is running, and a build replaces ' +
          'the image it uses',
        1,
      );
    }
    if (readLive(this.paths.hostRunState)) throw new BackendError(RUN_BUSY, 1, [RUN_BUSY]);
    const r = await hostBuild(this.dir, opts, this.events.buildProgress);
    this.events.status?.(await this.status());
    return r;
  }

  async verify(opts: { full?: boolean } = {}): Promise<VerifyOutcome> {
    requireBuilt(this.paths);
    const v = verifyBuild(this.paths, !!opts.full);
    if (!v.ok) return { ok: false, problems: v.problems, configMs: v.configMs, imageMs: v.imageMs };
    const img = await verifyPackedImage(this.paths, v.sysText!, !!opts.full);
    return { ok: img.ok, problems: img.problems, configMs: v.configMs, imageMs: v.imageMs + img.ms, image: img.report };
  }

  /**
   * The run's cgroup: capped like the enclave (threads of all processes, user memory), or
   * uncapped for a sizing run, which reads its peaks. Without a writable cgroup hierarchy the
   * run goes on with rlimits only (a debug record says so).
   */
  private runCgroup(cfg: RuntimeConfig, opts: RunOptions, log: RuntimeLog, made?: RunCgroup): RunCgroup {
    const cg = made ?? RunCgroup.create(runCgroupName());
    if (opts.measure) return cg;
    const limits = treeLimitsFor(cfg);
    if (limits.tasks !== null && cg.setTaskLimit(limits.tasks)) {
      const n = cfg.limits.maxThreads;
      log.debug('process', `max_num_of_threads = ${n}: thread and process creation beyond it fails (cgroup pids.max)`);
    } else if (limits.tasks !== null) {
      log.debug('process', 'max_num_of_threads is not enforced: no writable cgroup pids controller on this machine');
    }
    if (limits.memory !== null && cg.setMemoryLimit(limits.memory)) {
      log.debug('process', `user space + kernel heap = ${limits.memory} bytes caps all processes together (cgroup)`);
    }
    return cg;
  }

  /** An exec's place in its server's group: the server's limits count it with the other execs. */
  private execLimits(server: LiveRecord, cfg: RuntimeConfig, log: RuntimeLog) {
    const limits = beginExecLimits(server.cgroup, cfg);
    if (limits?.tasks != null) {
      const n = limits.tasks;
      log.debug('process', `max_num_of_threads = ${n} for all programs of the server (cgroup pids.max)`);
    } else if (cfg.limits.maxThreads !== null) {
      log.debug('process', 'max_num_of_threads is not enforced for this exec: the server has no cgroup pids group');
    }
    return limits;
  }

  private finisher(
    log: RuntimeLog,
    path: string,
    lockFile: string | null,
    cgroup?: RunCgroup,
    cfg?: RuntimeConfig,
    forkWatch?: ForkWatch | null,
  ) {
    return (code: number | null, sig: NodeJS.Signals | number | null): ProcessExit => {
      if (cgroup && cfg) limitRecords(cgroup, cfg, log);
      cgroup?.remove();
      const status = occlumExitStatus(code, sig);
      const forks = forkWatch?.take();
      const exit: ProcessExit = { status, meaning: describeExit(status), ...(forks?.total ? { forks } : {}) };
      if (forks?.total)
        log.warn('process', `fork() refused with ENOSYS (Occlum has no fork): ${forkAttemptsText(forks)}`);
      log.info('process', `Process exited: elf = ${path}, status = ${status} (${exit.meaning})`);
      if (lockFile) rmSync(lockFile, { force: true });
      this.events.exit?.(exit);
      return exit;
    };
  }

  async prepareRun(path: string, args: string[], opts: RunOptions = {}): Promise<PreparedLaunch> {
    if (readLive(this.paths.server)) {
      throw new BackendError(
        // The fix first: a status line cuts the end off.
        'stop the server first (S in the Run pane, or occlum-studio stop), or use exec: the server of this instance is running and owns its run layer',
        1,
      );
    }
    if (readLive(this.paths.hostRunState)) throw new BackendError(RUN_BUSY, 1, [RUN_BUSY]);
    const log = this.logger(opts);
    const prep = await prepareProgram(this.dir, path, args, opts, log, true);
    const t0 = performance.now();
    const lock = this.paths.hostRunState;
    // A sandbox prepared ahead is already in its cgroup; the build's config gives the limits now.
    const warm = opts.warm?.usable ? opts.warm : null;
    const cgroup = this.runCgroup(prep.cfg, opts, log, warm?.cgroup);
    const { spec, watch } = watchForks(prep, log);
    let launch: Launch & Pick<PreparedLaunch, 'warm' | 'terminal'>;
    try {
      if (warm instanceof WarmTerminal) {
        const go = warmGo(spec);
        const { terminal, send, cancel } = warm.take();
        launch = { file: '', args: [], env: {}, terminal: { process: terminal, start: () => send(go), cancel } };
      } else if (warm) {
        launch = { file: '', args: [], env: {}, warm: { go: warmGo(spec), process: warm.take() } };
      } else {
        launch = runLaunch({ ...spec, cgroupProcs: cgroup.procsFiles() });
      }
    } catch (err) {
      watch?.take();
      throw err;
    }
    lastTimes.run[warm ? 'cgroup+go' : 'cgroup+argv'] = performance.now() - t0;
    return {
      ...launch,
      cgroup,
      started: (pid) => {
        writeLive(lock, pid);
        log.info('process', `Process created: elf = ${path}, host pid = ${pid}`);
        this.events.status?.('running');
      },
      finish: this.finisher(log, path, lock, cgroup, prep.cfg, watch),
    };
  }

  async prepareExec(path: string, args: string[], opts: RunOptions = {}): Promise<PreparedLaunch> {
    const server = readLive(this.paths.server);
    if (!server) {
      requireBuilt(this.paths);
      throw new BackendError(START_FIRST, 1, [SERVER_NOT_STARTED]);
    }
    const log = this.logger(opts);
    const prep = await prepareProgram(this.dir, path, args, opts, log, false);
    const limits = this.execLimits(server, prep.cfg, log);
    const launch = inCgroups(execLaunch(prep.spec, server.nsInit ?? server.pid), limits?.group.procsFiles());
    const finish = this.finisher(log, path, null, limits?.group, prep.cfg);
    return {
      ...launch,
      started: (pid) => log.info('process', `Process created: elf = ${path}, host pid = ${pid}`),
      finish: (code, sig) => {
        const exit = finish(code, sig);
        limits?.end();
        return exit;
      },
    };
  }

  prepareTerminal(size: PtySize): WarmTerminal | string {
    return WarmTerminal.start(size);
  }

  private spawnPrepared(prep: PreparedLaunch, opts: RunOptions): Promise<ProcessExit> {
    const piped = opts.stdio === 'pipe';
    const watched = typeof opts.stdio === 'object' ? opts.stdio : { stdout: piped, stderr: piped };
    const out = (p: boolean) => (p ? 'pipe' : 'inherit');
    const child = spawn(prep.file, prep.args, {
      env: prep.env,
      stdio: [out(piped), out(watched.stdout), out(watched.stderr)],
    });
    return new Promise((resolve) => {
      let done = false;
      child.on('error', (err) => {
        if (done) return;
        done = true;
        resolve(prep.finish(127, null));
        void err;
      });
      if (child.pid) prep.started?.(child.pid);
      child.stdout?.on('data', (c: Buffer) => this.events.output?.('stdout', c));
      child.stderr?.on('data', (c: Buffer) => this.events.output?.('stderr', c));
      child.stdin?.on('error', () => {});
      child.on('close', (code, sig) => {
        if (done) return;
        done = true;
        resolve(prep.finish(code, sig));
      });
      // 'close' waits for the output pipes; a process left behind in the sandbox can hold them
      // open. A moment after the launcher's own exit, its end is reported anyway.
      child.on('exit', (code, sig) => {
        setTimeout(() => {
          if (done) return;
          done = true;
          child.stdout?.destroy();
          child.stderr?.destroy();
          resolve(prep.finish(code, sig));
        }, 300).unref();
      });
      this.lastChild = child;
    });
  }

  /** The child of the last run/exec started with piped stdio (tests write to its stdin). */
  lastChild: ChildProcess | null = null;

  async run(path: string, args: string[], opts: RunOptions = {}): Promise<ProcessExit> {
    return this.spawnPrepared(await this.prepareRun(path, args, opts), opts);
  }

  async exec(path: string, args: string[], opts: RunOptions = {}): Promise<ProcessExit> {
    return this.spawnPrepared(await this.prepareExec(path, args, opts), opts);
  }

  /** `occlum start`: mounts the root layers once in a long-lived private namespace. */
  async start(opts: RunOptions = {}): Promise<void> {
    if (readLive(this.paths.server)) throw new BackendError(SERVER_STARTED, 1, [SERVER_STARTED]);
    if (readLive(this.paths.hostRunState)) throw new BackendError(RUN_BUSY, 1, [RUN_BUSY]);
    const log = this.logger(opts);
    const { plan, cfg } = await prepareSession(this.dir, opts, log, true);
    const limits = createServerLimits(cfg);
    const launch: Launch = inCgroups(serverLaunch(plan, sandboxIdentity(), stagerPath()), limits.holderProcs);
    const logFile = this.paths.hostServerLog;
    // Not through a link planted in run/host: root would append to wherever it points. Nor into a
    // FIFO (the open would block the studio until a reader came) or a device a root tar extracted.
    let errFd: number;
    try {
      errFd = openSync(logFile, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW | fsc.O_NONBLOCK, 0o644);
      const st = fstatSync(errFd);
      if (!st.isFile()) {
        closeSync(errFd);
        throw Object.assign(new Error(typeName(st)), { code: 'ENOTREGULAR' });
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const what =
        code === 'ELOOP'
          ? 'is a symbolic link'
          : code === 'ENOTREGULAR'
            ? `is ${(err as Error).message}, not a regular file`
            : code === 'ENXIO'
              ? 'is a FIFO (named pipe), not a regular file'
              : `cannot be opened (${code})`;
      removeServerLimits(limits.name);
      throw new BackendError(`${logFile} ${what}; the server writes its log there: remove it and start again`, 1);
    }
    const child = spawn(launch.file, launch.args, {
      env: launch.env,
      stdio: ['ignore', 'pipe', errFd],
      detached: true,
    });
    closeSync(errFd);
    const ready = await new Promise<boolean>((resolve) => {
      let out = '';
      const timer = setTimeout(() => resolve(false), 15_000);
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes(READY_LINE)) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      child.on('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
      child.on('error', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (!ready || !child.pid) {
      try {
        if (child.pid) process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      removeServerLimits(limits.name);
      const why = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
      throw new BackendError(`start server failed: the sandbox namespace did not come up${why ? ` (${why})` : ''}`, 1);
    }
    child.stdout!.destroy();
    child.unref();
    // unshare --fork: the holder (PID 1 of the new PID namespace) is unshare's only child.
    const nsInit = descendants([child.pid]).find((p) => namespaceOf(p, 'pid') !== namespaceOf(child.pid!, 'pid'));
    if (!nsInit) {
      signal([child.pid], 'SIGKILL');
      removeServerLimits(limits.name);
      throw new BackendError('start server failed: the sandbox PID namespace did not come up', 1);
    }
    writeLive(this.paths.server, child.pid, { nsInit, cgroup: limits.name });
    log.info('entry', `Server started: holder pid = ${child.pid}`);
    if (limits.tasks !== null)
      log.debug('process', `max_num_of_threads = ${limits.tasks} for all execs (cgroup pids.max)`);
    this.events.status?.('serving');
  }

  /** Programs of a server: members of its PID namespace other than the holder and bwrap monitors. */
  private serverMembers(nsInit: number): { programs: number[]; all: number[] } {
    const ns = namespaceOf(nsInit, 'pid');
    if (!ns) return { programs: [], all: [] };
    const all = allPids().filter((p) => p !== nsInit && namespaceOf(p, 'pid') === ns && procInfo(p) !== null);
    // bwrap monitors exit with their program; a TERM would make them SIGKILL it instead.
    return { programs: all.filter((p) => !(exeOf(p) ?? '').endsWith('/bwrap')), all };
  }

  /**
   * `occlum stop`: SIGTERM to every program, SIGKILL to what is left after the timeout; killing
   * the holder (PID 1 of the server's PID namespace) makes the kernel end every process in it,
   * and the mounts go with the namespace.
   */
  async stop(timeoutMs = 3000): Promise<void> {
    const server = readLive(this.paths.server);
    if (!server) {
      requireBuilt(this.paths);
      throw new BackendError(SERVER_NOT_STARTED, 1, [SERVER_NOT_STARTED]);
    }
    // Checked, not trusted: the holder must be PID 1 of a PID namespace other than ours, and the
    // launcher an unshare; a corrupted or forged server.json signals nothing else.
    const own = namespaceOf(process.pid, 'pid');
    const init = server.nsInit !== undefined && namespaceOf(server.nsInit, 'pid') !== own ? server.nsInit : null;
    const launcher = (exeOf(server.pid) ?? '').endsWith('/unshare') ? [server.pid] : [];
    const members = () => (init === null ? { programs: [], all: [] } : this.serverMembers(init));
    signal(members().programs, 'SIGTERM');
    // Wait for the bwrap monitors too: they report their program's status on exit, and killing
    // the holder first would SIGKILL them and turn a clean SIGTERM exit into 137.
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && members().all.length > 0) await sleep(25);
    const left = members().all;
    signal([...(init === null ? [] : [init]), ...left], 'SIGKILL');
    signal(launcher, 'SIGKILL');
    const end = Date.now() + 5000;
    const alive = () =>
      launcher.some((p) => isAlive(p, server.startTime)) ||
      (init !== null && isAlive(init)) ||
      left.some((p) => isAlive(p));
    while (Date.now() < end && alive()) await sleep(25);
    removeServerLimits(server.cgroup);
    rmSync(this.paths.server, { force: true });
    this.events.status?.(await this.status());
  }

  /** Image layer (packed SEFS) merged with the run layer, as the program sees `/`. */
  async openFs(opts: { layer?: 'image' | 'initfs' | 'merged' } = {}): Promise<FsView> {
    if (opts.layer === 'initfs')
      throw new BackendError('the host backend has no init stage, so no initfs image is built', 1);
    return hostOpenFs(this.dir, opts.layer === 'image' ? 'image' : 'merged');
  }

  async status(): Promise<LiveStatus> {
    const s = readStatusFile(this.dir);
    if (s === null) return 'uninitialized';
    if (readLive(this.paths.server)) return 'serving';
    if (readLive(this.paths.hostRunState)) return 'running';
    // A build interrupted between its renames is still built (repaired by the next run or build).
    if (existsSync(this.paths.hostPin) || existsSync(buildPaths(`${this.paths.build}.old`).hostPin)) return 'built';
    return 'initialized';
  }
}
