// The build queue of the dev loop.
//
// - One build at a time. Change sets that arrive during a build are merged into exactly one
//   follow-up build, however many arrive.
// - The prebuild runs when sources (or the settings) changed, and for manual/initial builds. The
//   files it writes into image/ are absorbed into the same build (settle), not a second one.
// - With `confirmPrebuild` (the TUI and `watch`), a change runs only the prebuild command and bom
//   copies a build the user started by hand in this loop ran (b, or `watch`'s first build): the
//   settings come with the instance, and opening one must not run its shell command or copy host
//   files into its image (docs/security.md). Other ones are held.
// - A failed prebuild, invalid settings or a failed backend build ends the build with a cause;
//   the backend keeps the last good image and the running process is left alone.
// - A successful build stops the running process and, with auto-rerun, reruns the last command.
import { EventEmitter } from 'node:events';
import { areasOf, mergeChangeSets } from './changeset.ts';
import { explainFailure } from './causes.ts';
import { runPrebuild } from './prebuild.ts';
import { runBomStage } from './bom-stage.ts';
import { bomSources, unconfirmedReads, type BomSources } from './bom-consent.ts';
import { loadSettings, SettingsError, sourcesOf, type LoadedSettings, type StudioSettings } from './settings.ts';
import { errorMessage } from '../errors.ts';
import { sanitizeForTerminal } from '../text/sanitize.ts';
import type { ForkAttempts } from '../sandbox/fork-watch.ts';
import type {
  BuildRecord,
  BuildTrigger,
  ChangeEntry,
  ChangeSet,
  FailureCause,
  GuardNotice,
  LoopProgress,
  OutputLine,
  RunCommand,
  RunningProcess,
  WatchBackend,
} from './types.ts';

/** Lets the queue take over file events while the prebuild writes (implemented by Watcher). */
export interface ChangeAbsorber {
  hold(): void;
  /**
   * Waits for quiet, then takes what accumulated. `paths`: what the stage wrote, checked on disk
   * instead of the whole tree (a Python image is 120,000 paths: seconds under load); [] checks
   * none (events only); without it the whole tree is compared (a prebuild writes anywhere).
   */
  settle(quietMs: number, paths?: string[]): Promise<ChangeSet | null>;
  release(): void;
  /** True while file events wait for their quiet period (writes still going on). */
  readonly pending: boolean;
  /** Reports changes no file event announced (after each build: see Watcher.reconcile). */
  reconcile?(): void;
  /** A build reads the watched trees from now (true) until it ends (false): see Watcher.reading. */
  reading?(on: boolean): void;
}

export interface QueueEvents {
  'build-start': [BuildRecord];
  'build-output': [BuildRecord, OutputLine];
  'build-end': [BuildRecord];
  /** Change sets waiting because auto-build is off. */
  deferred: [ChangeEntry[]];
  'run-start': [{ cmd: RunCommand; at: number }];
  'run-output': [{ chunk: string; stream: 'stdout' | 'stderr'; at: number }];
  'run-exit': [{ cmd: RunCommand; status: number; at: number; forks?: ForkAttempts; launch?: 'prepared' | 'cold' }];
  'run-stop': [{ reason: string }];
  /** The backend's reason to check every run in full appeared, changed or went (null). */
  guard: [GuardNotice | null];
  settings: [LoadedSettings];
  error: [Error];
  /** Counts of a long build step (live only: see LoopProgress). */
  progress: [LoopProgress];
}

export interface QueueOptions {
  instanceDir: string;
  backend: WatchBackend;
  settings: LoadedSettings;
  absorber?: ChangeAbsorber;
  /** Bounded history (oldest dropped). */
  historyLimit?: number;
  /** Lines kept per build record; the rest are counted, not stored. */
  outputLimit?: number;
  /**
   * A change build runs the prebuild and the bom copies only if a build started by hand (manual,
   * initial) ran the same ones before; otherwise its changes are held (a `held` record) until one does.
   */
  confirmPrebuild?: boolean;
}

