// Streaming parser: bytes or text in, finished records out. Lines split across chunks are
// reassembled (UTF-8 sequences too); a record that can continue on following lines (a
// `Caused by` chain, a panic backtrace) is held until the next record starts, flush() is
// called (the caller's idle timeout), or end(). Never throws on garbage.
import { StringDecoder } from 'node:string_decoder';
import { cleanLine } from './clean.ts';
import { classifyLine, parseCause, type RecordStart } from './line.ts';
import type { LogRecord } from './types.ts';

/** A line longer than this is cut into pieces so a stream without newlines cannot grow without bound. */
export const MAX_LINE = 64 * 1024;
/** Continuation lines folded into one record at most (a runaway backtrace stays bounded). */
export const MAX_CONTINUATION = 256;

const CAUSED_BY = /^\s+Caused by:? ?(.*)$/;
const BACKTRACE_LINE = /^(?:stack backtrace:|\s+\d+: |\s+at |note: |\s*\[\.\.\. omitted)/;

interface Pending {
  start: RecordStart;
  lines: string[];
  lineNo: number;
  colored: boolean;
  expectMessage: boolean;
}

export class LogParser {
  private decoder = new StringDecoder('utf8');
  private rest = '';
  private lineNo = 0;
  private pending: Pending | null = null;

  /** Feeds a chunk; returns the records it completed (possibly none). */
  feed(chunk: string | Uint8Array): LogRecord[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk as Buffer);
    const out: LogRecord[] = [];
    let buf = this.rest + text;
    let from = 0;
    for (let nl = buf.indexOf('\n', from); nl !== -1; nl = buf.indexOf('\n', from)) {
      this.line(buf.slice(from, nl), out);
      from = nl + 1;
    }
    buf = from === 0 ? buf : buf.slice(from);
    while (buf.length > MAX_LINE) {
      this.line(buf.slice(0, MAX_LINE), out);
      buf = buf.slice(MAX_LINE);
    }
    this.rest = buf;
    return out;
  }

  /** True while a multi-line record waits for possible continuation lines. */
  get hasPending(): boolean {
    return this.pending !== null;
  }

  /** Finalises the held multi-line record (call after a quiet period on a live stream). */
  flush(): LogRecord[] {
    const out: LogRecord[] = [];
    this.finishPending(out);
    return out;
  }

  /** End of stream: the last line without a newline and any held record. */
  end(): LogRecord[] {
    const out: LogRecord[] = [];
    const tail = this.rest + this.decoder.end();
    this.rest = '';
    if (tail.length > 0) this.line(tail, out);
    this.finishPending(out);
    return out;
  }

  private line(raw: string, out: LogRecord[]): void {
    this.lineNo++;
    let cleaned;
    try {
      cleaned = cleanLine(raw);
    } catch {
      cleaned = { text: raw, colored: false };
    }
    const { text, colored } = cleaned;
    const p = this.pending;
    if (p && p.lines.length <= MAX_CONTINUATION && this.continues(p, text)) {
      p.lines.push(text);
      p.colored ||= colored;
      return;
    }
    this.finishPending(out);
    // Blank lines (or lines that held only colour codes) carry nothing to show or filter.
    if (text.length === 0 || text.trim().length === 0) return;
    let c;
    try {
      c = classifyLine(text);
    } catch {
      c = { start: { kind: 'raw', level: null, message: text } as RecordStart, chain: false };
    }
    if (c.chain) {
      this.pending = { start: c.start, lines: [text], lineNo: this.lineNo, colored, expectMessage: c.expectMessage ?? false };
    } else {
      out.push({ ...c.start, text, lineNo: this.lineNo, colored });
    }
  }

  private continues(p: Pending, text: string): boolean {
    const s = p.start;
    if (s.kind === 'panic') {
      if (p.expectMessage) {
        // Rust ≥ 1.73 prints the panic message on the line after the location.
        p.expectMessage = false;
        s.message = text;
        return true;
      }
      return BACKTRACE_LINE.test(text);
    }
    const m = text.charCodeAt(0) <= 0x20 ? CAUSED_BY.exec(text) : null;
    if (!m) return false;
    (s.causes ??= []).push(parseCause(m[1]));
    return true;
  }

  private finishPending(out: LogRecord[]): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    const rec: LogRecord = { ...p.start, text: p.lines.join('\n'), lineNo: p.lineNo, colored: p.colored };
    if (rec.kind === 'panic' && p.lines.length > 1) {
      const bt = p.lines.slice(p.lines.findIndex((l) => l.startsWith('stack backtrace:')));
      if (bt.length > 0 && bt[0]?.startsWith('stack backtrace:')) rec.backtrace = bt.slice(1).map((l) => l.trim());
    }
    out.push(rec);
  }
}

/** Parses a whole text (a saved log) into records. */
export function parseLog(text: string | Uint8Array): LogRecord[] {
  const p = new LogParser();
  const out = p.feed(text);
  for (const r of p.end()) out.push(r);
  return out;
}
