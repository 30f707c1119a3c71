// The occlum backend: drives an installed Occlum (any SGX mode) through its `occlum` script,
// exactly as the script behaves (specs/occlum-cli-config.md 1, 3.1, 4): always in the instance
// directory, never an argument that hangs `occlum init`, -f added when keys changed, a warning
// before a build wipes run/, exit statuses and messages read the way Occlum means them, the exec
// server started by the studio so its stderr (where exec launch errors appear) is captured.
import { closeSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { LogParser, type LogRecord } from '../../logs/index.ts';
import { decodeExecError, explainExit } from '../../pty/exit-status.ts';
import { instanceState, readSgxMode, type InstanceState } from '../../detect/instance-state.ts';
import { findServerProcesses, isAlive } from '../../detect/processes.ts';
import type { OcclumInstall } from '../../detect/occlum-install.ts';
import { AESM_SOCKET, cpuFlags } from '../../detect/machine.ts';
import {
  BackendError,
  type Backend,
  type BackendEvents,
  type BuildOptions,
  type BuildResult,
  type LiveStatus,
  type ProcessExit,
  type RunOptions,
  type VerifyOutcome,
} from '../types.ts';
import {
  buildArgs,
  buildEnv,
  checkProgramPath,
  initArgs,
  OcclumArgError,
  packageArgs,
  printArgs,
  runArgs,
  type OcclumBuildFlags,
} from './args.ts';
import {
  fingerprint,
  hasBuildDir,
  keyChangeReason,
  readBuildKeys,
  writeBuildKeys,
  type BuildKeys,
} from './build-keys.ts';
import { runOcclum, shellStatus, spawnOcclum, type OcclumCallResult } from './cli.ts';
import { launchInDir, type OcclumLaunch } from './launch.ts';
import { missingFeature, type CliFeature } from './cli-features.ts';
import { buildFailureCauses, buildLinePhase, optionError, stateError } from './messages.ts';
import {
  launchErrorLines,
  launchErrorSince,
  openServerLogForWrite,
  readServerLog,
  serverLogMark,
  ServerLogTail,
  serverTail,
  setServerTail,
} from './server-log.ts';
import { planMount, startMount, type MountHandle, type MountRequest } from './mount.ts';
import { openInstanceFs, type OpenFsOptions } from './secure-fs.ts';
import { instancePaths, type InstancePaths, STATUS_FILE } from '../../instance/layout.ts';
import type { FsView } from '../../securefs/index.ts';
import { readConfigText, readGeneratedText, readTextSafe, UnsafeFileError } from '../../instance/safe-read.ts';
import { ROOT_MAC_FILE } from '../../securefs/index.ts';

export interface OcclumBuildOptions extends BuildOptions, OcclumBuildFlags {}

export interface OcclumBackendOptions {
  install: OcclumInstall;
  /** Environment for every call (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Flags applied to every build unless a build overrides them (e.g. sgxMode from the UI). */
  buildDefaults?: OcclumBuildFlags;
}

/** How long `occlum stop` may take: the script itself polls for up to ~31 s, then kills. */
export const STOP_CLI_WAIT_MS = 45_000;
const INIT_TIMEOUT_MS = 120_000;
const START_TIMEOUT_MS = 300_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function isSocketFile(p: string): boolean {
  try {
    return statSync(p).isSocket();
  } catch {
    return false;
  }
}

function toRuntimeLog(r: LogRecord) {
  if (r.level === null) return null;
  return {
    time: r.time ? new Date(r.time) : new Date(),
    level: r.level,
    module: r.module ?? r.component ?? '',
    message: r.message,
    line: r.text,
  };
}

function describe(status: number, kind: 'run' | 'exec'): string {
  const e = explainExit(status, kind);
  return `${e.summary}: ${e.detail}`;
}

export class OcclumBackend implements Backend {
  readonly kind = 'occlum' as const;
  readonly dir: string;
  private readonly paths: InstancePaths;
  private readonly install: OcclumInstall;
  private readonly env: NodeJS.ProcessEnv;
  private readonly buildDefaults: OcclumBuildFlags;

  constructor(
    dir: string,
    private readonly events: BackendEvents = {},
    opts: OcclumBackendOptions,
  ) {
    this.dir = resolve(dir);
    this.paths = instancePaths(this.dir);
    this.install = opts.install;
    this.env = opts.env ?? process.env;
    this.buildDefaults = opts.buildDefaults ?? {};
  }

  private async call(args: string[], extra: Partial<Parameters<typeof runOcclum>[0]> = {}): Promise<OcclumCallResult> {
    try {
      return await runOcclum({ bin: this.install.bin, cwd: this.dir, args, env: this.env, ...extra });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT' && !existsSync(this.dir)
          ? `the instance directory ${this.dir} does not exist`
          : (e as Error).message;
      throw new BackendError(`cannot run ${this.install.bin} ${args[0] ?? ''}: ${why}`, 1);
    }
  }

  /** A refusal of the script, or a generic failure, as a BackendError with Occlum's lines. */
  private failure(what: string, r: OcclumCallResult): BackendError {
    const both = `${r.stdout}\n${r.stderr}`;
    const lines = both.split('\n').filter((l) => l.trim() !== '');
    if (r.timedOut) return new BackendError(`${what} did not finish in time and was stopped`, r.status, lines);
    const st = stateError(both);
    if (st) return new BackendError(`${what}: ${st.message}`, r.status, [st.occlumLine]);
    const opt = optionError(r.stderr);
    if (opt) return new BackendError(`${what}: occlum refused an option: ${opt}`, r.status, lines);
    const last = lines.at(-1) ?? `exit status ${r.status}`;
    return new BackendError(`${what} failed (exit ${r.status}): ${last}`, r.status, lines);
  }

  private requireFeature(feature: CliFeature): void {
    const why = missingFeature(this.install.version, feature);
    if (why) throw new BackendError(why, 2);
  }

  state(): InstanceState {
    return instanceState(this.dir);
  }

  private requireBuilt(s: InstanceState = this.state()): InstanceState {
    if (s.status === 'uninitialized')
      throw new BackendError(`${this.dir} is not an Occlum instance: initialise it first`, 1);
    if (s.status === 'initialized' || s.status === 'built-stale') {
      throw new BackendError(
        s.status === 'built-stale'
          ? `the instance is not runnable: ${s.correction ?? 'run/ is missing'}; build it again`
          : 'the instance is not built yet: build it first',
        1,
        ['Error: the Occlum image and enclave are not built yet. Need to run "occlum build" first.'],
      );
    }
    return s;
  }

  // ---- init / new -------------------------------------------------------------------------

  async init(dir: string, opts: { initRa?: string } = {}): Promise<void> {
    const target = resolve(dir);
    if (target !== this.dir) throw new BackendError(`this backend drives ${this.dir}, not ${target}`, 2);
    if (existsSync(instancePaths(target).status)) {
      throw new BackendError(`${target} is already an Occlum instance (${STATUS_FILE} exists)`, 1, [
        'Error: the current working directory has been initialized as an Occlum instance',
      ]);
    }
    const extra = this.initArgsChecked(opts);
    mkdirSync(target, { recursive: true });
    const r = await this.call(['init', ...extra], { timeoutMs: INIT_TIMEOUT_MS });
    if (r.status !== 0) throw this.halfInitialized(target, this.failure('occlum init', r));
  }

  /**
   * `occlum init` writes .__occlum_status first, so one that fails later (e.g. `cp` of Occlum's
   * musl libraries from /usr/local/occlum) leaves a directory every later init refuses.
   */
  private halfInitialized(target: string, e: BackendError): BackendError {
    const p = instancePaths(target);
    if (!existsSync(p.status) || existsSync(p.config)) return e;
    return new BackendError(
      `${e.message}; occlum init stopped half-way and ${target} is marked initialised (${STATUS_FILE}) without an Occlum.json: fix the cause, remove ${target} and initialise again`,
      e.exitCode,
      e.occlumLines,
    );
  }

  /** `--init-ra` arguments for init/new: a usage error (2) when malformed, refused when too old. */
  private initArgsChecked(opts: { initRa?: string }): string[] {
    let extra: string[];
    try {
      extra = initArgs(opts);
    } catch (e) {
      throw new BackendError((e as Error).message, 2);
    }
    if (opts.initRa !== undefined) this.requireFeature('init-ra');
    return extra;
  }

  async newInstance(dir: string, opts: { initRa?: string } = {}): Promise<void> {
    const target = resolve(dir);
    if (existsSync(target)) {
      throw new BackendError(`"${target}" already exists: choose a new path for the instance`, 1, [
        `Error: destination "${target}" already exists`,
      ]);
    }
    const extra = this.initArgsChecked(opts);
    const parent = dirname(target);
    mkdirSync(parent, { recursive: true });
    // The one subcommand that takes a path: run it from the parent with the absolute path.
    const r = await runOcclum({
      bin: this.install.bin,
      cwd: parent,
      args: ['new', target, ...extra],
      env: this.env,
      timeoutMs: INIT_TIMEOUT_MS,
    });
    if (r.status !== 0) throw this.halfInitialized(target, this.failure('occlum new', r));
  }

  // ---- build ------------------------------------------------------------------------------

  /** True when run/ holds data the program wrote (what the next build deletes). */
  runLayerHasData(): boolean {
    for (const d of [this.paths.runRoot, this.paths.runInitfsRoot]) {
      try {
        if (readdirSync(d).length > 0) return true;
      } catch {
        /* missing: nothing to lose */
      }
    }
    return false;
  }

  private currentKeys(f: OcclumBuildFlags): BuildKeys {
    return {
      signKey: fingerprint(f.signKey ?? join(this.install.root, 'etc', 'template', 'Enclave.pem'), this.dir),
      signTool: f.signTool ? fingerprint(f.signTool, this.dir) : null,
      imageKey: f.imageKey ? fingerprint(f.imageKey, this.dir) : null,
      buildinImageKey: !!f.buildinImageKey,
    };
  }

  async build(opts: OcclumBuildOptions = {}): Promise<BuildResult> {
    const started = Date.now();
    const flags: OcclumBuildFlags = { ...this.buildDefaults, ...opts };
    const warnings: string[] = [];
    // `occlum build` without --sgx-mode means HW (a clean rebuild, and AESM at run time) even when
    // the instance was built for SIM: keep the instance's mode unless one is asked for.
    if (flags.sgxMode === undefined && !this.env.SGX_MODE) {
      const current = readSgxMode(this.dir);
      if (current === 'SIM' || current === 'HYPER') flags.sgxMode = current;
    }
    const result = (ok: boolean, errors: string[], rootMac: string | null = null): BuildResult => ({
      ok,
      rootMac,
      configMac: '',
      filesStaged: 0,
      filesReused: 0,
      ms: Date.now() - started,
      problems: [],
      errors,
      warnings,
    });
    const s = this.state();
    if (s.status === 'uninitialized')
      return result(false, [`${this.dir} is not an Occlum instance: initialise it first`]);
    if (s.status === 'running' || s.status === 'serving' || s.status === 'debugging') {
      return result(false, [
        `the instance is in use (${s.status === 'serving' ? `exec server pid ${s.serverPids.join(', ')}` : `occlum-run pid ${s.runPids.join(', ')}`}): stop it before building, since a build deletes run/ under it`,
      ]);
    }
    const keys = this.currentKeys(flags);
    for (const [name, fp] of [
      ['signing key', keys.signKey],
      ['signing tool', keys.signTool],
      ['image key', keys.imageKey],
    ] as const) {
      if (fp && fp.sha256 === null && (name !== 'signing key' || flags.signKey))
        return result(false, [`${name} ${fp.path} cannot be read: check the path`]);
    }
    let force = !!flags.force;
    const reason = keyChangeReason(
      readBuildKeys(this.dir),
      keys,
      hasBuildDir(this.dir),
      !flags.signKey && !flags.signTool && !flags.imageKey,
    );
    if (reason && !force) {
      force = true;
      warnings.push(`building with -f: ${reason}`);
    }
    if (opts.keepRun) warnings.push('Occlum always deletes run/ when building; the occlum backend cannot keep it');
    if (this.runLayerHasData()) {
      const w = 'this build deletes run/: everything the program wrote to its root file system at run time is lost';
      warnings.push(w);
      this.events.buildProgress?.({ phase: 'validate', message: `warning: ${w}` });
    }
    for (const w of warnings)
      if (!w.startsWith('this build deletes'))
        this.events.buildProgress?.({ phase: 'validate', message: `note: ${w}` });

    let args: string[];
    try {
      args = ['build', ...buildArgs({ ...flags, force })];
    } catch (e) {
      if (e instanceof OcclumArgError) return result(false, [e.message]);
      throw e;
    }
    const edmm = flags.enableEdmm !== undefined ? missingFeature(this.install.version, 'enable-edmm') : null;
    if (edmm) return result(false, [edmm]);
    let pending = '';
    const onOut = (c: Buffer) => {
      const parts = (pending + c.toString('utf8')).split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) this.events.buildProgress?.({ phase: buildLinePhase(line) ?? 'stage', message: line });
    };
    const r = await this.call(args, { env: buildEnv(flags, this.env), onStdout: onOut, onStderr: onOut });
    if (pending) this.events.buildProgress?.({ phase: buildLinePhase(pending) ?? 'stage', message: pending });
    if (r.status === 0) {
      writeBuildKeys(this.dir, keys);
      let rootMac: string | null = null;
      try {
        rootMac = readTextSafe(this.paths.rootMac, ROOT_MAC_FILE).trim();
      } catch {
        /* an image-less build reuses build/mount; no MAC to show is not an error */
      }
      return result(true, [], rootMac);
    }
    const out = `${r.stdout}\n${r.stderr}`;
    const errors: string[] = [];
    const st = stateError(out);
    if (st) errors.push(st.message);
    const opt = optionError(r.stderr);
    if (opt) errors.push(`occlum refused an option: ${opt}`);
    errors.push(...buildFailureCauses(out));
    if (r.timedOut) errors.push('the build did not finish in time and was stopped');
    errors.push(`occlum build exited with status ${r.status}`);
    if (existsSync(this.paths.build) && !existsSync(this.paths.runRoot)) {
      warnings.push('run/ was already deleted by this failed build: the instance cannot run until a build succeeds');
    }
    return result(false, errors);
  }

  // ---- run ----------------------------------------------------------------------------------

  /** Entry points of the *built* config (what the LibOS checks), else of Occlum.json. */
  private entryPoints(): string[] | undefined {
    try {
      const sys = JSON.parse(readGeneratedText(this.paths.sysJson, 'build/.Occlum_sys.json')) as {
        app?: { entry_points?: string[] }[];
      };
      const ep = sys.app?.find((a) => (a as { stage?: string }).stage === 'app')?.entry_points;
      if (Array.isArray(ep)) return ep;
    } catch {
      /* fall back to the user's config */
    }
    try {
      const cfg = JSON.parse(readConfigText(this.paths.config, 'Occlum.json')) as {
        entry_points?: unknown;
      };
      return Array.isArray(cfg.entry_points)
        ? cfg.entry_points.filter((e): e is string => typeof e === 'string')
        : undefined;
    } catch {
      return undefined;
    }
  }

  private runEnv(opts: RunOptions): NodeJS.ProcessEnv {
    const env = { ...(opts.env ?? this.env) };
    if (opts.logLevel !== undefined) env.OCCLUM_LOG_LEVEL = opts.logLevel;
    return env;
  }

  /**
   * HW instances need aesmd unless the CPU has sgx_lc; the CLI waits 3 × 5 s before saying so.
   * Checked up front so the user gets the fix at once.
   */
  private requireAesm(s: InstanceState): void {
    if (s.sgxMode !== 'HW' || cpuFlags().has('sgx_lc') || isSocketFile(AESM_SOCKET)) return;
    throw new BackendError(
      `this instance is built for HW mode and the AESM service is not running (${AESM_SOCKET} is missing): install sgx-aesm-service and start aesmd, or rebuild with --sgx-mode SIM`,
      1,
      ['Error: AESM service is not started yet. Need to start it first'],
    );
  }

  /** The checks before a run, and the `occlum run` argv (a bad argument is a usage error, 2). */
  private runnable(path: string, args: string[]): { pathProblem: string | null; argv: string[] } {
    const s = this.requireBuilt();
    this.requireAesm(s);
    if (s.runPids.length > 0) {
      throw new BackendError(
        `an \`occlum run\` of this instance is still running (pid ${s.runPids.join(', ')}): wait for it to end or stop it`,
        1,
        [
          'Error: the process of current Occlum instance is running. Need to wait for the process to finish or kill it first.',
        ],
      );
    }
    const pathProblem = checkProgramPath(path, this.entryPoints());
    try {
      return { pathProblem, argv: runArgs(path, args) };
    } catch (e) {
      throw new BackendError((e as Error).message, 2);
    }
  }

  private runExit(status: number, pathProblem: string | null, output = ''): ProcessExit {
    let meaning = describe(status, 'run');
    const why = launchErrorLines(output.split('\n'))[0];
    if (status === 127 && pathProblem) meaning = `could not launch (127): ${pathProblem}`;
    else if (status === 127 && why) meaning = `could not launch (127): ${why}`;
    // occlum-run exits 1 when the enclave or its init stage fails to boot (spec 1.3.1).
    else if (status === 1 && why) meaning = `Occlum failed to boot (1): ${why}`;
    return { status, meaning };
  }

  async run(path: string, args: string[], opts: RunOptions = {}): Promise<ProcessExit> {
    const { pathProblem, argv } = this.runnable(path, args);
    const parser = new LogParser();
    // Like the host backend: the caller's terminal unless pipes are asked for. With inherited
    // stdio the LibOS log lines reach the terminal on stderr, as with `occlum run` itself.
    const stdio = opts.stdio === 'pipe' ? 'pipe' : 'inherit';
    const r = await this.call(argv, {
      env: this.runEnv(opts),
      stdio,
      timeoutMs: 24 * 3600_000,
      onStdout: (c) => this.events.output?.('stdout', c),
      onStderr: (c) => {
        this.events.output?.('stderr', c);
        this.emitLogs(parser.feed(c));
      },
    });
    this.emitLogs(parser.end());
    // The script's own refusals exit 1 before anything runs (a race with another run, AESM …).
    if (r.status === 1) {
      const st = stateError(r.stdout);
      if (st && r.stdout.trim() === st.occlumLine) throw new BackendError(st.message, 1, [st.occlumLine]);
    }
    const exit = this.runExit(r.status, pathProblem, r.stderr);
    this.events.exit?.(exit);
    return exit;
  }

  async prepareRun(path: string, args: string[], opts: RunOptions = {}): Promise<OcclumLaunch> {
    const { pathProblem, argv } = this.runnable(path, args);
    return launchInDir(this.dir, this.install.bin, argv, this.runEnv(opts), (code, signal) => {
      const exit = this.runExit(shellStatus(code, signal), pathProblem);
      this.events.exit?.(exit);
      return exit;
    });
  }

  private emitLogs(records: LogRecord[]): void {
    if (!this.events.log) return;
    for (const r of records) {
      const rec = toRuntimeLog(r);
      if (rec) this.events.log(rec);
    }
  }

  // ---- start / exec / stop ----------------------------------------------------------------

  async start(opts: RunOptions = {}): Promise<void> {
    const s = this.requireBuilt();
    this.requireAesm(s);
    if (s.serverPids.length > 0) {
      throw new BackendError(
        `the exec server of this instance is already running (pid ${s.serverPids.join(', ')})`,
        1,
        ['Error: the server of current Occlum instance has been started.'],
      );
    }
    // The server's stderr goes to a file, not a pipe: it outlives this process (see server-log.ts).
    let fd;
    try {
      fd = openServerLogForWrite(this.dir);
    } catch (err) {
      if (err instanceof UnsafeFileError) throw new BackendError(err.message, 1);
      throw err;
    }
    let child;
    try {
      child = spawnOcclum({ bin: this.install.bin, cwd: this.dir, args: ['start'], env: this.runEnv(opts) }, [
        'ignore',
        'pipe',
        fd,
      ]);
    } finally {
      closeSync(fd);
    }
    let stdout = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    const code = await new Promise<number>((resolveExit, reject) => {
      const t = setTimeout(() => child.kill('SIGTERM'), START_TIMEOUT_MS);
      child.on('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
      child.on('exit', (c, sig) => {
        clearTimeout(t);
        resolveExit(shellStatus(c, sig));
      });
    });
    if (code !== 0) {
      await sleep(100); // a dying server's last words
      const said = readServerLog(this.dir, 0).toString('utf8').split('\n');
      const lines = [...stdout.split('\n'), ...said].filter((l) => l.trim());
      const st = stateError(stdout);
      const why = st?.message ?? (launchErrorLines(said)[0] || lines.at(-1) || `exit ${code}`);
      throw new BackendError(`the exec server did not start: ${why}`, code, lines);
    }
    this.followServerLog(0);
    this.events.status?.('serving');
  }

  /** Streams the server's stderr (from the file) to the output and log events while it lives. */
  private followServerLog(from: number): void {
    const parser = new LogParser();
    const dir = this.dir;
    const tail = new ServerLogTail(
      dir,
      (c) => {
        this.events.output?.('stderr', c);
        this.emitLogs(parser.feed(c));
      },
      from,
      () => findServerProcesses(dir).length > 0,
    );
    setServerTail(dir, tail);
  }

  private requireServer(): void {
    const s = this.requireBuilt();
    if (s.serverPids.length === 0) {
      throw new BackendError('the exec server of this instance is not running: start it first', 1, [
        'Error: the server of current Occlum instance has not been started.',
      ]);
    }
  }

  /**
   * `occlum exec` exits 0 or 1. The real status is in its `Error: <raw wait status>` line; without
   * one, the launch failed and the reason is on the server's stderr.
   */
  private async execExit(
    code: number,
    stderr: string,
    mark: number | null,
    pathProblem: string | null,
  ): Promise<ProcessExit> {
    if (code === 0) return { status: 0, meaning: describe(0, 'run') };
    if (code > 128) return { status: code, meaning: `the exec client ${describe(code, 'run')}` };
    const decoded = decodeExecError(stderr);
    if (decoded && decoded.raw !== -1) {
      const note = `(occlum exec printed "Error: ${decoded.raw}", the raw wait status)`;
      if (decoded.signal !== undefined)
        return { status: 128 + decoded.signal, meaning: `${describe(128 + decoded.signal, 'run')} ${note}` };
      // A decoded exit code is unambiguous (unlike occlum run's folded status): say it plainly.
      const code = decoded.exitCode ?? 1;
      return { status: code, meaning: `the program exited with status ${code} ${note}` };
    }
    if (decoded?.raw === -1)
      return { status: 1, meaning: 'the exec client could not reach the server (Error: -1): is it still running?' };
    serverTail(this.dir)?.poll();
    const why = mark !== null ? await launchErrorSince(this.dir, mark) : null;
    if (why) return { status: 127, meaning: `could not launch (127): ${why}` };
    if (pathProblem) return { status: 127, meaning: `could not launch (127): ${pathProblem}` };
    return {
      status: 1,
      meaning:
        mark === null
          ? 'occlum exec failed without a status: the launch failed inside the server, whose stderr the studio does not see (it was started outside the studio); start the server from the studio to see why'
          : 'occlum exec failed without a status and the server printed no reason',
    };
  }

  async exec(path: string, args: string[], opts: RunOptions = {}): Promise<ProcessExit> {
    this.requireServer();
    const pathProblem = checkProgramPath(path, this.entryPoints());
    const mark = serverLogMark(this.dir);
    const r = await this.call(['exec', path, ...args], {
      env: this.runEnv(opts),
      stdio: opts.stdio === 'pipe' ? 'pipe' : 'terminal',
      timeoutMs: 24 * 3600_000,
      onStdout: (c) => this.events.output?.('stdout', c),
      onStderr: (c) => this.events.output?.('stderr', c),
    });
    if (r.status === 1) {
      const st = stateError(r.stdout);
      if (st && r.stdout.trim() === st.occlumLine) throw new BackendError(st.message, 1, [st.occlumLine]);
    }
    const exit = await this.execExit(r.status, r.stderr, mark, pathProblem);
    this.events.exit?.(exit);
    return exit;
  }

  async prepareExec(path: string, args: string[], opts: RunOptions = {}): Promise<OcclumLaunch> {
    this.requireServer();
    const pathProblem = checkProgramPath(path, this.entryPoints());
    const mark = serverLogMark(this.dir);
    return launchInDir(this.dir, this.install.bin, ['exec', path, ...args], this.runEnv(opts), (code, signal) => {
      const status = shellStatus(code, signal);
      // In a terminal the `Error: <status>` line is on screen, not here: report what is known now.
      const why =
        mark !== null ? launchErrorLines(readServerLog(this.dir, mark).toString('utf8').split('\n'))[0] : undefined;
      const exit: ProcessExit =
        status === 0
          ? { status, meaning: describe(0, 'run') }
          : why
            ? { status: 127, meaning: `could not launch (127): ${why}` }
            : status === 1 && pathProblem
              ? { status: 127, meaning: `could not launch (127): ${pathProblem}` }
              : { status, meaning: describe(status, 'exec') };
      this.events.exit?.(exit);
      return exit;
    });
  }

  /**
   * `occlum stop` (which waits up to ~31 s for the server, then kills it). If a server process is
   * still there afterwards (the CLI failed or was cut short), it is killed here: stop never leaves
   * an enclave behind.
   */
  async stop(timeoutMs = STOP_CLI_WAIT_MS): Promise<void> {
    const s = this.state();
    if (s.serverPids.length === 0) {
      setServerTail(this.dir, null);
      return;
    }
    const r = await this.call(['stop'], { timeoutMs });
    if (/^Error: timeout to stop the server, let's kill it\.$/m.test(r.stdout)) {
      this.events.output?.(
        'stderr',
        Buffer.from('occlum-studio: the exec server did not stop within ~31 s; occlum killed it (SIGKILL)\n'),
      );
    }
    let left = findServerProcesses(this.dir);
    if (left.length > 0) {
      for (const p of left) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      for (let i = 0; i < 50 && left.some((p) => isAlive(p.pid)); i++) await sleep(50);
      left = left.filter((p) => isAlive(p.pid));
      this.events.output?.(
        'stderr',
        Buffer.from(`occlum-studio: \`occlum stop\` left the server running (exit ${r.status}); killed it\n`),
      );
      if (left.length > 0)
        throw new BackendError(`the exec server (pid ${left.map((p) => p.pid).join(', ')}) could not be stopped`, 1);
    }
    setServerTail(this.dir, null);
    this.events.status?.('built');
  }

  async status(): Promise<LiveStatus> {
    const s = this.state();
    switch (s.status) {
      case 'serving':
        return 'serving';
      case 'running':
      case 'debugging':
        return 'running';
      case 'built':
        return 'built';
      case 'uninitialized':
        return 'uninitialized';
      default:
        return 'initialized';
    }
  }

  /**
   * Checks the build's artefacts, then verifies the image's MAC chain against build/mount/.ROOT_MAC
   * with the native reader (the same check the enclave makes when it mounts the image).
   */
  async verify(): Promise<VerifyOutcome> {
    const t0 = Date.now();
    const problems: string[] = [];
    const need: [string, string][] = [
      [this.paths.rootMac, 'the image MAC'],
      [this.paths.sysJsonProtected, 'the protected LibOS config'],
      [this.paths.signedLibos, 'the signed enclave'],
      [this.paths.runRoot, 'the writable layer directory'],
    ];
    for (const [p, what] of need)
      if (!existsSync(p)) problems.push(`${relative(this.dir, p)} is missing (${what}): build the instance`);
    const configMs = Date.now() - t0;
    const t1 = Date.now();
    let image: VerifyOutcome['image'];
    if (existsSync(join(this.paths.buildRoot, 'metadata'))) {
      try {
        const report = await (await this.openFs({ layer: 'image' })).verify();
        image = report;
        for (const p of report.problems) problems.push(`image ${p.path}: ${p.message}`);
      } catch (e) {
        problems.push(`image: ${(e as Error).message}`);
      }
    }
    return { ok: problems.length === 0, problems, configMs, imageMs: Date.now() - t1, image };
  }

  /** The instance's secure FS through the native reader (default: image + run layer merged). */
  async openFs(opts: OpenFsOptions = {}): Promise<FsView> {
    // Built outside the studio (no key record): `occlum build` signed with the install's default key.
    const signKey =
      opts.signKey ??
      readBuildKeys(this.dir)?.signKey.path ??
      join(this.install.root, 'etc', 'template', 'Enclave.pem');
    return openInstanceFs(this.dir, { ...opts, signKey });
  }

  // ---- occlum-only subcommands ------------------------------------------------------------

  /** `occlum gen-image-key <file>`: a 128-bit key as 16 hex pairs joined by "-". */
  async genImageKey(file: string): Promise<string> {
    const target = resolve(this.dir, file);
    if (existsSync(target) && statSync(target).isDirectory())
      throw new BackendError(`${target} is a directory: give a file path for the key`, 2);
    mkdirSync(dirname(target), { recursive: true });
    // The script resolves relative paths against its cwd; we pass an absolute one.
    const r = await runOcclum({
      bin: this.install.bin,
      cwd: existsSync(this.dir) ? this.dir : dirname(target),
      args: ['gen-image-key', target],
      env: this.env,
      timeoutMs: 30_000,
    });
    if (r.status !== 0) throw this.failure('occlum gen-image-key', r);
    const key = readFileSync(target, 'utf8').trim();
    if (!/^[0-9a-f]{2}(-[0-9a-f]{2}){15}$/.test(key))
      throw new BackendError(`occlum wrote an unexpected key format to ${target}: "${key}"`, 1);
    return key;
  }

  /** `occlum print mrenclave|mrsigner` (needs a built enclave). */
  async print(what: 'mrenclave' | 'mrsigner'): Promise<string> {
    let args: string[];
    try {
      args = printArgs(what);
    } catch (e) {
      throw new BackendError((e as Error).message, 2);
    }
    this.requireFeature('print');
    if (!existsSync(this.paths.signedLibos)) {
      throw new BackendError(
        'there is no signed enclave (build/lib/libocclum-libos.signed.so): build the instance first',
        1,
        ['Error: No build/lib/libocclum-libos.signed.so existed'],
      );
    }
    const r = await this.call(args, { timeoutMs: 60_000 });
    if (r.status !== 0) throw this.failure(`occlum print ${what}`, r);
    const value = r.stdout.trim();
    if (!/^[0-9a-f]{64}$/i.test(value))
      throw new BackendError(`occlum print ${what} gave no 64-hex-digit value: "${value}"`, 1, r.stdout.split('\n'));
    return value.toLowerCase();
  }

  /** `occlum package [--debug] [name]`: returns the path of the .tar.gz. */
  async package(opts: { name?: string; debug?: boolean } = {}): Promise<string> {
    this.requireBuilt();
    let args: string[];
    try {
      args = packageArgs(opts);
    } catch (e) {
      throw new BackendError((e as Error).message, 2);
    }
    const r = await this.call(args, { timeoutMs: 600_000 });
    if (r.status !== 0) {
      if (/^Warning: current Occlum instance is configured as "debuggable"\.$/m.test(r.stdout)) {
        throw new BackendError(
          'the instance is debuggable (metadata.debuggable is true): set it to false and rebuild for a release package, or package with --debug',
          1,
          r.stdout.split('\n').filter(Boolean),
        );
      }
      if (/should only be used for an Occlum instance of SGX hardware mode/.test(r.stdout)) {
        throw new BackendError(
          'the instance is built in SIM mode: build with --sgx-mode HW (or HYPER) for a package, or package with --debug',
          1,
          r.stdout.split('\n').filter(Boolean),
        );
      }
      throw this.failure('occlum package', r);
    }
    const m = r.stdout.match(/^The package (.+) is generated successfully$/m);
    return join(this.dir, m ? m[1]! : `${this.dir.split('/').pop()}.tar.gz`);
  }

  /**
   * `occlum gdb <path> <args>` with the caller's whole terminal (the TUI must step aside first).
   * Returns the status gdb ended with.
   */
  async gdb(path: string, args: string[], opts: RunOptions = {}): Promise<number> {
    this.requireBuilt();
    const r = await this.call(['gdb', path, ...args], {
      env: this.runEnv(opts),
      stdio: 'inherit',
      timeoutMs: 7 * 24 * 3600_000,
    });
    return r.status;
  }

  /**
   * `occlum mount` of the merged root FS (image + run layer) at an empty directory, for what the
   * native reader cannot open (the HW run layer). Every requirement is checked first; the CLI then
   * blocks until unmount(), so this returns a handle.
   */
  mount(mountPoint: string, keys: Omit<MountRequest, 'dir' | 'mountPoint'> = {}): MountHandle {
    const req = { ...keys, dir: this.dir, mountPoint };
    const plan = planMount(req);
    if (plan.problems.length > 0) throw new BackendError(`cannot mount the secure FS: ${plan.problems.join('; ')}`, 1);
    return startMount(this.install.bin, req, plan, this.env);
  }

  /** The same gdb session as a command line, for a pty-driven pane. */
  prepareGdb(path: string, args: string[], opts: RunOptions = {}): OcclumLaunch {
    this.requireBuilt();
    return launchInDir(this.dir, this.install.bin, ['gdb', path, ...args], this.runEnv(opts), (code, signal) => {
      const status = shellStatus(code, signal);
      return { status, meaning: status === 0 ? 'gdb ended' : `gdb ended with status ${status}` };
    });
  }
}
