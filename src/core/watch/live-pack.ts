// A live packer (`fs pack --watch`): packs a source tree once, then repacks it into the same
// __ROOT after every settled change set, handing the engine the changed paths so an edit takes its
// warm path (a few inode files and the metadata nodes holding their records) instead of a walk.
// Packs never overlap: changes that settle during a pack are folded into the next one.
import { relative } from 'node:path';
import { packImage } from '../securefs/index.ts';
import { PackHint } from '../securefs/pack-hint.ts';
import type { KeyMode, PackResult } from '../securefs/types.ts';
import { DirectoryScope } from './scope.ts';
import { Watcher } from './watcher.ts';

export interface LivePackOptions {
  src: string;
  outRoot: string;
  macFile: string;
  key: KeyMode;
  /** Quiet time that settles a change set (default 100 ms, as the dev loop). */
  debounceMs?: number;
  onEvent(e: LivePackEvent): void;
}

interface PackAttempt {
  /** epoch ms when the pack started */
  at: number;
  trigger: 'initial' | 'change';
  /** Paths changed since the previous pack, relative to src (collapsed, see hintPaths). */
  paths: string[];
  hinted: boolean;
  /** Why the pack walked the whole tree instead of taking the hint. */
  unhinted?: string;
}

export type LivePackEvent =
  | ({ type: 'pack'; result: PackResult } & PackAttempt)
  | ({ type: 'error'; message: string; code?: string } & PackAttempt)
  | { type: 'watch-error'; at: number; message: string };

export class LivePacker {
  private readonly hint = new PackHint();
  private watcher: Watcher | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;
  private recoveredSeen = 0;

  constructor(private readonly opts: LivePackOptions) {}

  /**
   * Starts the watch, then packs once (the watch comes first so that nothing changed during that
   * pack goes unnoticed). Reports that first pack and resolves with it; an `EUSAGE` error (the
   * destination is not an image, the source is not a directory) is thrown instead, since every
   * later pack would fail the same way.
   */
  async start(): Promise<LivePackEvent> {
    const { src, outRoot, macFile } = this.opts;
    const scope = new DirectoryScope(src, [outRoot, macFile]);
    const w = new Watcher({ scope, debounceMs: this.opts.debounceMs ?? 100 });
    this.watcher = w;
    w.on('changes', (set) => {
      this.hint.add(set.entries.map((e) => relative(src, e.path)));
      this.pump();
    });
    w.on('error', (err) => {
      // Events may be lost: the next pack walks, and runs now rather than at the next change.
      this.hint.invalidate('watcher error', true);
      this.opts.onEvent({ type: 'watch-error', at: Date.now(), message: err.message });
      this.pump();
    });
    await w.start();
    const pack = this.packOnce('initial');
    this.running = pack.then(() => undefined);
    const first = await pack;
    this.running = null;
    if (first.type === 'error' && first.code === 'EUSAGE') {
      await this.close();
      throw Object.assign(new Error(first.message), { code: 'EUSAGE' });
    }
    this.opts.onEvent(first);
    this.pump();
    return first;
  }

  /** Paths changed since the last pack that no pack has taken yet. */
  get unpacked(): number {
    return this.hint.size;
  }

  /** Stops watching once the pack in flight (if any) has finished; starts no new pack. */
  async stop(): Promise<void> {
    this.stopping = true;
    while (this.running) await this.running;
    await this.close();
  }

  private async close(): Promise<void> {
    await this.watcher?.close();
    this.watcher = null;
  }

  /** Runs packs one after another while changes are due. */
  private pump(): void {
    if (this.running || this.stopping || !this.hint.pending) return;
    this.running = (async () => {
      while (!this.stopping && this.hint.pending) this.opts.onEvent(await this.packOnce('change'));
    })().finally(() => {
      this.running = null;
    });
  }

  private async packOnce(trigger: PackAttempt['trigger']): Promise<LivePackEvent> {
    // reconcile() found changes chokidar never reported: it lost events, so the record of what
    // changed may be incomplete (a same-size rewrite within the same mtime has no trace).
    const recovered = this.watcher?.recovered ?? 0;
    if (recovered > this.recoveredSeen) this.hint.invalidate('watcher lost events');
    this.recoveredSeen = recovered;
    const taken = this.hint.take();
    const attempt: PackAttempt = {
      at: Date.now(),
      trigger,
      paths: taken.paths,
      hinted: taken.changed !== undefined,
      unhinted: taken.unhinted,
    };
    const { src, outRoot, macFile, key } = this.opts;
    let event: LivePackEvent;
    try {
      const result = await packImage({ src, outRoot, macFile, key, incremental: true, changed: taken.changed });
      event = { type: 'pack', result, ...attempt };
    } catch (err) {
      const e = err as Error & { code?: string };
      // What this pack did is unknown: the next one walks.
      this.hint.invalidate('previous pack failed');
      event = { type: 'error', message: e.message, code: e.code, ...attempt };
    }
    return event;
  }
}
