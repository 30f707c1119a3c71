// Streaming parser: bytes or text in, finished records out. Lines split across chunks are
// reassembled (UTF-8 sequences too); a record that can continue on following lines (a
// `Caused by` chain, a panic backtrace) is held until the next record starts, flush() is
// called (the caller's idle timeout), or end(). Never throws on garbage.
import { cleanLine, type CleanLine } from './clean.ts';
import { classifyLine, PAL_LOCATION_LINE, parseCause, PANIC_CLOSE, type RecordStart } from './line.ts';
import type { LogRecord } from './types.ts';

/** A line longer than this is cut into pieces so a stream without newlines cannot grow without bound. */
export const MAX_LINE = 64 * 1024;
/** Continuation lines folded into one record at most (a runaway backtrace stays bounded). */
export const MAX_CONTINUATION = 256;

const CAUSED_BY = /^\s+Caused by:? ?(.*)$/;
const FRAME_LINE = /^\s+\d+: /;
const BACKTRACE_LINE = /^(?:stack backtrace:|\s+\d+: |\s+at |note: |\s*\[\.\.\. omitted)/;

interface Pending {
  start: RecordStart;
  lines: string[];
  lineNo: number;
  colored: boolean;
  expectMessage: boolean;
  openQuote: boolean;
  /** The record's line was cut by a terminal's wrap: its rest comes on the next lines. */
  wrapped: boolean;
  /** Put between the pieces: a blank where the cut line had trailing blanks. */
  wrapSep: string;
  pieces?: number;
}

/** Pieces of one wrapped line joined at most (a line that never gets its reset stays bounded). */
const MAX_WRAP_PIECES = 16;

export class LogParser {
  private rest = '';
  /** Bytes after the last newline of the previous Buffer chunk (an unfinished line). */
  private restBytes: Buffer | null = null;
  private lineNo = 0;
  private pending: Pending | null = null;
  /** The previous line ended inside a colour code (see cleanLine). */
  private openEscape = false;

  /** Feeds a chunk; returns the records it completed (possibly none). */
  feed(chunk: string | Uint8Array): LogRecord[] {
    const out: LogRecord[] = [];
    if (typeof chunk === 'string') this.feedText(this.takeRestBytes() + chunk, out);
    else
      this.feedBytes(
        Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
        out,
      );
    return out;
  }

  private feedText(text: string, out: LogRecord[]): void {
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
  }

  // Bytes are decoded line by line: a '\n' byte never occurs inside a UTF-8 sequence, and each
  // line gets its own string (no 64 KiB chunk string kept alive by the records that slice it,
  // no large temporary buffers: both matter for RSS under a flood).
  private feedBytes(chunk: Buffer, out: LogRecord[]): void {
    let nl = chunk.indexOf(10);
    if (nl === -1) {
      this.restBytes = this.restBytes ? Buffer.concat([this.restBytes, chunk]) : Buffer.from(chunk);
      this.capRestBytes(out);
      return;
    }
    let first = this.restBytes
      ? Buffer.concat([this.restBytes, chunk.subarray(0, nl)]).toString('utf8')
      : chunk.toString('utf8', 0, nl);
    this.restBytes = null;
    if (this.rest) {
      first = this.rest + first;
      this.rest = '';
    }
    this.line(first, out);
    let from = nl + 1;
    for (nl = chunk.indexOf(10, from); nl !== -1; nl = chunk.indexOf(10, from)) {
      this.line(chunk.toString('utf8', from, nl), out);
      from = nl + 1;
    }
    if (from < chunk.length) {
      this.restBytes = Buffer.from(chunk.subarray(from));
      this.capRestBytes(out);
    }
  }

  /** An unfinished line longer than MAX_LINE bytes is cut (at a character boundary). */
  private capRestBytes(out: LogRecord[]): void {
    let buf = this.restBytes;
    while (buf && buf.length > MAX_LINE) {
      let cut = MAX_LINE;
      // Back off over UTF-8 continuation bytes (10xxxxxx) so no character is split.
      while (cut > 0 && ((buf[cut] as number) & 0xc0) === 0x80) cut--;
      if (cut === 0) cut = MAX_LINE;
      this.line(this.rest + buf.toString('utf8', 0, cut), out);
      this.rest = '';
      buf = Buffer.from(buf.subarray(cut));
    }
    this.restBytes = buf;
  }

  private takeRestBytes(): string {
    if (!this.restBytes) return '';
    const s = this.restBytes.toString('utf8');
    this.restBytes = null;
    return s;
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
    const tail = this.rest + this.takeRestBytes();
    this.rest = '';
    if (tail.length > 0) this.line(tail, out);
    this.finishPending(out);
    return out;
  }

  private line(raw: string, out: LogRecord[]): void {
    this.lineNo++;
    let cleaned;
    try {
      cleaned = cleanLine(raw, this.openEscape);
    } catch {
      cleaned = { text: raw, colored: false };
    }
    this.openEscape = cleaned.openEscape === true;
    const { text, colored } = cleaned;
    const p = this.pending;
    if (p?.wrapped && this.unwraps(p, cleaned)) return;
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
      c = classifyLine(text, colored);
    } catch {
      c = { start: { kind: 'raw', level: null, message: text } as RecordStart, chain: false };
    }
    const wrapped = cleaned.unterminated === true && c.start.kind === 'libos';
    if (c.chain || wrapped) {
      this.pending = {
        start: c.start,
        lines: [text],
        lineNo: this.lineNo,
        colored,
        expectMessage: c.expectMessage ?? false,
        openQuote: c.openQuote ?? false,
        wrapped,
        wrapSep: cleaned.blankEnd ? ' ' : '',
      };
    } else {
      const rec = c.start as LogRecord;
      rec.text = text;
      rec.lineNo = this.lineNo;
      rec.colored = colored;
      out.push(rec);
    }
  }

  /**
   * Joins the next piece of a wrapped LibOS line (a line that is not a record of its own) and
   * classifies the whole line again, so its location and errno at the end are found.
   */
  private unwraps(p: Pending, cleaned: CleanLine): boolean {
    p.wrapped = false;
    const { text } = cleaned;
    // An error display's `Caused by` lines are part of the same coloured write (its reset comes
    // after the last one): they stay continuation lines.
    if (text.length === 0 || p.lines.length !== 1 || CAUSED_BY.test(text)) return false;
    if (classifyLine(text).start.kind !== 'raw') return false;
    const line = (p.lines[0] as string) + p.wrapSep + text;
    const c = classifyLine(line, true);
    if (c.start.kind !== 'libos') return false;
    p.start = c.start;
    p.lines[0] = line;
    p.pieces = (p.pieces ?? 1) + 1;
    // Until the piece that carries the reset.
    p.wrapped = cleaned.resetEnd !== true && p.pieces < MAX_WRAP_PIECES;
    p.wrapSep = cleaned.blankEnd ? ' ' : '';
    return true;
  }

  private continues(p: Pending, text: string): boolean {
    const s = p.start;
    if (p.expectMessage && s.kind !== 'panic') {
      // An SGX library's trace header whose message went out after a newline: the next line, unless it is
      // a record of its own.
      p.expectMessage = false;
      if (classifyLine(text).start.kind !== 'raw') return false;
      s.message = text.trim();
      return true;
    }
    if (s.kind === 'panic') {
      if (p.expectMessage) {
        // Rust ≥ 1.73 prints the panic message on the line after the location.
        p.expectMessage = false;
        s.message = text;
        return true;
      }
      if (p.openQuote) {
        // Never swallow Occlum records if the closing quote does not come.
        if (p.lines.length > 32 || classifyLine(text).start.kind !== 'raw') {
          p.openQuote = false;
          return false;
        }
        const close = PANIC_CLOSE.exec(text);
        if (close) {
          p.openQuote = false;
          // `panic!("…\n")` closes its quote on a line of its own: nothing to add then.
          if (close[1]) s.message += '\n' + close[1];
          s.location = { file: close[2] as string, line: Number(close[3]), column: Number(close[4]) };
        } else s.message += '\n' + text;
        return true;
      }
      // Backtrace lines, and indented lines of a multi-line message (`  left: …`).
      return BACKTRACE_LINE.test(text) || text.charCodeAt(0) === 0x20;
    }
    if (s.kind === 'env-logger') return text.charCodeAt(0) === 0x20 || text.charCodeAt(0) === 0x09;
    if (s.kind === 'pal') {
      const l = s.location ? null : PAL_LOCATION_LINE.exec(text);
      if (l) s.location = { file: l[2] as string, line: Number(l[1]) };
      return l !== null;
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
    const rec = p.start as LogRecord;
    rec.text = p.lines.length === 1 ? (p.lines[0] as string) : p.lines.join('\n');
    rec.lineNo = p.lineNo;
    rec.colored = p.colored;
    if (rec.kind === 'panic' && p.lines.length > 1) {
      // After `stack backtrace:`, or from the first frame when two panicking threads' output
      // interleaved and the header went to the other one.
      const header = p.lines.findIndex((l) => l.startsWith('stack backtrace:'));
      const from = header !== -1 ? header + 1 : p.lines.findIndex((l, i) => i > 0 && FRAME_LINE.test(l));
      if (from > 0) rec.backtrace = p.lines.slice(from).map((l) => l.trim());
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
