// Watches an instance with chokidar 4 and emits coalesced change sets.
//
// Write completion: chokidar's awaitWriteFinish polls every file on its own (≈105 ms per file at
// best, stack-notes) and would still hand out one event per file. Instead events arrive raw
// (1–5 ms after a write, atomic: false so unlinks are not held back 100 ms) and a change set is
// released after `debounceMs` without any event in the whole instance, or after SETTLE_MS when it
// is an editor's save whose files nobody has open for writing (writers.ts). A file still being
// written keeps producing change events or is open (then held, up to HOLD_MS), so it is never
// released half-written; a `cp -r` of 1000 files keeps the instance busy until the last one lands,
// and becomes one set.
//
// Only directories get a watch of their own: the kernel reports a change to a file in a watched
// directory on the directory's watch (libuv's raw `change`/`rename` with the file's name), so the
// files' events come from there (fileEvent). A watch per file (chokidar's way) took two inotify
// watches per file with the build guard's, 240,000 for a Python image and its bom's sources,
// over the user's limit (fs.inotify.max_user_watches, 128k-ish on a 16 GB machine), and 440 MB.
import { EventEmitter } from 'node:events';
import { lstatSync, readdirSync, realpathSync, type Dirent, type Stats } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { FSWatcher } from 'chokidar';
import { ChangeAccumulator, mergeKind, type WatchEvent } from './changeset.ts';
import { isInside, type WatchScope } from './scope.ts';
import { inotifyBudget } from '../detect/inotify.ts';
import { allClosed, someOpen } from './writers.ts';
import type { ChangeEntry, ChangeSet } from './types.ts';

/**
 * Quiet time after which an editor's save is released if its files are closed (events arrive
 * 1–5 ms after a write); and the most files such a save may have (more is a bulk operation,
 * which gets the whole debounce).
 */
const SETTLE_MS = 15;
const MAX_SAVED_FILES = 16;
/**
 * A set quiet for the whole debounce is still held while one of its written files (at most this
 * many probed) is open for writing: its writer paused longer than the debounce (a slow copy, a
 * loaded machine). Held at most HOLD_MS of quiet (or 10 debounces): a file left open for good
 * must not stop the loop.
 */
const MAX_PROBED_FILES = 64;
const HOLD_MS = 2000;
/** When a new directory is read again for files created before its watch was in place. */
const NEW_DIR_RECHECK_MS = 100;
/** The longest stretch a reconcile's scan keeps the event loop. */
const SCAN_SLICE_MS = 4;
/** How long before a set's first event a build's read still counts as concurrent with it. */
const READ_RACE_MS = 1000;

export interface WatcherOptions {
  scope: WatchScope;
  debounceMs: number;
  /** false: the watch does not keep the process alive (the TUI exits when its UI does). */
  persistent?: boolean;
}

/** How far the start is: paths of the view taken (`scan`), directories being watched (`watch`). */
export interface WatchProgress {
  phase: 'scan' | 'watch';
  done: number;
  /** The phase is over (`done` is its total). */
  end?: boolean;
}

export interface WatcherEvents {
  changes: [ChangeSet];
  error: [Error];
}

export class Watcher extends EventEmitter<WatcherEvents> {
  private fsw: FSWatcher | null = null;
  private acc = new ChangeAccumulator();
  private timer: NodeJS.Timeout | null = null;
  private lastEventAt = 0;
  private held = 0;
  private quietWaiters: { quietMs: number; resolve: () => void; timer: NodeJS.Timeout | null }[] = [];
  readonly scope: WatchScope;
  debounceMs: number;
  private readonly persistent: boolean;
  /**
   * What consumers were told: the initial scan with every released change set applied (stat
   * signature per path). reconcile() compares it with the disk.
   */
  private view: Map<string, string> | null = null;
  private reconcileTimer: NodeJS.Timeout | null = null;
  /** Paths found changed by reconcile() that no event had reported (for tests and diagnostics). */
  recovered = 0;
  /** The reconcile under way, and whether another must follow it (asked for meanwhile). */
  private reconciling: Promise<number> | null = null;
  private reconcileAgain = false;
  /** Paths whose view entry changed while a scan was under way (its snapshot of them is stale). */
  private scanTouched: Set<string> | null = null;
  /** Builds reading the trees now, and when one last started or ended (see reading). */
  private readers = 0;
  /** close() was called: a start still under way sets up no watches. */
  private closed = false;
  private lastReadAt = 0;
  /** The directories chokidar was let watch (one inotify watch each), and how many it may. */
  private readonly watchedDirs = new Set<string>();
  private readonly dirBudget = inotifyBudget();
  private overBudget = false;
  private ready = false;
  /** Each root with its real path (see throughLink). */
  private realRoots: [string, string][] = [];