/** What a build started by hand confirms: the settings that run a command or copy files. */
export type ConfirmedSettings = Pick<StudioSettings, 'prebuild' | 'bom' | 'bomIncludeDirs'>;
const confirmKey = (s: ConfirmedSettings) => JSON.stringify([s.prebuild, s.bom, s.bomIncludeDirs]);

export type QueueState = 'idle' | 'prebuild' | 'bom' | 'building' | 'stopping' | 'launching';

export class BuildQueue extends EventEmitter<QueueEvents> {
  readonly instanceDir: string;
  readonly history: BuildRecord[] = [];
  state: QueueState = 'idle';
  settings: StudioSettings;
  lastRun: RunCommand | null = null;
  private loaded: LoadedSettings;
  private readonly backend: WatchBackend;
  private readonly absorber: ChangeAbsorber | undefined;
  private readonly historyLimit: number;
  private readonly outputLimit: number;
  private nextId = 1;
  private followUp: ChangeSet[] = [];
  private followUpTrigger: BuildTrigger | null = null;
  private deferred: ChangeSet[] = [];
  private active: Promise<void> | null = null;
  private abort: AbortController | null = null;
  private running: RunningProcess | null = null;
  private closed = false;
  private readonly confirmPrebuild: boolean;
  /** The prebuild and boms (as JSON) a build started by hand ran (confirmPrebuild). */
  private confirmed: string | null = null;
  /** What the boms read in the last build started by hand (confirmPrebuild; bom-consent.ts). */
  private confirmedReads: BomSources = { files: [], dirs: [] };
  /** Change builds wait for a build started by hand (an unconfirmed prebuild or bom copy). */
  held = false;
  /** Why the runs are checked in full (the backend's guard is off), as last asked. */
  guardNotice: GuardNotice | null = null;

  constructor(opts: QueueOptions) {
    super();
    this.instanceDir = opts.instanceDir;
    this.backend = opts.backend;
    this.loaded = opts.settings;
    this.settings = { ...opts.settings.settings };
    this.absorber = opts.absorber;
    this.historyLimit = opts.historyLimit ?? 100;
    this.outputLimit = opts.outputLimit ?? 5000;
    this.confirmPrebuild = opts.confirmPrebuild ?? false;
  }

  get busy(): boolean {
    return this.active !== null;
  }

  get pendingChanges(): ChangeEntry[] {
    return mergeChangeSets([...this.deferred, ...this.followUp])?.entries ?? [];
  }

  /** A change set from the watcher: built now, after the current build, or kept (auto-build off). */
  onChanges(set: ChangeSet): void {
    if (this.closed) return;
    if (this.held) {
      this.deferred.push(set);
      this.emit('deferred', this.pendingChanges);
      return;
    }
    if (!this.settings.autoBuild) {
      this.deferred.push(set);
      // A settings edit applies now (it may turn auto-build back on); a broken file is reported
      // by the build that eventually runs.
      if (set.entries.some((e) => e.area === 'settings')) {
        try {
          this.reloadSettings();
        } catch {
          /* reported at build time */
        }
        if (this.settings.autoBuild) return this.buildNow('change');
      }
      this.emit('deferred', this.pendingChanges);
      return;
    }
    this.schedule([set], 'change');
  }

  /** Builds now (or right after the current build), including changes held while auto-build was off. */
  buildNow(trigger: BuildTrigger = 'manual'): void {
    if (this.closed) return;
    const sets = this.deferred;
    this.deferred = [];
    this.held = false;
    this.schedule(sets, trigger);
  }

  /** Takes these as run by hand (the demo, which compiled its program itself, as its prebuild does). */
  confirm(ran: ConfirmedSettings): void {
    this.confirmed = confirmKey(ran);
    this.confirmedReads = this.bomReads(ran) ?? { files: [], dirs: [] };
  }

