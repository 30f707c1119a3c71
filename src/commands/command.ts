// Shared shape of headless subcommands: each module exports `command: Command`.
// Every command exits with a status from EXIT (README "Exit status"): the one table of the CLI.
import type { ParseArgsConfig } from 'node:util';
import { jsonForTerminal, sanitizeForTerminal } from '../core/text/sanitize.ts';

export type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** Exit statuses of every command (run and exec pass the program's own status through instead). */
export const EXIT = {
  /** The command did what was asked and found nothing wrong. */
  ok: 0,
  /** The command ran and what it checked, built or read failed or has problems. */
  problems: 1,
  /** Nothing was done: a usage error, or an input (file, directory, instance) missing or unreadable. */
  usage: 2,
} as const;

/** How a command takes its instance directory. */
export type InstanceArg =
  /** `-C DIR` / `--instance DIR` only (its arguments are something else: a program, a path inside the image). */
  | 'option'
  /** `-C DIR`, or the directory as its one positional argument. */
  | 'option-or-positional';

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Its options, as util.parseArgs takes them (parsed by src/commands/args.ts). */
  options: OptionsConfig;
  /** Set for commands that work on an instance (default: the current directory). */
  instance?: InstanceArg;
  /** Options end at the first argument: the rest belongs to a program (`run`, `exec`, `watch --run`). */
  programAfter?: 'first-argument' | '--run';
  run(argv: string[]): Promise<number>;
}

/** A mistake in how the command was called: printed with the usage, exit 2. */
export class UsageError extends Error {}

// A failure with a message meant for the user: in core, since the TUI's launcher throws it too.
import { UserError } from '../core/errors.ts';

export { UserError };

/**
 * Prints lines of human output, each through the terminal sanitiser: they carry config keys,
 * file names, paths and program output, and a control character in one must not act.
 */
export function say(...lines: string[]): void {
  for (const l of lines) process.stdout.write(sanitizeForTerminal(l) + '\n');
}

/** `say` for stderr (diagnostics, progress notes). */
export function sayErr(...lines: string[]): void {
  for (const l of lines) process.stderr.write(sanitizeForTerminal(l) + '\n');
}

/** An input the command needs is missing or unreadable (a directory, file, instance, key): exit 2. */
export class InputError extends UserError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(jsonForTerminal(JSON.stringify(value, null, 2)) + '\n');
}

/** A reader that goes away (`… | head`) ends the command quietly with exit 0, as Unix tools do. */
export function exitWhenStdoutCloses(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(0);
  });
}
