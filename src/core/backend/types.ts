// The Backend interface: what the workbench asks of "an Occlum". Two implementations: host/
// (embedded: bubblewrap sandbox, no SGX) and occlum/ (drives an installed Occlum CLI).
// Events are typed callbacks so the store, the CLI and tests subscribe the same way.
import type { FsView, Progress, VerifyReport } from '../securefs/types.ts';
import type { PreflightProblem } from '../elf/preflight.ts';
import type { ChildProcess } from 'node:child_process';
import type { RunCgroup } from '../sandbox/cgroup.ts';
import type { WarmSandbox, WarmTerminal } from './host/warm.ts';
import type { ForkAttempts } from '../sandbox/fork-watch.ts';
import type { PendingTerminal, PtySize } from '../pty/session.ts';

export type BackendKind = 'host' | 'occlum';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** A runtime log record (what the LibOS would log), already rendered as an Occlum line too. */
export interface RuntimeLogRecord {
  time: Date;
  level: LogLevel;
  /** Module tag as in Occlum ≥ 0.30.1: entry, fs, process, config, signal, … */
  module: string;
  message: string;
  /** The line in Occlum's format (spec 3.2), with colour codes. */
  line: string;
}

export type BuildPhase = 'validate' | 'preflight' | 'compare' | 'stage' | 'pack' | 'config' | 'commit';

export interface BuildProgress {
  phase: BuildPhase;
  message: string;
  progress?: Progress;
}

export type LiveStatus = 'uninitialized' | 'initialized' | 'built' | 'running' | 'serving';

export interface BackendEvents {
  buildProgress?(p: BuildProgress): void;
  /** Program output, of the streams piped (not for pty/inherited stdio). */
  output?(stream: 'stdout' | 'stderr', chunk: Buffer): void;
  exit?(e: ProcessExit): void;
  log?(r: RuntimeLogRecord): void;
  status?(s: LiveStatus): void;
}

export interface BuildOptions {
  /** Keep run/ (the writable layer) instead of wiping it like `occlum build`. */
  keepRun?: boolean;
  /** Path of an `occlum gen-image-key` file: encrypt the image. */
  imageKey?: string;
  /** `-f`: rebuild from scratch. */
  force?: boolean;
  /**
   * Paths under image/ (relative to it) changed since the last good build, as a watcher saw them:
   * the host backend then updates that build in place (see host/in-place.ts). The caller
   * promises nothing else under image/ changed.
   */
  changed?: string[];
  /**
   * No watcher saw what changed since the last good build (a dev loop's first build): image/ is
   * compared with that build's manifest, and a small difference updates it in place instead of a
   * staged build (see host/in-place.ts, changesSinceBuild).
   */
  sinceLastBuild?: boolean;
}

export interface BuildResult {
  ok: boolean;
  /** Root MAC of the packed image, when the secure-FS engine ran. */
  rootMac: string | null;
  configMac: string;
  filesStaged: number;
  filesReused: number;
  /** Files and symlinks in the built image (host backend; directories not counted). */
  imageFiles?: number;
  ms: number;
  problems: PreflightProblem[];
  /** Validation or other errors that stopped the build (empty when ok). */
  errors: string[];
  /**
   * Occlum.json's errors and warnings, as `check` prints them (formatDiagnostic), when any; an
   * error's first line is in `errors` too, and printers of both skip it there.
   */
  diagnostics?: string[];
  warnings: string[];
}

/**
 * 'inherit', 'pipe' (all three), or inherited except the named output streams, which are piped
 * to `output` (the caller passes them on, e.g. to read hints from them).
 */
export type StdioMode = 'inherit' | 'pipe' | { stdout: boolean; stderr: boolean };

