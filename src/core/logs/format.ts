// Human rendering of records for the `logs` command: one line per record (multi-line records
// indent their continuation lines), optionally coloured by level.
import type { Level, LogRecord } from './types.ts';
import { sanitizeForTerminal } from '../text/sanitize.ts';

const COLOR: Record<Level, string> = {
  error: '\x1b[31m',
  warn: '\x1b[33m',
  info: '\x1b[32m',
  debug: '\x1b[36m',
  trace: '\x1b[2m',
};
const RESET = '\x1b[0m';

export const LEVEL_LABEL: Record<Level, string> = {
  error: 'ERROR',
  warn: ' WARN',
  info: ' INFO',
  debug: 'DEBUG',
  trace: 'TRACE',
};

/** Compact prefix shown before the message: `T1 #3 Open [syscall]`. */
export function recordContext(r: LogRecord): string {
  const parts: string[] = [];
  if (r.thread !== undefined) parts.push(`T${r.thread}`);
  if (r.round !== undefined) parts.push(`#${r.round}`);
  if (r.syscall) parts.push(r.syscall);
  if (r.module) parts.push(`[${r.module}]`);
  if (r.component) parts.push(r.component);
  if (r.kind !== 'libos' && r.kind !== 'pal' && r.kind !== 'raw' && r.kind !== 'env-logger') parts.push(r.kind);
  return parts.join(' ');
}

export interface FormatOptions {
  color: boolean;
  timestamps?: boolean;
}

export interface RecordParts {
  /** Time and a trailing space, or '' (no time, or timestamps off). */
  time: string;
  /** Five-character level label (`ERROR`, ` WARN` …), `  ---` for raw records. */
  label: string;
  /** Context and message; continuation lines (Caused by, backtrace) after '\n', indented. */
  body: string;
}

export function recordParts(r: LogRecord, opts: { timestamps?: boolean } = {}): RecordParts {
  const label = r.level ? LEVEL_LABEL[r.level] : '  ---';
  const ctx = recordContext(r);
  const time = opts.timestamps !== false && r.time ? `${r.time} ` : '';
  const text =
    r.kind === 'libos' || r.kind === 'env-logger' || r.kind === 'pal' ? bodyOf(r) : r.text.replace(/\n/g, '\n      ');
  // Records are program output: a VT, FF, CR or escape in one must not move the cursor or break a row.
  const body = sanitizeForTerminal(ctx ? `${ctx} ${text}` : text, { keepNewlines: true });
  return { time: sanitizeForTerminal(time), label, body };
}

export function formatRecord(r: LogRecord, opts: FormatOptions): string {
  const { time, label, body } = recordParts(r, opts);
  const line = `${time}${label} ${body}`;
  if (!opts.color || !r.level) return line;
  return `${COLOR[r.level]}${line}${RESET}`;
}

function bodyOf(r: LogRecord): string {
  let s = r.message;
  if (r.location)
    s += r.kind === 'pal' ? ` (${r.location.file}:${r.location.line})` : ` [${r.location.file}:${r.location.line}]`;
  // A PAL record's second line (an SGX library's message after its header) is already the message.
  const extra = r.kind === 'pal' ? [] : r.text.split('\n').slice(1);
  return extra.length ? `${s}\n      ${extra.join('\n      ')}` : s;
}
