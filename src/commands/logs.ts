// `occlum-studio logs [FILE|-] [--level L] [--grep RE] [--json]`: parses a saved Occlum log or
// a pipe into records, filters them and prints one line per record (or NDJSON), with the config
// hint under records that have one. Streams: memory stays flat on large files.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { InputError, UsageError, exitWhenStdoutCloses, type Command } from './command.ts';
import { parseCommandArgs } from './args.ts';
import { checkLogLevel } from '../core/logs/levels.ts';
import { compileFilter, DEFAULT_FILTER, FilterError, type LogFilter } from '../core/logs/filter.ts';
import { LogParser } from '../core/logs/parser.ts';
import { hintsFor } from '../core/logs/hints.ts';
import { formatRecord } from '../core/logs/format.ts';
import type { LogRecord } from '../core/logs/types.ts';
import { jsonForTerminal } from '../core/text/sanitize.ts';

const OPTIONS = {
  level: { type: 'string' },
  grep: { type: 'string' },
  invert: { type: 'boolean' },
  thread: { type: 'string' },
  syscall: { type: 'string' },
  module: { type: 'string' },
  'no-raw': { type: 'boolean' },
  'no-hints': { type: 'boolean' },
  json: { type: 'boolean', default: false },
} as const;

const USAGE = [
  'occlum-studio logs [FILE|-] [--level L] [--grep RE] [--invert] [--thread N] [--syscall NAME]',
  '                          [--module NAME] [--no-raw] [--no-hints] [--json]',
  '  FILE|-        a saved log (stderr of occlum run / occlum start); "-" or nothing reads stdin',
  '  --level L     minimum level: error|warn|info|debug|trace (OCCLUM_LOG_LEVEL names: panic, fatal, warning too)',
  '  --grep RE     keep records whose text matches the regular expression (smart case)',
  '  --invert      keep records that do NOT match --grep',
  "  --no-raw      drop lines that are not Occlum's (the program's own stderr, build output)",
  '  --json        one JSON object per record (NDJSON)',
].join('\n');

function buildFilter(values: Record<string, string | boolean | undefined>): LogFilter {
  const f: LogFilter = { ...DEFAULT_FILTER };
  if (typeof values.level === 'string') {
    const { level, known } = checkLogLevel(values.level);
    if (!known)
      throw new UsageError(`unknown level "${values.level}" for --level: use error, warn, info, debug or trace`);
    if (level === 'off')
      throw new UsageError('--level off would hide every record: use error, warn, info, debug or trace');
    f.minLevel = level;
  }
  if (typeof values.grep === 'string') {
    f.text = values.grep;
    f.regex = true;
  }
  f.inverse = values.invert === true;
  if (f.inverse && !f.text) throw new UsageError('--invert needs --grep RE');
  if (typeof values.thread === 'string') {
    const t = /^T?(\d+)$/.exec(values.thread);
    if (!t) throw new UsageError(`--thread expects a LibOS thread id such as 1 or T1, got "${values.thread}"`);
    f.thread = Number(t[1]);
  }
  if (typeof values.syscall === 'string') f.syscall = values.syscall;
  if (typeof values.module === 'string') f.module = values.module;
  f.includeRaw = values['no-raw'] !== true;
  return f;
}

async function openInput(file: string | undefined): Promise<NodeJS.ReadableStream> {
  if (file === undefined || file === '-') {
    if (file === undefined && process.stdin.isTTY)
      throw new UsageError('no log given: pass a FILE, or pipe a log into `occlum-studio logs -`');
    return process.stdin;
  }
  let st;
  try {
    st = await stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new InputError(`cannot read log "${file}": ${why}`);
  }
  if (st.isDirectory()) throw new InputError(`cannot read log "${file}": it is a directory; pass a log file`);
  const stream = createReadStream(file);
  // Surface open errors (e.g. EACCES) as a clean message rather than an unhandled event.
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (err) => reject(new InputError(`cannot read log "${file}": ${(err as Error).message}`)));
  });
  return stream;
}

export const command: Command = {
  name: 'logs',
  summary: 'Parse and filter an Occlum log (LibOS, PAL, boot failures, panics) from a file or stdin.',
  usage: USAGE,
  options: OPTIONS,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, OPTIONS);
    if (positionals.length > 1)
      throw new UsageError(`logs takes one FILE (or -), got ${positionals.length}: ${positionals.join(' ')}`);
    const filter = buildFilter(values);
    let keep;
    try {
      keep = compileFilter(filter);
    } catch (err) {
      if (err instanceof FilterError) throw new UsageError(`--grep: ${err.message}`);
      throw err;
    }
    const input = await openInput(positionals[0]);
    const json = values.json === true;
    const hints = values['no-hints'] !== true;
    const color = !json && process.stdout.isTTY === true && !process.env.NO_COLOR;
    const out = new OutputBuffer();
    const emit = (records: LogRecord[]) => {
      for (const r of records) {
        if (!keep(r)) continue;
        const h = hints ? hintsFor(r) : [];
        if (json) {
          out.write(jsonForTerminal(JSON.stringify(h.length ? { ...r, hints: h } : r)) + '\n');
        } else {
          out.write(formatRecord(r, { color }) + '\n');
          for (const x of h)
            out.write(
              `      hint: ${x.suggestion}${x.configPath ? ` (Occlum.json: ${x.configPath.join('.')})` : ''}\n`,
            );
        }
      }
    };
    const parser = new LogParser();
    try {
      for await (const chunk of input) {
        emit(parser.feed(chunk as Buffer));
        await out.drain();
      }
      emit(parser.end());
    } catch (err) {
      if (err instanceof InputError) throw err;
      // A line that ran out of the pattern's time budget: the pattern is the thing to change.
      if (err instanceof FilterError) throw new UsageError(`--grep: ${err.message}`);
      throw new InputError(`reading the log failed: ${(err as Error).message}`);
    }
    await out.drain(true);
    return 0;
  },
};

/** Batches output into large writes and honours back-pressure; a closed pipe (| head) ends quietly. */
class OutputBuffer {
  private parts: string[] = [];
  private bytes = 0;

  constructor() {
    exitWhenStdoutCloses();
  }

  write(s: string): void {
    this.parts.push(s);
    this.bytes += s.length;
  }

  async drain(final = false): Promise<void> {
    if (!final && this.bytes < 64 * 1024) return;
    const data = this.parts.join('');
    this.parts = [];
    this.bytes = 0;
    if (data.length === 0) return;
    if (!process.stdout.write(data))
      await new Promise<void>((resolve) => process.stdout.once('drain', () => resolve()));
  }
}