export interface RunOptions {
  /** Caller environment the env.untrusted names are taken from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** OCCLUM_LOG_LEVEL value (default: env.OCCLUM_LOG_LEVEL). */
  logLevel?: string;
  stdio?: StdioMode;
  /** Fidelity switch: deny fork() like Occlum (default true). */
  denyFork?: boolean;
  /** Hash every file of the image layer instead of checking its pinned metadata. */
  fullVerify?: boolean;
  /**
   * Host backend, `size`: run with generous limits instead of the config's (no RLIMIT_AS, a 1 GB
   * stack, no thread or memory cap) in a fresh cgroup that PreparedLaunch.cgroup exposes.
   */
  measure?: boolean;
  /**
   * Host backend, run: a sandbox prepared ahead (dev loop) to start the program in, when it is
   * still usable; the PreparedLaunch then carries `warm` instead of a command to spawn.
   */
  warm?: WarmSandbox | WarmTerminal;
}

export interface ProcessExit {
  /** Exit status as `occlum run` reports it (127 could not launch, 128+n signal n). */
  status: number;
  /** What the status means, in words. */
  meaning: string;
  /** Host backend: fork() calls the sandbox refused with ENOSYS (counted by its fork watch), when any. */
  forks?: ForkAttempts;
}

/** A command line the caller can run itself (e.g. under node-pty), after checks passed. */
export interface PreparedLaunch {
  file: string;
  args: string[];
  env: Record<string, string>;
  /** Call right after spawning, with the launcher's pid (liveness, `status`, logs). */
  started?(pid: number): void;
  /** Call when the launched process ended, with its raw code/signal: logs and cleans up. */
  finish(code: number | null, signal: NodeJS.Signals | number | null): ProcessExit;
  /** Host backend: the control group holding the whole sandboxed tree (limits and peaks). */
  cgroup?: RunCgroup;
  /**
   * Host backend, with RunOptions.warm: the process is already running (its stdout and stderr
   * piped); do not spawn `file`: write `go` to its stdin, then treat it as the launched process.
   */
  warm?: { process: ChildProcess; go: Buffer };
  /**
   * Host backend, with a WarmTerminal as RunOptions.warm: the process already runs in its own
   * pseudo-terminal; show it (PtySession.adopt), then `start()` sends the go; `cancel()` ends it
   * unused (the session could not be made).
   */
  terminal?: { process: PendingTerminal; start(): Promise<void>; cancel(): void };
}

export interface Backend {
  readonly kind: BackendKind;
  init(dir: string): Promise<void>;
  newInstance(dir: string): Promise<void>;
  build(opts?: BuildOptions): Promise<BuildResult>;
  /** Runs a program to completion (stdio inherited or piped). */
  run(path: string, args: string[], opts?: RunOptions): Promise<ProcessExit>;
  /** Checks and prepares a run without starting it: for a pty-driven Run pane. */
  prepareRun(path: string, args: string[], opts?: RunOptions): Promise<PreparedLaunch>;
  start(opts?: RunOptions): Promise<void>;
  exec(path: string, args: string[], opts?: RunOptions): Promise<ProcessExit>;
  prepareExec(path: string, args: string[], opts?: RunOptions): Promise<PreparedLaunch>;
  /**
   * Host backend: the next run's sandbox started ahead in a pseudo-terminal of `size`, for the Run
   * pane's reruns (docs/run-pane.md); pass it as RunOptions.warm. A string says why there is none.
   */
  prepareTerminal?(size: PtySize): WarmTerminal | string;
  stop(timeoutMs?: number): Promise<void>;
  status(): Promise<LiveStatus>;
  /** Verifies the built image (and config pin) without running. */
  verify(opts?: { full?: boolean }): Promise<VerifyOutcome>;
  /** The instance's file system: the image layer alone, or merged with the run layer (default). */
  openFs?(opts?: { layer?: 'image' | 'initfs' | 'merged' }): Promise<FsView>;
}

export interface VerifyOutcome {
  ok: boolean;
  problems: string[];
  configMs: number;
  imageMs: number;
  image?: VerifyReport;
}

/** A failure with Occlum's exit status and the lines Occlum would print. */
export class BackendError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    /** Lines as Occlum prints them, when the failure has an Occlum equivalent. */
    readonly occlumLines: string[] = [],
  ) {
    super(message);
  }
}
