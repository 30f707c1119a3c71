// Folding file events into change sets: one entry per path holding the net effect of all its
// events, so a burst (cp -r of 1000 files, an editor's write-rename dance) becomes one build.
import type { ChangeArea, ChangeEntry, ChangeKind, ChangeSet } from './types.ts';

export type WatchEvent = 'add' | 'addDir' | 'change' | 'unlink' | 'unlinkDir';

export function kindOf(event: WatchEvent): ChangeKind {
  if (event === 'add' || event === 'addDir') return 'added';
  if (event === 'change') return 'changed';
  return 'removed';
}

/** Net effect of `prev` followed by `next` on one path. */
export function mergeKind(prev: ChangeKind | undefined, next: ChangeKind): ChangeKind {
  if (prev === undefined) return next;
  if (next === 'removed') return 'removed';
  if (prev === 'added') return 'added';
  if (prev === 'removed') return 'changed'; // deleted and recreated: its content may differ
  return 'changed';
}

export class ChangeAccumulator {
  private entries = new Map<string, ChangeEntry>();
  private events = 0;
  private first = 0;
  private last = 0;

  get size(): number {
    return this.entries.size;
  }

  get pending(): boolean {
    return this.events > 0;
  }

  has(path: string): boolean {
    return this.entries.has(path);
  }

  add(path: string, rel: string, area: ChangeArea, event: WatchEvent, at = Date.now()): void {
    const prev = this.entries.get(path);
    const kind = mergeKind(prev?.kind, kindOf(event));
    const isDir = event === 'addDir' || event === 'unlinkDir' || (prev?.isDir ?? false);
    this.entries.set(path, { path, rel, area, kind, isDir });
    if (this.events === 0) this.first = at;
    this.last = at;
    this.events++;
  }

  /**
   * The paths of a set that only changes or adds files (an editor's save), or null when it also
   * removes something or touches a directory (a rename in progress, a bulk copy).
   */
  savedFiles(): string[] | null {
    const out: string[] = [];
    for (const e of this.entries.values()) {
      if (e.isDir || e.kind === 'removed') return null;
      out.push(e.path);
    }
    return out;
  }

  /** The files the set writes (changed or added), or null when there are more than `limit`. */
  writtenFiles(limit: number): string[] | null {
    const out: string[] = [];
    for (const e of this.entries.values()) {
      if (e.isDir || e.kind === 'removed') continue;
      if (out.push(e.path) > limit) return null;
    }
    return out;
  }

  /** Returns the accumulated set and starts a new one; null when nothing happened. */
  take(): ChangeSet | null {
    if (this.events === 0) return null;
    const set: ChangeSet = {
      entries: [...this.entries.values()].sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0)),
      events: this.events,
      firstEventAt: this.first,
      lastEventAt: this.last,
    };
    this.entries = new Map();
    this.events = 0;
    return set;
  }
}

/** Merges change sets in order (a build's trigger plus everything folded into it). */
export function mergeChangeSets(sets: ChangeSet[]): ChangeSet | null {
  if (sets.length === 0) return null;
  const acc = new Map<string, ChangeEntry>();
  let events = 0;
  for (const s of sets) {
    events += s.events;
    for (const e of s.entries) {
      const prev = acc.get(e.path);
      acc.set(e.path, { ...e, kind: mergeKind(prev?.kind, e.kind), isDir: e.isDir || (prev?.isDir ?? false) });
    }
  }
  return {
    entries: [...acc.values()].sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0)),
    events,
    firstEventAt: Math.min(...sets.map((s) => s.firstEventAt)),
    lastEventAt: Math.max(...sets.map((s) => s.lastEventAt)),
  };
}

/** Areas present in a change set. */
export function areasOf(entries: ChangeEntry[]): Set<ChangeArea> {
  return new Set(entries.map((e) => e.area));
}