  constructor(opts: WatcherOptions) {
    super();
    this.scope = opts.scope;
    this.debounceMs = opts.debounceMs;
    this.persistent = opts.persistent ?? true;
  }

  /** Starts watching; resolves once chokidar has scanned the roots (later changes are reported). */
  async start(progress?: (p: WatchProgress) => void): Promise<void> {
    this.scope.checkSize(); // throws before anything is watched
    await this.startEvents(progress, false);
    await this.takeView(progress);
  }

  /**
   * The first half of start(): checks the sources' size and takes the view (the state every later
   * change is measured against). A build may start right after it, while startEvents() sets up the
   * watches: whatever changes after the view was taken differs from it, so the reconcile that
   * follows startEvents() reports it, whether or not a watch was in place yet.
   */
  async startView(progress?: (p: WatchProgress) => void): Promise<void> {
    this.scope.checkSize(); // throws before anything is watched
    await this.takeView(progress);
  }

  private async takeView(progress?: (p: WatchProgress) => void): Promise<void> {
    const view = await this.scan((done) => progress?.({ phase: 'scan', done }));
    this.view = view;
    progress?.({ phase: 'scan', done: view.size, end: true });
  }

  /**
   * chokidar's watches; resolves once they are in place. After startView(), `reconcile` (the
   * default) then compares the disk with the view (see there); start() takes the view after.
   */
  startEvents(progress?: (p: WatchProgress) => void, reconcile = true): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.realRoots = this.scope.roots().map((r) => {
      try {
        return [r, realpathSync.native(r)];
      } catch {
        return [r, r]; // missing: nothing below it is reached
      }
    });
    const fsw = new FSWatcher({
      persistent: this.persistent,
      ignoreInitial: true,
      // chokidar stats each entry and asks again: only directories are watched (see the top).
      ignored: (path: string, stats?: Stats | Dirent) =>
        this.scope.ignored(path, stats as Stats | undefined) ||
        (stats !== undefined && !stats.isDirectory()) ||
        this.overDirBudget(path, stats as Stats | undefined),
      atomic: false,
      awaitWriteFinish: false,
      followSymlinks: false,
      ignorePermissionErrors: true,
    });
    let dirs = 0;
    directoriesOnly(fsw, () => {
      if (++dirs % 500 === 0) progress?.({ phase: 'watch', done: dirs });
    });
    this.fsw = fsw;
    for (const ev of ['add', 'addDir', 'change', 'unlink', 'unlinkDir'] as const) {
      fsw.on(ev, (path: string) => this.onEvent(ev, path));
    }
    fsw.on('unlinkDir', (path: string) => this.watchedDirs.delete(path));
    // chokidar reads a new directory before it watches it and reports only directories: the files
    // already in it come from reading it, now and once its watch is surely in place (a file
    // created in between has no event).
    fsw.on('addDir', (path: string) => {
      this.filesIn(path);
      setTimeout(() => this.fsw && this.filesIn(path), NEW_DIR_RECHECK_MS).unref();
    });
    // A directory's raw events name its entries: the files' events (chokidar reports the
    // directories'). chokidar never reports a directory's own attribute change: the reconcile
    // finds it.
    fsw.on('raw', (_event, name, details) => {
      const at = (details as { watchedPath?: string } | undefined)?.watchedPath;
      if (!at) return;
      if (name) this.fileEvent(join(at, name));
      if (this.scope.classify(at) !== null || this.scope.classify(join(at, name)) !== null) this.scheduleReconcile();
    });
    fsw.on('error', (err) => this.emit('error', explainWatchError(err as NodeJS.ErrnoException)));
    fsw.add(this.scope.roots());
    return new Promise((resolve, reject) =>
      fsw.once('ready', () => {
        this.ready = true;
        // Too many directories from the start: nothing is watched (as SourcesTooBigError).
        if (this.overBudget) return void this.close().then(() => reject(this.budgetError(false)));
        progress?.({ phase: 'watch', done: dirs, end: true });
        // What changed since the view was taken, before its directory was watched, has no event.
        if (reconcile) void this.reconcile();
        resolve();
      }),
    );
  }

  /**
   * chokidar's `ignored` for a directory it would watch: past the budget (see inotifyBudget) it
   * is not watched, and the watcher stops, releasing every watch: a program writing image/
   * through its `/host` view (mkdir in a loop) must not take the user's last inotify watches.
   */
  private overDirBudget(path: string, stats?: Stats): boolean {
    if (this.overBudget) return true;
    if (!stats?.isDirectory() || this.watchedDirs.has(path)) return false;
    if (this.throughLink(path)) return true;
    if (this.watchedDirs.size < this.dirBudget) {
      this.watchedDirs.add(path);
      return false;
    }
    this.overBudget = true;
    if (this.ready)
      setImmediate(() => {
        this.emit('error', this.budgetError(true));
        void this.close();
      });
    return true;
  }

  private budgetError(stopped: boolean): WatchBudgetError {
    return new WatchBudgetError(
      `the instance and its watched sources hold more than ${this.dirBudget} directories, a third of this ` +
        `user's inotify watches (fs.inotify.max_user_watches): the loop ${stopped ? 'stopped watching' : 'does not watch'}, ` +
        'so that other programs keep theirs; b builds by hand. Remove directories (a program writing image/ ' +
        'through /host?), or raise the limit (sudo sysctl fs.inotify.max_user_watches=524288), then reopen the instance',
    );
  }

  /**
   * True when directory `path` is reached through a symbolic link: links are not followed here,
   * so one on the way was swapped in for a directory after it was looked at (a program writing
   * image/ through its `/host` view, `renameat2(RENAME_EXCHANGE)` of a directory and a link to
   * /usr in a loop, had the watcher walk and watch all of /usr and report its 160,000 files as
   * changes of image/). Such a directory is neither watched nor read.
   */
  private throughLink(path: string): boolean {
    const root = this.realRoots.find(([r]) => isInside(path, r));
    if (!root) return false;
    let real;
    try {
      real = realpathSync.native(path);
    } catch {
      return false; // gone: its own event follows
    }
    return real !== join(root[1], relative(root[0], path));
  }

  /** Quiet time after the last event before a trailing reconcile checks the disk. */
  get reconcileDelayMs(): number {
    return Math.max(500, this.debounceMs * 5);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.reconcileTimer) clearTimeout(this.reconcileTimer);
    this.timer = null;
    this.reconcileTimer = null;
    for (const w of this.quietWaiters) {
      if (w.timer) clearTimeout(w.timer);
      w.resolve();
    }
    this.quietWaiters = [];
    await this.fsw?.close();
    this.fsw = null;
  }

  /** True while events are waiting for the quiet period. */
  get pending(): boolean {
    return this.acc.pending;
  }

  /**
   * Holds change sets back (while a caller wants to absorb them itself, see settle). Events still
   * accumulate; release() restarts the quiet timer.
   */
  hold(): void {
    this.held++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  release(): void {
    this.held = Math.max(0, this.held - 1);
    if (this.held === 0 && this.acc.pending) this.arm();
  }

  /**
   * Waits until no event has arrived for `quietMs`, then takes what accumulated. The build queue
   * calls this after the prebuild so that the files it wrote count toward the current build
   * instead of triggering a second one.
   */
  async settle(quietMs: number, paths?: string[]): Promise<ChangeSet | null> {
    await new Promise<void>((resolve) => {
      const w = { quietMs, resolve, timer: null as NodeJS.Timeout | null };
      this.quietWaiters.push(w);
      this.armQuiet(w);
    });
    // What the prebuild wrote is on disk now, whether or not chokidar has reported it yet (under
    // load its events can trail by seconds): compare the disk with the view so nothing is left
    // over for a second build. A stage that says what it wrote has just those paths checked.
    if (paths) this.reconcilePaths(paths);
    else await this.reconcile();
    return this.released(this.acc.take());
  }

  /**
   * Takes over a previous watcher's last reported state for the paths both watch, then checks
   * the disk: a change that landed while one watcher closed and the other scanned (its event
   * still in the old one's pipeline, already in the new one's first scan) is reported, not lost.
   */
  adopt(prev: Watcher): void {
    if (!this.view || !prev.view) return;
    const old = prev.view;
    for (const p of [...this.view.keys()]) {
      if (prev.scope.classify(p) === null) continue;
      const sig = old.get(p);
      if (sig === undefined) this.viewDelete(p);
      else this.viewSet(p, sig);
    }
    for (const [p, sig] of old) if (this.scope.classify(p) !== null && !this.view.has(p)) this.viewSet(p, sig);
    void this.reconcile();
  }

  /**
   * A consumer (a build) reads the watched trees from now (true) until it is done (false). A path
   * created and removed again meanwhile may have been read in between: its set keeps it although
   * it was never reported (an incremental build must look at it again).
   */
  reading(on: boolean): void {
    this.readers = Math.max(0, this.readers + (on ? 1 : -1));
    this.lastReadAt = Date.now();
  }

  /** Takes what accumulated without waiting. */
  take(): ChangeSet | null {
    return this.released(this.acc.take());
  }

  /**
   * A set leaving the watcher: completed, each entry's kind checked against the disk (chokidar's
   * events are asynchronous: an `add` whose stat finished late can follow its parent's
   * `unlinkDir`), and recorded in the consumers' view.
   */
  private released(set: ChangeSet | null): ChangeSet | null {
    const done = this.complete(set);
    if (!done) return done;
    const kept: ChangeEntry[] = [];
    // Events trail their writes (1–5 ms, far more under load): a read that ended shortly before
    // the set's first event may still have seen its paths mid-change.
    const raced = this.readers > 0 || this.lastReadAt >= done.firstEventAt - READ_RACE_MS;
    for (const e of done.entries) {
      const sig = signature(e.path);
      if (sig === null && e.kind !== 'removed') e.kind = 'removed';
      else if (sig !== null && e.kind === 'removed') e.kind = 'changed';
      if (sig !== null) e.isDir = isDirSig(sig);
      if (this.view) {
        // Already reported in this very state (a late chokidar event after reconcile reported
        // the change, or a burst of events ending where it began): not a change.
        const prev = this.view.get(e.path);
        // A path never reported and gone again is kept when a build may have read it meanwhile
        // (it may be in that build now); a late event of a reported state is dropped either way.
        if ((sig === null && prev === undefined && !raced) || (sig !== null && prev === sig)) continue;
        if (sig === null) {
          this.viewDelete(e.path);
          if (e.isDir || (prev !== undefined && isDirSig(prev)))
            for (const p of [...this.view.keys()]) if (p.startsWith(e.path + '/')) this.viewDelete(p);
        } else this.viewSet(e.path, sig);
      }
      kept.push(e);
    }
    if (kept.length === 0) return null;
    return kept.length === done.entries.length ? done : { ...done, entries: kept };
  }

  /**
   * Adds what lies inside directories the set says were added. A file created in a directory
   * within moments of the directory itself (or of its rename) can land before the watcher of
   * the new directory is in place, and chokidar then never reports it; by the time the set is
   * released, it is on disk.
   */
  private complete(set: ChangeSet | null): ChangeSet | null {
    if (!set) return set;
    const byPath = new Map(set.entries.map((e) => [e.path, e]));
    const addedDirs = new Set(set.entries.filter((e) => e.isDir && e.kind !== 'removed').map((e) => e.path));
    const visit = (dir: string) => {
      if (this.throughLink(dir)) return;
      let names;
      try {
        names = readdirSync(dir, { withFileTypes: true });
      } catch {
        return; // removed again meanwhile: its own event follows
      }
      for (const d of names) {
        const p = join(dir, d.name);
        const area = this.scope.classify(p);
        if (area === null) continue;
        if (!byPath.has(p)) {
          byPath.set(p, {
            path: p,
            rel: relative(this.scope.instanceDir, p),
            area,
            kind: mergeKind(undefined, 'added'),
            isDir: d.isDirectory(),
          });
        }
        if (d.isDirectory() && !addedDirs.has(p)) visit(p);
      }
    };
    for (const d of addedDirs) visit(d);
    if (byPath.size === set.entries.length) return set;
    const entries = [...byPath.values()].sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
    return { ...set, entries };
  }

  private viewSet(path: string, sig: string): void {
    this.view?.set(path, sig);
    this.scanTouched?.add(path);
  }

  private viewDelete(path: string): void {
    this.view?.delete(path);
    this.scanTouched?.add(path);
  }

  /**
   * The safety net behind chokidar: compares the watched trees with their state at the last
   * reconcile and reports what changed without an event. chokidar loses events when its 1 s
   * readdir throttle expires while the event loop is blocked (a synchronous build step), and
   * for files created while it sets up a new directory's watch. Called after every build, so a
   * missed change costs at most one more build instead of a stale image. One at a time: asked
   * for while one runs, another follows it (its scan may have passed what changed). Resolves to
   * the paths found.
   */
  reconcile(): Promise<number> {
    if (this.reconciling) {
      this.reconcileAgain = true;
      return this.reconciling;
    }
    this.reconciling = (async () => {
      let found = 0;
      do {
        this.reconcileAgain = false;
        found += await this.reconcileOnce();
      } while (this.reconcileAgain && this.fsw);
      return found;
    })().finally(() => (this.reconciling = null));
    return this.reconciling;
  }

  private async reconcileOnce(): Promise<number> {
    if (!this.view || !this.fsw) return 0;
    const touched = new Set<string>();
    this.scanTouched = touched;
    let now;
    try {
      now = await this.scan();
    } finally {
      this.scanTouched = null;
    }
    const view = this.view;
    if (!view || !this.fsw) return 0;
    const gone = [...view.keys()].filter((p) => !now.has(p)).map((p): [string, null] => [p, null]);
    const found = this.report([...now, ...gone], touched);
    this.recovered += found;
    return found;
  }

  /** What a stage says it wrote, and the directories above it, compared with the view. */
  private reconcilePaths(paths: string[]): void {
    const all = new Set<string>();
    for (const p of paths) for (let q = p; this.scope.classify(q) !== null && !all.has(q); q = dirname(q)) all.add(q);
    this.report(
      [...all].map((p) => [p, signature(p)]),
      new Set(),
    );
  }

  /**
   * Adds to the pending set what differs between the disk (path → signature, null when gone) and
   * the view; not pending paths nor `skip` (released during a scan: an event saw them).
   */
  private report(disk: [string, string | null][], skip: Set<string>): number {
    const view = this.view;
    if (!view) return 0;
    let found = 0;
    const at = Date.now();
    for (const [p, sig] of disk) {
      const before = view.get(p);
      if (before === sig || (sig === null && before === undefined)) continue;
      let event: WatchEvent;
      if (sig === null) event = isDirSig(before!) ? 'unlinkDir' : 'unlink';
      else if (before === undefined) event = isDirSig(sig) ? 'addDir' : 'add';
      else if (!isDirSig(sig)) event = isDirSig(before) ? 'add' : 'change';
      else if (isDirSig(before))
        event = 'change'; // a directory's mode
      else continue; // a file replaced by a directory: chokidar reports it
      const area = this.scope.classify(p);
      if (area === null || this.acc.has(p) || skip.has(p)) continue;
      this.acc.add(p, relative(this.scope.instanceDir, p), area, event, at);
      found++;
    }
    if (found > 0) {
      this.lastEventAt = at;
      if (this.held === 0) this.arm();
    }
    return found;
  }

  /**
   * Stat signature of every watched path: d:mode for directories, type:size:mtime:mode otherwise.
   * In slices of SCAN_SLICE_MS, so that a Python-sized tree (120,000 paths: about a second of
   * stats) does not stall the event loop, and with it a build's or a run's next step.
   */
  private async scan(progress?: (done: number) => void): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const stack: [string, number][] = this.scope.roots().map((r) => [r, 0]);
    let slice = performance.now();
    while (stack.length > 0) {
      if (performance.now() - slice > SCAN_SLICE_MS) {
        progress?.(out.size);
        await new Promise((resolve) => setImmediate(resolve));
        slice = performance.now();
      }
      const [p, depth] = stack.pop()!;
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (p !== this.scope.instanceDir && this.scope.classify(p) !== null) out.set(p, statSignature(st));
        if (depth > 64 || this.throughLink(p)) continue;
        let names: string[];
        try {
          names = readdirSync(p);
        } catch {
          continue;
        }
        for (const n of names) {
          const c = join(p, n);
          if (!this.scope.ignored(c)) stack.push([c, depth + 1]);
        }
      } else if (this.scope.classify(p) !== null) {
        out.set(p, statSignature(st));
      }
    }
    return out;
  }

  /** The files of a directory, each as an event from its state on disk. */
  private filesIn(dir: string): void {
    if (this.throughLink(dir)) return;
    let names;
    try {
      names = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // gone again: its own event follows
    }
    for (const d of names) if (!d.isDirectory()) this.fileEvent(join(dir, d.name));
  }

  /** An entry of a watched directory changed: a file's event, from its state on disk now. */
  private fileEvent(path: string): void {
    if (this.scope.classify(path) === null) return;
    const sig = signature(path);
    const prev = this.view?.get(path);
    if ((sig !== null && isDirSig(sig)) || (sig === null && prev !== undefined && isDirSig(prev))) return; // chokidar's
    if (sig === null) this.onEvent('unlink', path);
    else this.onEvent(prev === undefined && !this.acc.has(path) ? 'add' : 'change', path);
  }

  private onEvent(event: WatchEvent, path: string): void {
    const area = this.scope.classify(path);
    if (area === null) return;
    const now = Date.now();
    this.lastEventAt = now;
    this.acc.add(path, relative(this.scope.instanceDir, path), area, event, now);
    for (const w of this.quietWaiters) this.armQuiet(w);
    if (this.held === 0) this.arm();
    this.scheduleReconcile();
  }

  /** Once things calm down, checks the disk for anything chokidar lost in the commotion. */
  private scheduleReconcile(): void {
    if (this.reconcileTimer) clearTimeout(this.reconcileTimer);
    this.reconcileTimer = setTimeout(() => {
      this.reconcileTimer = null;
      if (this.fsw) void this.reconcile();
    }, this.reconcileDelayMs);
  }

  /**
   * Makes sure a quiet check is due. Not pushed back by each event: under load an event that is
   * ready when the process wakes up is handled before an overdue timer, so a timer re-armed per
   * event would keep missing the quiet spell; the check measures the quiet since the last event.
   */
  private arm(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.onQuiet(), Math.min(this.debounceMs, SETTLE_MS));
  }

  /**
   * The set is released once no event came for `debounceMs`, or after SETTLE_MS when it is an
   * editor's save whose files nobody has open for writing any more.
   */
  private onQuiet(): void {
    this.timer = null;
    if (this.held > 0) return;
    const quiet = Date.now() - this.lastEventAt;
    const settle = Math.min(this.debounceMs, SETTLE_MS);
    if (quiet < this.debounceMs && !(quiet >= settle && this.saveComplete())) {
      const wait = quiet < settle ? settle - quiet : Math.min(settle, this.debounceMs - quiet);
      this.timer = setTimeout(() => this.onQuiet(), Math.max(1, wait));
      return;
    }
    if (quiet < Math.max(HOLD_MS, 10 * this.debounceMs) && this.beingWritten()) {
      this.timer = setTimeout(() => this.onQuiet(), settle);
      return;
    }
    const set = this.released(this.acc.take());
    if (set) this.emit('changes', set);
  }

  /** Whether a file the set writes is still open for writing by some process. */
  private beingWritten(): boolean {
    const files = this.acc.writtenFiles(MAX_PROBED_FILES);
    return files !== null && someOpen(files);
  }

  /** A few saved files (no removal, no directory: see savedFiles), all closed by their writers. */
  private saveComplete(): boolean {
    const files = this.acc.savedFiles();
    return files !== null && files.length > 0 && files.length <= MAX_SAVED_FILES && allClosed(files);
  }

  private armQuiet(w: { quietMs: number; resolve: () => void; timer: NodeJS.Timeout | null }): void {
    if (w.timer) clearTimeout(w.timer);
    const wait = Math.max(0, w.quietMs - (Date.now() - this.lastEventAt));
    w.timer = setTimeout(() => {
      this.quietWaiters = this.quietWaiters.filter((x) => x !== w);
      w.resolve();
    }, wait);
  }
}

