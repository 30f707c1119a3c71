// Watches an instance with chokidar 4 and emits coalesced change sets.
//
// Write completion: chokidar's awaitWriteFinish polls every file on its own (≈105 ms per file at
// best, stack-notes) and would still hand out one event per file. Instead events arrive raw
// (1–5 ms after a write, atomic: false so unlinks are not held back 100 ms) and a change set is
// released only after `debounceMs` without any event in the whole instance. A file still being
// written keeps producing change events, so it is never released half-written; a `cp -r` of 1000
// files keeps the instance busy until the last one lands, and becomes one change set.
import { EventEmitter } from 'node:events';
import { relative } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { ChangeAccumulator, type WatchEvent } from './changeset.ts';
import type { WatchScope } from './scope.ts';
import type { ChangeSet } from './types.ts';

export interface WatcherOptions {
  scope: WatchScope;
  debounceMs: number;
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

  constructor(opts: WatcherOptions) {
    super();
    this.scope = opts.scope;
    this.debounceMs = opts.debounceMs;
  }

  /** Starts watching; resolves once chokidar has scanned the roots (later changes are reported). */
  start(): Promise<void> {
    const fsw = watch(this.scope.roots(), {
      ignoreInitial: true,
      ignored: this.scope.ignored,
      atomic: false,
      awaitWriteFinish: false,
      followSymlinks: false,
      ignorePermissionErrors: true,
    });
    this.fsw = fsw;
    for (const ev of ['add', 'addDir', 'change', 'unlink', 'unlinkDir'] as const) {
      fsw.on(ev, (path: string) => this.onEvent(ev, path));
    }
    fsw.on('error', (err) => this.emit('error', explainWatchError(err as NodeJS.ErrnoException)));
    return new Promise((resolve) => fsw.once('ready', () => resolve()));
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
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
  async settle(quietMs: number): Promise<ChangeSet | null> {
    await new Promise<void>((resolve) => {
      const w = { quietMs, resolve, timer: null as NodeJS.Timeout | null };
      this.quietWaiters.push(w);
      this.armQuiet(w);
    });
    return this.acc.take();
  }

  /** Takes what accumulated without waiting. */
  take(): ChangeSet | null {
    return this.acc.take();
  }

  private onEvent(event: WatchEvent, path: string): void {
    const area = this.scope.classify(path);
    if (area === null) return;
    const now = Date.now();
    this.lastEventAt = now;
    this.acc.add(path, relative(this.scope.instanceDir, path), area, event, now);
    for (const w of this.quietWaiters) this.armQuiet(w);
    if (this.held === 0) this.arm();
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.held > 0) return;
      const set = this.acc.take();
      if (set) this.emit('changes', set);
    }, this.debounceMs);
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
