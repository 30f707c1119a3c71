// Bounded record store plus an incrementally maintained index of the records that pass the
// current filter. Appending is O(1) (one predicate call); changing the filter rescans the ring
// once; evicted records leave the index lazily.
import { compileFilter, DEFAULT_FILTER, type LogFilter, type RecordPredicate } from './filter.ts';
import { RingBuffer } from './ring.ts';
import type { LogRecord } from './types.ts';

// 50k records ≈ 20–25 MB live; V8 lets old-space garbage grow to a few times the live size
// before a major GC, so this keeps the peak RSS of a flood well under 200 MB (test/bench/logs.bench.ts).
export const DEFAULT_CAPACITY = 50_000;

export class LogBuffer {
  readonly ring: RingBuffer<LogRecord>;
  private filter: LogFilter = DEFAULT_FILTER;
  private pred: RecordPredicate = compileFilter(DEFAULT_FILTER);
  private ids: number[] = [];
  private start = 0;

  constructor(capacity = DEFAULT_CAPACITY) {
    this.ring = new RingBuffer(capacity);
  }

  /** Appends a record; returns its id. */
  append(rec: LogRecord): number {
    const id = this.ring.push(rec);
    if (this.pred(rec)) this.ids.push(id);
    this.dropEvicted();
    return id;
  }

  /** Throws FilterError for an invalid regex (the current filter is then kept). */
  setFilter(f: LogFilter): void {
    const pred = compileFilter(f);
    this.filter = f;
    this.pred = pred;
    const ids: number[] = [];
    for (const [id, rec] of this.ring.entries()) if (pred(rec)) ids.push(id);
    this.ids = ids;
    this.start = 0;
  }

  getFilter(): LogFilter {
    return this.filter;
  }

  /** Number of records in the filtered view. */
  get length(): number {
    return this.ids.length - this.start;
  }

  /** Total records held (unfiltered). */
  get size(): number {
    return this.ring.size;
  }

  /** Records ever appended (including evicted ones). */
  get total(): number {
    return this.ring.endId;
  }

  idAt(index: number): number | undefined {
    return this.ids[this.start + index];
  }

  at(index: number): LogRecord | undefined {
    const id = this.ids[this.start + index];
    return id === undefined ? undefined : this.ring.get(id);
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
    let lo = this.start;
    let hi = this.ids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.ids[mid] as number;
      if (v === id) return mid - this.start;
      if (v < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
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
  }

  private dropEvicted(): void {
    const first = this.ring.firstId;
    while (this.start < this.ids.length && (this.ids[this.start] as number) < first) this.start++;
    if (this.start > 4096 && this.start * 2 > this.ids.length) {
      this.ids = this.ids.slice(this.start);
      this.start = 0;
    }
  }
}
