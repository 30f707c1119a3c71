// The host runtime's own log records in the LibOS line format (spec 3.2), filtered by the
// OCCLUM_LOG_LEVEL semantics (aliases, unknown = off). They go to a callback, never to the
// program's stderr; the CLI prints them on its own stderr like occlum-run does.
import { parseLogLevel, type LogLevelSetting } from '../../logs/levels.ts';
import type { LogLevel, RuntimeLogRecord } from '../types.ts';
import { sanitizeForTerminal } from '../../text/sanitize.ts';

const RANK: Record<LogLevel, number> = { error: 1, warn: 2, info: 3, debug: 4, trace: 5 };
const LABEL: Record<LogLevel, string> = {
  error: 'ERROR',
  warn: ' WARN',
  info: ' INFO',
  debug: 'DEBUG',
  trace: 'TRACE',
};
const COLOR: Record<LogLevel, string> = {
  error: '\x1b[31m',
  warn: '\x1b[33m',
  info: '\x1b[32m',
  debug: '\x1b[0m',
  trace: '\x1b[0m',
};

export function formatOcclumLine(time: Date, level: LogLevel, module: string, message: string): string {
  // T0/#0: the host runtime logs from the boot context (no LibOS thread, no syscall round).
  // The message names programs and paths from the instance: no control character of theirs gets through.
  return `${COLOR[level]}[${time.toISOString()}][${LABEL[level]}][T0][#0][${module}] ${sanitizeForTerminal(message)}\x1b[0m`;
}

export class RuntimeLog {
  readonly level: LogLevelSetting;
  constructor(
    levelValue: string | undefined,
    private readonly sink: ((r: RuntimeLogRecord) => void) | undefined,
  ) {
    this.level = parseLogLevel(levelValue);
  }

  enabled(level: LogLevel): boolean {
    return this.level !== 'off' && RANK[level] <= RANK[this.level as LogLevel];
  }

  log(level: LogLevel, module: string, message: string): void {
    if (!this.sink || !this.enabled(level)) return;
    const time = new Date();
    this.sink({ time, level, module, message, line: formatOcclumLine(time, level, module, message) });
  }
  /**
   * A line as occlum-pal prints it (`[ERROR] occlum-pal: …`): the PAL reports enclave-level
   * failures (e.g. Out of TCS) whatever OCCLUM_LOG_LEVEL says, so these are never filtered.
   */
  pal(message: string): void {
    this.sink?.({ time: new Date(), level: 'error', module: 'pal', message, line: `[ERROR] occlum-pal: ${message}` });
  }
  error(module: string, msg: string) {
    this.log('error', module, msg);
  }
  warn(module: string, msg: string) {
    this.log('warn', module, msg);
  }
  info(module: string, msg: string) {
    this.log('info', module, msg);
  }
  debug(module: string, msg: string) {
    this.log('debug', module, msg);
  }
}

/**
 * What a run on the host backend logs at an OCCLUM_LOG_LEVEL, for the UI to say (short: it fits
 * an 80-column line): there is no LibOS, so the level picks among the host runtime's own records,
 * and no level traces syscalls.
 */
export function hostLevelScope(level: LogLevelSetting): string {
  switch (level) {
    case 'off':
      return 'off: only limit errors (occlum-pal); L shows more';
    case 'error':
      return 'error: refused programs, failed checks';
    case 'warn':
      return 'warn adds refused fork() calls, image warnings';
    case 'info':
      return 'info adds boot, verification, process start/exit';
    case 'debug':
      return 'debug adds mounts, limits, environment';
    case 'trace':
      return 'trace = debug: no syscall traces without a LibOS';
  }
}