  /** What the boms read now; null if they cannot be read (the bom stage then reports why). */
  private bomReads(s: ConfirmedSettings = this.settings): BomSources | null {
    try {
      return bomSources(s, this.instanceDir);
    } catch {
      return null;
    }
  }

  setAutoBuild(on: boolean): void {
    this.settings.autoBuild = on;
    if (on && this.deferred.length > 0) this.buildNow('change');
  }

  setAutoRerun(on: boolean): void {
    this.settings.autoRerun = on;
    if (!on) void this.backend.dropPrepared?.();
  }

  /** Keep run/ across the loop's rebuilds (the program's files survive a rerun). */
  setKeepRun(on: boolean): void {
    this.settings.keepRun = on;
  }

  /** Resolves when no build is running or scheduled. */
  async whenIdle(): Promise<void> {
    while (this.active) await this.active;
  }

  /** Runs a command (stopping what runs now); it becomes the command auto-rerun repeats. */
  async run(cmd: RunCommand): Promise<RunningProcess> {
    this.lastRun = cmd;
    await this.stopRunning('new run');
    return this.launch(cmd);
  }

  /** Stops the running process, if any. */
  async stopRunning(reason: string): Promise<void> {
    const proc = this.running;
    if (!proc) return;
    const prev = this.state;
    this.state = 'stopping';
    this.emit('run-stop', { reason });
    await this.backend.stop(this.instanceDir);
    await proc.exited;
    if (this.running === proc) this.running = null;
    this.state = prev === 'stopping' ? 'idle' : prev;
  }

  get runningProcess(): RunningProcess | null {
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.followUp = [];
    this.deferred = [];
    this.abort?.abort();
    await this.whenIdle();
    await this.stopRunning('closing');
    await this.backend.dropPrepared?.();
  }

  private schedule(sets: ChangeSet[], trigger: BuildTrigger): void {
    if (this.active) {
      // Exactly one follow-up: everything that arrives now is merged into it.
      this.followUp.push(...sets);
      if (this.followUpTrigger === null || trigger !== 'change') this.followUpTrigger = trigger;
      return;
    }
    this.active = this.drain(sets, trigger).finally(() => {
      this.active = null;
      this.state = 'idle';
    });
  }

  private async drain(sets: ChangeSet[], trigger: BuildTrigger): Promise<void> {
    let next: { sets: ChangeSet[]; trigger: BuildTrigger } | null = { sets, trigger };
    while (next && !this.closed) {
      try {
        await this.buildOnce(next.sets, next.trigger);
      } catch (err) {
        this.emit('error', err as Error);
      }
      this.absorber?.reconcile?.();
      if (this.followUpTrigger === null) next = null;
      else next = { sets: this.followUp, trigger: this.followUpTrigger };
      this.followUp = [];
      this.followUpTrigger = null;
    }
    // A sandbox prepared for a rerun that did not happen (failed build, closing) is not kept.
    void this.backend.dropPrepared?.();
  }

