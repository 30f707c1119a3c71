// The dev loop of one instance: a Watcher feeding a BuildQueue, re-scoped when the settings file
// changes the watched sources or the debounce.
import { EventEmitter } from 'node:events';
import { BuildQueue } from './queue.ts';
import { WatchScope } from './scope.ts';
import type { LoadedSettings } from './settings.ts';
import type { ChangeSet, LoopProgress, WatchBackend } from './types.ts';
import { Watcher, type WatchProgress } from './watcher.ts';

export interface DevLoopEvents {
  'change-set': [ChangeSet];
  'watch-error': [Error];
  /** What a long step is at (the start's scan and watches, a build's counts), a few times a second. */
  progress: [LoopProgress];
}

/** The most progress events per second (a scan reports every 4 ms slice). */
const PROGRESS_MS = 250;

export interface DevLoopOptions {
  instanceDir: string;
  backend: WatchBackend;
  settings: LoadedSettings;
  /** false: watching does not keep the process alive (default true). */
  persistent?: boolean;
  /** Hold change builds whose prebuild no build started by hand ran (BuildQueue's option). */
  confirmPrebuild?: boolean;
}

export class DevLoop extends EventEmitter<DevLoopEvents> {
  readonly queue: BuildQueue;
  private watcher: Watcher;
  private watchKey: string;
  private closed = false;

  private constructor(
    readonly instanceDir: string,
    settings: LoadedSettings,
    backend: WatchBackend,
    private readonly persistent: boolean,
    confirmPrebuild: boolean,
  ) {
    super();
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the absorber's getter reads the current watcher
    const self = this;
    this.watcher = this.makeWatcher(settings);
    this.watchKey = sourceKey(settings);
    const absorber = {
      hold: () => this.watcher.hold(),
      release: () => this.watcher.release(),
      settle: (ms: number, paths?: string[]) => this.watcher.settle(ms, paths),
      // After a build: a moment later, so events held up while the build blocked the event loop
      // arrive first and only what chokidar really lost is reported by reconcile.
      reconcile: () => void setTimeout(() => void this.watcher.reconcile(), 100),
      reading: (on: boolean) => this.watcher.reading(on),
      get pending() {
        return self.watcher.pending;
      },
    };
    this.queue = new BuildQueue({ instanceDir, backend, settings, absorber, confirmPrebuild });
    this.queue.on('settings', (loaded) => void this.rescope(loaded));
    this.queue.on('progress', (p) => this.progress(p));
  }

  private lastProgressAt = 0;

  /** Passes a step's progress on: its end always, counts at most every PROGRESS_MS. */
  private progress(p: LoopProgress): void {
    const now = Date.now();
    if (!p.end && now - this.lastProgressAt < PROGRESS_MS) return;
    this.lastProgressAt = p.end ? 0 : now;
    this.emit('progress', p);
  }

  /** The watcher's start, as progress (see LoopProgress). */
  private startProgress = (p: WatchProgress): void => {
    const n = p.done.toLocaleString('en-US');
    if (p.phase === 'scan')
      this.progress({
        stage: 'scan',
        done: p.done,
        end: p.end,
        text: p.end ? `scanned ${n} watched paths` : `scanning the watched paths: ${n}`,
      });
    else
      this.progress({
        stage: 'watch',
        done: p.done,
        end: p.end,
        text: p.end ? `watching ${n} directories` : `setting up watches: ${n} directories`,
      });
  };

  /** Starts watching; resolves once the initial scan is done (later changes are reported). */
  static async open(opts: DevLoopOptions, onLoop?: (loop: DevLoop) => void): Promise<DevLoop> {
    const loop = DevLoop.make(opts);
    onLoop?.(loop); // its listeners, before the start reports progress
    await loop.watcher.start(loop.startProgress);
    return loop;
  }

  /**
   * Starts watching and resolves as soon as the state changes are measured against is taken
   * (Watcher.startView), so a first build can run while the watches are set up (`watching`
   * resolves then): a change made meanwhile is reported by the reconcile that follows.
   */
  static async openEarly(
    opts: DevLoopOptions,
    onLoop?: (loop: DevLoop) => void,
  ): Promise<{ loop: DevLoop; watching: Promise<void> }> {
    const loop = DevLoop.make(opts);
    onLoop?.(loop); // its listeners, before the start reports progress
    await loop.watcher.startView(loop.startProgress);
    const watching = loop.watcher.startEvents(loop.startProgress);
    watching.catch(() => {}); // the caller awaits it; until then a failure is not unhandled
    return { loop, watching };
  }

  private static make(opts: DevLoopOptions): DevLoop {
    return new DevLoop(
      opts.instanceDir,
      opts.settings,
      opts.backend,
      opts.persistent ?? true,
      opts.confirmPrebuild ?? false,
    );
  }

  /** Changes found by reconciliation that chokidar never reported (a count, for tests). */
  get recovered(): number {
    return this.watcher.recovered;
  }

  get reconcileDelayMs(): number {
    return this.watcher.reconcileDelayMs;
  }

  get debounceMs(): number {
    return this.watcher.debounceMs;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.watcher.close();
    await this.queue.close();
  }

  private makeWatcher(loaded: LoadedSettings): Watcher {
    const scope = new WatchScope(this.instanceDir, loaded.sources);
    const w = new Watcher({ scope, debounceMs: loaded.settings.debounceMs, persistent: this.persistent });
    w.on('changes', (set) => {
      this.emit('change-set', set);
      this.queue.onChanges(set);
    });
    w.on('error', (err) => this.emit('watch-error', err));
    return w;
  }

  /** New sources: a new watcher (chokidar cannot change its ignore function); else a new debounce. */
  private async rescope(loaded: LoadedSettings): Promise<void> {
    this.watcher.debounceMs = loaded.settings.debounceMs;
    const key = sourceKey(loaded);
    if (key === this.watchKey) return;
    this.watchKey = key;
    const old = this.watcher;
    const next = this.makeWatcher(loaded);
    try {
      await next.start();
    } catch (err) {
      // Sources too big to watch: the old scope stays, the pane and `watch` say why.
      await next.close();
      this.emit('watch-error', err as Error);
      return;
    }
    // Closed while the new watcher started: it would keep watching (and the process alive).
    if (this.closed) return next.close();
    this.watcher = next;
    // Events the old watcher still holds belong to the new scope's instance paths too.
    const left = old.take();
    await old.close();
    if (left) this.queue.onChanges(left);
    next.adopt(old);
  }
}

/** One line for a progress report: the step and its count (of the total, when known). */
export function progressLine(p: LoopProgress): string {
  if (p.end || p.done === undefined || p.stage !== 'build') return p.text;
  const n = (v: number) => v.toLocaleString('en-US');
  return `${p.text.replace(/\.+$/, '')}: ${n(p.done)}${p.total ? `/${n(p.total)}` : ''}`;
}

/** What the watcher's scope depends on: the watched globs and the boms' sources. */
function sourceKey(loaded: LoadedSettings): string {
  return loaded.sources.map((g) => g.pattern).join('\n');
}
