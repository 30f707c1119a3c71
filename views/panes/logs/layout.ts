// Which records the Logs pane draws (virtualised: only what fits), and how a line splits into
// search-highlight segments. Pure functions of the buffer and the terminal size.
import { hintsFor, matchRanges, type LogHint, type LogRecord } from '../../../src/core/logs/index.ts';
import type { LogBuffer } from '../../../src/core/logs/index.ts';

export interface VisibleRecord {
  index: number;
  /** Stable buffer id (React key: indexes shift when old records are evicted). */
  id: number;
  record: LogRecord;
  hints: LogHint[];
  /** Screen lines it takes (record lines + hint lines). */
  height: number;
}

/** Screen lines a record takes: its own lines (wrapped to `width` if wrapping) plus its hints. */
export function recordHeight(
  bodyLines: string[],
  prefixWidth: number,
  width: number,
  wrap: boolean,
  hints: number,
): number {
  if (!wrap) return bodyLines.length + hints;
  let h = 0;
  // Word wrapping breaks before the edge: estimate with a narrower line so the window errs on
  // showing one record fewer rather than cutting the selected one off.
  const usable = Math.max(10, Math.floor(width * 0.9));
  for (const [i, l] of bodyLines.entries())
    h += Math.max(1, Math.ceil(((i === 0 ? prefixWidth : 0) + l.length) / usable));
  return h + hints;
}

export interface WindowInput {
  buffer: LogBuffer;
  cursor: number;
  /** First record shown last time (kept while the cursor stays inside the window). */
  top: number;
  height: number;
  follow: boolean;
  measure(r: LogRecord, hints: number): number;
}

/** Chooses the first record to draw so the cursor is visible, then fills `height` lines. */
export function visibleWindow(w: WindowInput): { top: number; rows: VisibleRecord[] } {
  const n = w.buffer.length;
  if (n === 0) return { top: 0, rows: [] };
  const cursor = Math.max(0, Math.min(n - 1, w.cursor));
  const cache = new Map<number, VisibleRecord>();
  const row = (i: number): VisibleRecord => {
    let v = cache.get(i);
    if (!v) {
      const record = w.buffer.at(i) as LogRecord;
      const hints = hintsFor(record);
      v = { index: i, id: w.buffer.idAt(i) as number, record, hints, height: w.measure(record, hints.length) };
      cache.set(i, v);
    }
    return v;
  };
  // Bottom-aligned on the cursor when following or when the cursor went below the window.
  const fitEndingAt = (last: number) => {
    let used = 0;
    let i = last;
    while (i >= 0 && used + row(i).height <= w.height) used += row(i--).height;
    return Math.min(last, i + 1);
  };
  let top = Math.max(0, Math.min(w.top, n - 1));
  if (w.follow || cursor < top) top = w.follow ? fitEndingAt(cursor) : cursor;
  else {
    // Is the cursor inside the window starting at top?
    let used = 0;
    let i = top;
    while (i < cursor && used + row(i).height <= w.height) used += row(i++).height;
    if (i < cursor || used + row(cursor).height > w.height) top = fitEndingAt(cursor);
  }
  const rows: VisibleRecord[] = [];
  let used = 0;
  for (let i = top; i < n && used < w.height; i++) {
    rows.push(row(i));
    used += row(i).height;
  }
  return { top, rows };
}

export interface Segment {
  text: string;
  hit: boolean;
}

/** Splits a line into plain and highlighted parts for the search pattern. */
export function highlight(line: string, pattern: string, regex: boolean): Segment[] {
  const ranges = pattern ? matchRanges(line, pattern, regex) : [];
  if (ranges.length === 0) return [{ text: line, hit: false }];
  const out: Segment[] = [];
  let at = 0;
  for (const [s, e] of ranges) {
    if (s > at) out.push({ text: line.slice(at, s), hit: false });
    out.push({ text: line.slice(s, e), hit: true });
    at = e;
  }
  if (at < line.length) out.push({ text: line.slice(at), hit: false });
  return out;
}
