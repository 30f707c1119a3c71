// Bounded record store plus an incrementally maintained index of the records that pass the
// current filter. Appending is O(1) (one predicate call); changing the filter rescans once.
//
// Errors and warnings are what a developer scrolls back for, and a trace-level flood would push
// them out of the ring within a second. So a record of level error/warn that the ring evicts
// moves to a small second tier (`kept`, FIFO) and stays in the view, before the live records.
import { compileFilter, DEFAULT_FILTER, FilterError, type LogFilter, type RecordPredicate } from './filter.ts';
import { RingBuffer } from './ring.ts';
import type { LogRecord } from './types.ts';

// 50k records ≈ 20–25 MB live; V8 lets old-space garbage grow to a few times the live size
// before a major GC, so this keeps the peak RSS of a flood near 200 MB (test/bench/logs.bench.ts).
export const DEFAULT_CAPACITY = 50_000;
/** Evicted error/warn records kept in the view. */
export const DEFAULT_KEEP = 2_000;

const important = (r: LogRecord) => r.level === 'error' || r.level === 'warn';

export class LogBuffer {
  readonly ring: RingBuffer<LogRecord>;
  private filter: LogFilter = DEFAULT_FILTER;
  private pred: RecordPredicate = compileFilter(DEFAULT_FILTER);
  /** Ids of live (ring) records that pass the filter, ascending, from `start`. */
  private ids: number[] = [];
  private start = 0;
  /** Evicted error/warn records by id, in id order (Map keeps insertion order). */
  private kept = new Map<number, LogRecord>();
  /** Ids of kept records that pass the filter, ascending, from `keptStart`. */
  private keptIds: number[] = [];
  private keptStart = 0;

  constructor(
    capacity = DEFAULT_CAPACITY,
    readonly keepCapacity = DEFAULT_KEEP,
  ) {
    this.ring = new RingBuffer(capacity);
  }

  /** Appends a record; returns its id. */
  append(rec: LogRecord): number {
    if (this.ring.size === this.ring.capacity) this.evict();
    const id = this.ring.push(rec);
    if (this.passes(rec)) this.ids.push(id);
    return id;
  }

  /** A record on which the filter's pattern runs out of time is not shown (nor does it stop the stream). */
  private passes(rec: LogRecord): boolean {
    try {
      return this.pred(rec);
    } catch (err) {
      if (err instanceof FilterError) return false;
      throw err;
    }
  }

  /** Throws FilterError for an invalid regex or one over its time budget (the current filter is then kept). */
  setFilter(f: LogFilter): void {
    const pred = compileFilter(f);
    this.filter = f;
    this.pred = pred;
    const keptIds: number[] = [];
    for (const [id, rec] of this.kept) if (pred(rec)) keptIds.push(id);
    const ids: number[] = [];
    for (const [id, rec] of this.ring.entries()) if (pred(rec)) ids.push(id);
    this.keptIds = keptIds;
    this.keptStart = 0;
    this.ids = ids;
    this.start = 0;
  }

  getFilter(): LogFilter {
    return this.filter;
  }

  /** Number of records in the filtered view. */
  get length(): number {
    return this.keptLength + this.ids.length - this.start;
  }

  /** Records held: the ring plus the kept errors/warnings. */
  get size(): number {
    return this.ring.size + this.kept.size;
  }

  /** Evicted error/warn records still shown. */
  get keptCount(): number {
    return this.kept.size;
  }

  /** Records ever appended (including dropped ones). */
  get total(): number {
    return this.ring.endId;
  }

  idAt(index: number): number | undefined {
    if (index < 0) return undefined;
    const k = this.keptLength;
    return index < k ? this.keptIds[this.keptStart + index] : this.ids[this.start + index - k];
  }

  at(index: number): LogRecord | undefined {
    const id = this.idAt(index);
    if (id === undefined) return undefined;
    return id < this.ring.firstId ? this.kept.get(id) : this.ring.get(id);
  }

  /** Records [from, to) of the filtered view — what a virtualised list renders. */
  slice(from: number, to: number): LogRecord[] {
    const out: LogRecord[] = [];
    const end = Math.min(to, this.length);
    for (let i = Math.max(0, from); i < end; i++) out.push(this.at(i) as LogRecord);
    return out;
  }

  /** Position of a record id in the filtered view (binary search), or -1. */
  indexOfId(id: number): number {
    if (id < this.ring.firstId) {
      const i = bsearch(this.keptIds, this.keptStart, id);
      return i < 0 ? -1 : i - this.keptStart;
    }
    const i = bsearch(this.ids, this.start, id);
    return i < 0 ? -1 : this.keptLength + i - this.start;
  }

  /** The next (dir 1) or previous (dir -1) index after `from` whose record satisfies test, wrapping. */
  find(from: number, dir: 1 | -1, test: (r: LogRecord) => boolean, wrap = true): number {
    const n = this.length;
    if (n === 0) return -1;
    for (let step = 1; step <= n; step++) {
      let i = from + dir * step;
      if (i < 0 || i >= n) {
        if (!wrap) return -1;
        i = ((i % n) + n) % n;
      }
      if (test(this.at(i) as LogRecord)) return i;
    }
    return -1;
  }

  clear(): void {
    this.ring.clear();
    this.ids = [];
    this.start = 0;
    this.kept.clear();
    this.keptIds = [];
    this.keptStart = 0;
  }

  private get keptLength(): number {
    return this.keptIds.length - this.keptStart;
  }

  /** The ring is full: its oldest record leaves the live index, and moves to `kept` if important. */
  private evict(): void {
    const id = this.ring.firstId;
    const rec = this.ring.get(id) as LogRecord;
    // The oldest live record is the smallest id in the live index, if it is there at all.
    const passes = this.ids[this.start] === id;
    if (passes) this.start++;
    if (this.start > 4096 && this.start * 2 > this.ids.length) {
      this.ids = this.ids.slice(this.start);
      this.start = 0;
    }
    if (this.keepCapacity === 0 || !important(rec)) return;
    this.kept.set(id, rec);
    if (passes) this.keptIds.push(id);
    if (this.kept.size > this.keepCapacity) {
      const oldest = this.kept.keys().next().value as number;
      this.kept.delete(oldest);
      if (this.keptIds[this.keptStart] === oldest) this.keptStart++;
      if (this.keptStart > 1024 && this.keptStart * 2 > this.keptIds.length) {
        this.keptIds = this.keptIds.slice(this.keptStart);
        this.keptStart = 0;
      }
    }
  }
}

function bsearch(a: number[], from: number, id: number): number {
  let lo = from;
  let hi = a.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = a[mid] as number;
    if (v === id) return mid;
    if (v < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