/**
 * Makes chokidar's directory reads stat only directories. chokidar 4 asks readdirp to lstat every
 * entry (alwaysStat) and then drops the files here (ignored): 59,500 files of a Python library
 * were 110,000 lstat round trips through the thread pool, half of the start. readdirp's dirents
 * answer isDirectory() and isSymbolicLink(), all `ignored` and chokidar's read loop ask of them;
 * a directory kept is stat'ed by chokidar itself when it is watched. Private API of chokidar 4 /
 * readdirp 4: a stream of another shape is left as chokidar made it (every entry stat'ed).
 */
function directoriesOnly(fsw: FSWatcher, onDir: () => void): void {
  const inner = fsw as unknown as { _readdirp?: (root: string, opts: object) => unknown };
  const readdirp = inner._readdirp;
  if (typeof readdirp !== 'function') return;
  inner._readdirp = (root: string, opts: object) => {
    onDir();
    const stream = readdirp.call(fsw, root, { ...opts, alwaysStat: false }) as
      { _statsProp?: string; _isDirent?: boolean; destroy(): void } | undefined;
    if (!stream || (stream._statsProp === 'dirent' && stream._isDirent === true)) {
      if (stream) stream._statsProp = 'stats'; // the dirent where chokidar reads entry.stats
      return stream;
    }
    stream.destroy();
    return readdirp.call(fsw, root, opts);
  };
}

/** More directories to watch than the studio's share of the user's inotify watches. */
export class WatchBudgetError extends Error {}

function explainWatchError(err: NodeJS.ErrnoException): Error {
  if (err.code === 'ENOSPC') {
    return new Error(
      'the system ran out of inotify watches while watching the instance; raise the limit, e.g. ' +
        '`sudo sysctl fs.inotify.max_user_watches=524288`, or watch fewer sources',
    );
  }
  if (err.code === 'EMFILE') {
    return new Error('too many open files while watching the instance; raise `ulimit -n` or watch fewer sources');
  }
  return new Error(`file watcher: ${err.message}`);
}

function statSignature(st: Stats): string {
  // The mode counts: an image holds it, and a chmod changes nothing else.
  return st.isDirectory() ? `d:${st.mode}` : `${st.isSymbolicLink() ? 'l' : 'f'}:${st.size}:${st.mtimeMs}:${st.mode}`;
}

function isDirSig(sig: string): boolean {
  return sig.startsWith('d:');
}

function signature(path: string): string | null {
  try {
    return statSignature(lstatSync(path));
  } catch {
    return null;
  }
}
