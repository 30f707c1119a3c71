// Shared by the run/exec/start/stop/status/build commands: printing runtime log records, and
// reporting BackendError the way `occlum` does (its lines, then a hint).
import { appendFileSync } from 'node:fs';
import { BackendError, type RuntimeLogRecord } from '../core/backend/types.ts';
import { sayErr } from './command.ts';

/** Log records go to stderr (as occlum-run prints them) or to a file. */
export function logSink(file: string | undefined): (r: RuntimeLogRecord) => void {
  if (file) return (r) => appendFileSync(file, r.line + '\n');
  return (r) => process.stderr.write(r.line + '\n');
}

/** Prints a backend failure as Occlum would, plus what to do; returns the exit status. */
export function reportBackendError(err: unknown): number {
  if (!(err instanceof BackendError)) throw err;
  sayErr(...err.occlumLines);
  if (!err.occlumLines.includes(err.message)) sayErr(`occlum-studio: ${err.message}`);
  return err.exitCode;
}

/** While a sandboxed program runs, Ctrl-C reaches it through the terminal; the CLI stays to report. */
export function holdSignals(): () => void {
  const ignore = () => {};
  process.on('SIGINT', ignore);
  process.on('SIGQUIT', ignore);
  return () => {
    process.off('SIGINT', ignore);
    process.off('SIGQUIT', ignore);
  };
}
