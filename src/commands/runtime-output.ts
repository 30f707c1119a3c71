// Shared by the run/exec/start/stop/status/build commands: argument parsing in Occlum's style
// (options only before the program path), printing runtime log records, and reporting
// BackendError the way `occlum` does (its lines, then a hint).
import { appendFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BackendError, type RuntimeLogRecord } from '../core/backend/types.ts';
import { UsageError } from './command.ts';

export interface ProgramArgs {
  instance: string;
  flags: Set<string>;
  values: Map<string, string>;
  path: string | undefined;
  args: string[];
}

/**
 * Leading options up to the first non-option; everything after belongs to the program.
 * `known` maps option names to whether they take a value.
 */
export function parseProgramArgs(argv: string[], known: Record<string, boolean>): ProgramArgs {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    // Reached when an option value hid --help from the CLI's own check (`run -C dir --help`).
    if (a === '--help' || a === '-h') {
      flags.add('--help');
      continue;
    }
    const [name, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const key = name === '-C' ? '--instance' : name;
    if (!(key in known)) throw new UsageError(`unknown option ${name}`);
    if (known[key]) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      values.set(key, v);
    } else flags.add(key);
  }
  return {
    instance: resolve(values.get('--instance') ?? process.cwd()),
    flags,
    values,
    path: argv[i],
    args: argv.slice(i + 1),
  };
}

/** `--help` among the leading options: prints the command's usage; true when it did. */
export function printedHelp(a: ProgramArgs, usage: string, summary: string): boolean {
  if (!a.flags.has('--help')) return false;
  console.log(`${usage}\n\n${summary}`);
  return true;
}

/** Log records go to stderr (as occlum-run prints them) or to a file. */
export function logSink(file: string | undefined): (r: RuntimeLogRecord) => void {
  if (file) return (r) => appendFileSync(file, r.line + '\n');
  return (r) => process.stderr.write(r.line + '\n');
}

/** Prints a backend failure as Occlum would, plus what to do; returns the exit status. */
export function reportBackendError(err: unknown): number {
  if (!(err instanceof BackendError)) throw err;
  for (const l of err.occlumLines) process.stderr.write(l + '\n');
  if (!err.occlumLines.includes(err.message)) process.stderr.write(`occlum-studio: ${err.message}\n`);
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