  private async buildOnce(sets: ChangeSet[], trigger: BuildTrigger): Promise<void> {
    const merged = mergeChangeSets(sets);
    const rec: BuildRecord = {
      id: this.nextId++,
      trigger,
      changes: merged?.entries ?? [],
      startedAt: Date.now(),
      durationMs: null,
      stages: { prebuildMs: null, bomMs: null, buildMs: null },
      prebuildRan: false,
      repacked: null,
      reused: null,
      imageMac: null,
      outcome: 'running',
      output: [],
      cause: null,
    };
    this.history.push(rec);
    if (this.history.length > this.historyLimit) this.history.splice(0, this.history.length - this.historyLimit);
    const abort = new AbortController();
    this.abort = abort;
    let dropped = 0;
    const out = (stream: OutputLine['stream'], text: string) => {
      const line: OutputLine = { stream, text };
      if (rec.output.length < this.outputLimit) rec.output.push(line);
      else dropped++;
      this.emit('build-output', rec, line);
    };
    const finish = (outcome: BuildRecord['outcome'], cause: FailureCause | null) => {
      if (dropped > 0) rec.output.push({ stream: 'studio', text: `… ${dropped} more lines not kept` });
      rec.outcome = outcome;
      rec.cause = cause;
      rec.durationMs = Date.now() - rec.startedAt;
      this.refreshGuard();
      rec.guard = this.guardNotice;
      this.emit('build-end', rec);
    };
    this.emit('build-start', rec);

    // Settings first: a broken settings file stops the build with its own location.
    const areas = areasOf(rec.changes);
    if (areas.has('settings')) {
      try {
        this.reloadSettings();
      } catch (err) {
        const msg = err instanceof SettingsError ? err.message : String(err);
        out('studio', msg);
        return finish('failed', {
          stage: 'settings',
          message: msg,
          hint: 'fix .occlum-studio.json; the loop keeps the previous settings until then',
        });
      }
    }

    const sourcesChanged = trigger !== 'change' || areas.has('source') || areas.has('settings');
    const needPrebuild = this.settings.prebuild !== null && sourcesChanged;
    const needBom = this.settings.bom.length > 0 && sourcesChanged;
    if ((needPrebuild || needBom) && this.confirmPrebuild) {
      const key = confirmKey(this.settings);
      if (trigger !== 'change') this.confirmed = key;
      else if (key !== this.confirmed) return this.hold(rec, sets, finish, out);
    }
    if (needPrebuild) {
      this.state = 'prebuild';
      rec.prebuildRan = true;
      const t0 = Date.now();
      this.absorber?.hold();
      try {
        out('studio', `$ ${this.settings.prebuild}`);
        let res;
        try {
          res = await runPrebuild(this.settings.prebuild!, this.instanceDir, (l) => out('prebuild', l), abort.signal);
        } catch (err) {
          rec.stages.prebuildMs = Date.now() - t0;
          return finish('failed', {
            stage: 'prebuild',
            message: `the prebuild command could not start: ${(err as Error).message}`,
          });
        }
        rec.stages.prebuildMs = Date.now() - t0;
        if (abort.signal.aborted) return finish('cancelled', null);
        if (res.status !== 0) {
          // The line that says what broke: compilers end with context (source excerpt, caret,
          // "N errors generated"), so prefer the last line that reads as an error.
          const said = rec.output.filter((l) => l.stream === 'prebuild' && l.text.trim() !== '').reverse();
          const last =
            said.find((l) =>
              /\b(error|fatal|failed|cannot|undefined reference|no such file|not found)\b/i.test(l.text),
            ) ?? said[0];
          return finish('failed', {
            stage: 'prebuild',
            message: `the prebuild \`${this.settings.prebuild}\` exited with status ${res.status}`,
            hint: 'fix the error in its output; the image was not rebuilt',
            ...(last ? { line: last.text.trim() } : {}),
          });
        }
        // Fold what the prebuild wrote into this build (its events are still arriving).
        await this.absorbWrites(rec);
      } finally {
        this.absorber?.release();
      }
    }

    // Bom copies: when their sources (or the settings) changed, and for manual/initial builds.
    if (needBom && this.confirmPrebuild) {
      const reads = this.bomReads();
      if (trigger !== 'change') this.confirmedReads = reads ?? { files: [], dirs: [] };
      else if (reads) {
        const unconfirmed = unconfirmedReads(reads, this.confirmedReads, rec.changes);
        if (unconfirmed.length > 0) return this.hold(rec, sets, finish, out, unconfirmed);
      }
    }
    if (needBom) {
      this.state = 'bom';
      const t0 = Date.now();
      this.absorber?.hold();
      try {
        const hint = trigger === 'change' ? rec.changes : null;
        let wrote: string[] | undefined = [];
        const cause = await runBomStage(
          this.settings,
          this.instanceDir,
          (l) => out('bom', l),
          hint,
          (s) => (rec.boms ??= []).push(s),
          (paths) => (wrote = paths && wrote ? [...wrote, ...paths] : undefined),
        );
        rec.stages.bomMs = Date.now() - t0;
        this.refreshSources();
        if (abort.signal.aborted) return finish('cancelled', null);
        if (cause) return finish('failed', cause);
        await this.absorbWrites(rec, wrote);
      } finally {
        this.absorber?.release();
      }
    }

    this.state = 'building';
    // A backend that prepares at a build start does it now (dropped below when no rerun follows).
    if (this.settings.autoRerun && this.lastRun && !this.closed) this.backend.prepareRerun?.(this.instanceDir, 'build');
    const t1 = Date.now();
    let result;
    this.absorber?.reading?.(true);
    try {
      result = await this.backend.build({
        instanceDir: this.instanceDir,
        changes: rec.changes,
        force: false,
        keepRun: this.settings.keepRun,
        signal: abort.signal,
        onOutput: (l) => out('build', l),
        onProgress: (p) => this.emit('progress', { ...p, text: sanitizeForTerminal(p.text) }),
        // Anything running in the instance (ours, or a Run pane's) must end before the swap.
        beforeReplace: async () => {
          if (this.running) await this.stopRunning(`build #${rec.id} replaces the image`);
          else await this.backend.stop(this.instanceDir);
        },
      });
    } catch (err) {
      rec.stages.buildMs = Date.now() - t1;
      if (abort.signal.aborted) return finish('cancelled', null);
      for (const l of errorMessage(err).split('\n')) out('build', l);
      return finish(
        'failed',
        explainFailure(
          rec.output.map((l) => l.text),
          undefined,
        ),
      );
    } finally {
      this.absorber?.reading?.(false);
    }
    rec.stages.buildMs = Date.now() - t1;
    if (!result.ok) {
      if (result.error) out('build', result.error);
      return finish(
        'failed',
        result.cause ??
          explainFailure(
            rec.output.map((l) => l.text),
            result.error,
          ),
      );
    }
    rec.repacked = result.repacked ?? null;
    rec.reused = result.reused ?? null;
    rec.imageMac = result.imageMac ?? null;
    finish('ok', null);

    // The new image replaces what runs: stop it, and rerun the last command when asked to.
    if (this.running) await this.stopRunning(`build #${rec.id} succeeded`);
    // Files changed while this build ran: its follow-up supersedes it, and only that one reruns.
    let superseded = this.followUpTrigger !== null;
    if (!superseded && this.absorber?.pending) {
      // Events still settling can net to nothing (a temporary file come and gone): taken now, a
      // rerun does not wait for a follow-up build that never comes.
      this.absorber.hold();
      let late: ChangeSet | null;
      try {
        // Events only: the reconcile after the build (absorber.reconcile) still checks the disk.
        late = await this.absorber.settle(Math.min(this.settings.debounceMs, 50), []);
      } finally {
        this.absorber.release();
      }
      if (late && late.entries.length > 0) this.onChanges(late);
      superseded = this.followUpTrigger !== null;
    }
    if (this.settings.autoRerun && this.lastRun && !this.closed && !superseded) {
      await this.launch(this.lastRun);
    }
  }

