// Shapes of the dev loop: change sets, build records, and the minimal backend surface the build
// queue drives. The host backend (src/core/backend) is adapted to WatchBackend in backend.ts, so
// the queue does not depend on how a backend builds or runs.
import type { BomSummary } from '../bom/summary.ts';
import type { ForkAttempts } from '../sandbox/fork-watch.ts';
import type { JsonPath } from '../config/types.ts';
import type { GuardNotice } from '../backend/host/guard.ts';

export type { GuardNotice };

/** What kind of input a changed path is (decides whether the prebuild runs). */
export type ChangeArea = 'image' | 'initfs' | 'config' | 'settings' | 'source';

/** Net effect of all events on one path within a change set. */
export type ChangeKind = 'added' | 'changed' | 'removed';

export interface ChangeEntry {
  /** Absolute path. */
  path: string;
  /** Path relative to the instance directory (may start with ../ for outside sources). */
  rel: string;
  area: ChangeArea;
  kind: ChangeKind;
  isDir: boolean;
}

export interface ChangeSet {
  /** Entries sorted by rel. */
  entries: ChangeEntry[];
  /** Raw watcher events folded into this set (a measure of the burst). */
  events: number;
  /** Time of the first and last event, epoch ms. */
  firstEventAt: number;
  lastEventAt: number;
}

export type BuildTrigger = 'change' | 'manual' | 'initial';

/** held: a change build that would run a prebuild no build started by hand ran (queue.ts). */
export type BuildOutcome = 'running' | 'ok' | 'failed' | 'cancelled' | 'held';

export type OutputStream = 'prebuild' | 'bom' | 'build' | 'studio';

export interface OutputLine {
  stream: OutputStream;
  text: string;
}

/** Why a build failed, as precisely as the output allows. */
export interface FailureCause {
  stage: 'settings' | 'prebuild' | 'bom' | 'config' | 'build';
  /** One sentence: what went wrong. */
  message: string;
  /** The Occlum.json field to change, when the message maps to one (spec 2.6, 3.3). */
  configPath?: JsonPath;
  /** How to fix it. */
  hint?: string;
  /** The output line the cause was read from. */
  line?: string;
}

export interface BuildRecord {
  id: number;
  trigger: BuildTrigger;
  /** Changed inputs that caused the build (all change sets merged into it). */
  changes: ChangeEntry[];
  /** epoch ms */
  startedAt: number;
  durationMs: number | null;
  /** Per-stage time: settle (waiting for writes after the prebuild), prebuild, bom copy, build. */
  stages: { prebuildMs: number | null; bomMs?: number | null; buildMs: number | null };
  prebuildRan: boolean;
  repacked: number | null;
  reused: number | null;
  imageMac: string | null;
  outcome: BuildOutcome;
  output: OutputLine[];
  cause: FailureCause | null;
  /** The bom stage's copies, one per bom of the settings (when the stage ran). */
  boms?: BomSummary[];
  /** Why the runs after this build are checked in full (the backend's build guard is off). */
  guard?: GuardNotice | null;
}

/** What a backend build reports back. Failing builds throw BuildFailure or return ok: false. */
export interface BackendBuildResult {
  ok: boolean;
  repacked?: number;
  reused?: number;
  imageMac?: string;
  /** A one-line reason when ok is false and the output does not say it. */
  error?: string;
  /** The cause, when the backend knows it precisely (e.g. a located config diagnostic). */
  cause?: FailureCause;
}

export interface BackendBuildOptions {
  instanceDir: string;
  changes: ChangeEntry[];
  /** Occlum does not notice key changes; the real backend passes -f when set. */
  force: boolean;
  /** Keep run/ (the program's writable layer) instead of wiping it with the new build. */
  keepRun?: boolean;
  signal: AbortSignal;
  onOutput(line: string): void;
  /** Counts of a long step (files staged, compared, packed): shown live, not kept in the record. */
  onProgress?(p: LoopProgress): void;
  /**
   * Called once the checks passed and the build is about to replace the image: the queue stops
   * the running process here, so a build that fails its checks leaves it alone.
   */
  beforeReplace(): Promise<void>;
}

/**
 * What the loop is doing during a long step, shown live (the Build pane's header, `watch`) and
 * not kept: the start's scan of the watched trees (`scan`), its watches (`watch`), a build's
 * counts (`build`). `text` is sanitized.
 */
export interface LoopProgress {
  stage: 'scan' | 'watch' | 'build';
  text: string;
  done?: number;
  total?: number;
  /** The step is over. */
  end?: boolean;
}

/** The command last run, rerun after a successful build when auto-rerun is on. */
export interface RunCommand {
  path: string;
  args: string[];
}

export interface RunHooks {
  onOutput(chunk: string, stream: 'stdout' | 'stderr'): void;
  /** `forks`: the host backend's counted fork attempts (src/core/sandbox/fork-watch.ts), when any. */
  onExit(status: number, forks?: ForkAttempts): void;
}

export interface RunningProcess {
  readonly pid: number | undefined;
  /** Started in a sandbox prepared ahead, or launched after the request (cold; also refused ones). */
  readonly launch?: 'prepared' | 'cold';
  /** Resolves with the exit status (Occlum convention: 127 launch failure, 128+n signal). */
  readonly exited: Promise<number>;
}

/**
 * The part of a backend the dev loop uses: build the instance, stop what runs in it, run a
 * command. Occlum must not build under a running instance, so the queue stops before the
 * backend replaces the image (after the build is known to succeed: see queue.ts).
 */
export type PrepareMoment = 'idle' | 'build';

export interface WatchBackend {
  readonly name: string;
  build(opts: BackendBuildOptions): Promise<BackendBuildResult>;
  /** Ends every process of the instance started through this backend. */
  stop(instanceDir: string): Promise<void>;
  run(instanceDir: string, cmd: RunCommand, hooks: RunHooks): Promise<RunningProcess>;
  /**
   * A rerun will come: prepare what its launch can ahead (optional). `when`: the loop is idle (the
   * last run printed or ended) or a build starts now; the backend prepares at one of the two
   * (docs/dev-loop.md, "Prepared sandbox": idle by default, a build start competes with the build).
   */
  prepareRerun?(instanceDir: string, when: PrepareMoment): void;
  /** Drops what prepareRerun made and no run used (the build failed, no rerun, the loop closes). */
  dropPrepared?(): Promise<void>;
  /**
   * Why the runs are checked in full before each launch (the backend could not keep a guard on
   * the build: e.g. the inotify watch limit); null while they are not.
   */
  guardNotice?(instanceDir: string): GuardNotice | null;
}