  /** Asks the backend whether runs are checked in full (after a build or a launch: also one from elsewhere). */
  refreshGuard(): void {
    const n = this.backend.guardNotice?.(this.instanceDir) ?? null;
    if (JSON.stringify(n) === JSON.stringify(this.guardNotice)) return;
    this.guardNotice = n;
    this.emit('guard', n);
  }

  private async launch(cmd: RunCommand): Promise<RunningProcess> {
    this.state = 'launching';
    this.emit('run-start', { cmd, at: Date.now() });
    let forks: ForkAttempts | undefined;
    // The next rerun's sandbox comes up once this run printed (or ended) and no build runs: the
    // loop is idle then, and a spawn (which blocks this thread for a while) slows nothing.
    let printed = false;
    const prepareIdle = () => {
      if (this.settings.autoRerun && this.lastRun && !this.closed && !this.active) {
        this.backend.prepareRerun?.(this.instanceDir, 'idle');
      }
    };
    let proc: RunningProcess;
    try {
      proc = await this.backend.run(this.instanceDir, cmd, {
        onOutput: (chunk, stream) => {
          this.emit('run-output', { chunk, stream, at: Date.now() });
          if (printed) return;
          printed = true;
          setImmediate(prepareIdle); // after this output reached the listeners
        },
        onExit: (_status, f) => (forks = f),
      });
    } finally {
      this.refreshGuard(); // the launch checked the build, and tried to arm a guard after a full check
    }
    this.running = proc;
    void proc.exited.then((status) => {
      if (this.running === proc) this.running = null;
      this.emit('run-exit', { cmd, status, at: Date.now(), launch: proc.launch, ...(forks ? { forks } : {}) });
      prepareIdle(); // it printed nothing, or what was prepared then is used already
    });
    if (this.state === 'launching') this.state = this.active ? 'building' : 'idle';
    return proc;
  }

  /**
   * Ends a change build whose prebuild or boms no build started by hand ran, or whose boms now
   * read host paths (`reads`) no such build read: its changes wait.
   */
  private hold(
    rec: BuildRecord,
    sets: ChangeSet[],
    finish: (outcome: BuildRecord['outcome'], cause: FailureCause) => void,
    out: (stream: OutputLine['stream'], text: string) => void,
    reads: string[] = [],
  ): void {
    const { prebuild, bom } = this.settings;
    const what = [
      ...(prebuild !== null && reads.length === 0 ? [`the prebuild \`${prebuild}\``] : []),
      ...(bom.length > 0 ? [`the bom copy of ${bom.join(', ')}`] : []),
    ];
    const listed = reads.slice(0, 3).join(', ') + (reads.length > 3 ? ` and ${reads.length - 3} more` : '');
    const message =
      reads.length > 0
        ? `${what.join('')} now reads ${listed}, which no build you started read in this session: it was not run`
        : `${what.join(' and ')} ${what.length > 1 ? 'were' : 'was'} not run: ` +
          'it comes from .occlum-studio.json, and no build you started ran it in this session';
    this.held = true;
    this.deferred.push(...sets);
    out('studio', message);
    finish('held', {
      stage: prebuild !== null && reads.length === 0 ? 'prebuild' : 'bom',
      message,
      hint: 'read it, then build by hand to run it (b in the Build pane, or restart occlum-studio watch); changes wait until then',
    });
    this.emit('deferred', this.pendingChanges);
  }

  /** Folds what a stage of this build wrote (prebuild output, bom copies) into its change set. */
  private async absorbWrites(rec: BuildRecord, paths?: string[]): Promise<void> {
    const extra = await this.absorber?.settle(Math.min(this.settings.debounceMs, 50), paths);
    if (extra)
      rec.changes = mergeChangeSets([
        { entries: rec.changes, events: 0, firstEventAt: rec.startedAt, lastEventAt: rec.startedAt },
        extra,
      ])!.entries;
  }

  /** A bom's includes or entries may have changed with the copy: watch what it names now. */
  private refreshSources(): void {
    const sources = sourcesOf(this.settings, this.instanceDir);
    const key = (l: LoadedSettings['sources']) => l.map((g) => g.pattern).join('\n');
    if (key(sources) === key(this.loaded.sources)) return;
    this.loaded = { ...this.loaded, sources };
    this.emit('settings', this.loaded);
  }

  private reloadSettings(): void {
    const loaded = loadSettings(this.instanceDir);
    // The toggles are the user's live choice in the UI; a settings edit resets them explicitly.
    this.loaded = loaded;
    this.settings = { ...loaded.settings };
    this.emit('settings', loaded);
  }

  get loadedSettings(): LoadedSettings {
    return this.loaded;
  }
}
