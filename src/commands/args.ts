// One argument grammar for every command (README "Command line"): Node's util.parseArgs in strict
// mode, its errors reworded as usage errors (exit 2), `-C DIR` / `--instance DIR` naming the
// instance directory everywhere, and the split between the studio's options and a program's
// arguments (`run`, `exec`, `watch --run`).
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InputError, UsageError, type Command, type OptionsConfig } from './command.ts';

/** The instance option, the same in every command that works on an instance. */
export const INSTANCE_OPTION = { instance: { type: 'string', short: 'C' } } as const;

/** Where the studio's options end: argv before, the program and its arguments after. */
export function splitProgram(
  argv: string[],
  options: OptionsConfig,
  mode: Command['programAfter'],
): { own: string[]; program: string[] | null } {
  if (mode === '--run') {
    const at = argv.indexOf('--run');
    return at < 0 ? { own: argv, program: null } : { own: argv.slice(0, at), program: argv.slice(at + 1) };
  }
  if (mode !== 'first-argument') return { own: argv, program: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return { own: argv.slice(0, i), program: argv.slice(i + 1) };
    if (!a.startsWith('-') || a === '-') return { own: argv.slice(0, i), program: argv.slice(i) };
    if (a.includes('=')) continue;
    const spec = a.startsWith('--') ? options[a.slice(2)] : Object.values(options).find((o) => o.short === a.slice(1));
    if (spec?.type === 'string') i++; // its value, even when it looks like a path
  }
  return { own: argv, program: [] };
}

/** True when the studio's own part of argv asks for help (a program's --help is the program's). */
export function asksForHelp(own: string[]): boolean {
  const end = own.indexOf('--');
  return (end < 0 ? own : own.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** util.parseArgs, strict, positionals allowed; a malformed command line is a UsageError. */
export function parseCommandArgs<const O extends OptionsConfig>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(reword(err as Error & { code?: string }));
  }
}

/** parseArgs's messages name the option; the wording is made the same for every command. */
function reword(err: Error & { code?: string }): string {
  const name = /'(-[^' ,]+)(?:, (--[^' ]+))?/.exec(err.message);
  const opt = name ? (name[2] ?? name[1]) : undefined;
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${opt ?? err.message}`;
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (/argument missing/.test(err.message)) return `option ${opt} needs a value`;
    if (/does not take an argument/.test(err.message)) return `option ${opt} takes no value`;
  }
  return err.message;
}

/**
 * The instance directory: `-C DIR`, else the positional argument where the command takes one,
 * else the current directory. `mustExist` (commands that read an instance) turns a missing
 * directory into an input error (exit 2) naming where it came from.
 */
export function instanceDir(option: string | undefined, positional: string | undefined, mustExist = true): string {
  if (option !== undefined && positional !== undefined) {
    throw new UsageError(`the instance directory is given twice (-C ${option} and ${positional}): give it once`);
  }
  const given = option ?? positional;
  const dir = resolve(given ?? '.');
  if (mustExist && !(existsSync(dir) && statSync(dir).isDirectory())) {
    const how = option !== undefined ? ' (given with -C)' : '';
    throw new InputError(
      `${given ?? dir}: no such directory${how}; give an instance directory (-C DIR), or run in one`,
    );
  }
  return dir;
}

/** `run`/`exec`: the studio's options, then the program path inside the image and its arguments. */
export function parseProgramCommand<const O extends OptionsConfig>(argv: string[], options: O) {
  const { own, program } = splitProgram(argv, options, 'first-argument');
  const { values } = parseCommandArgs(own, options);
  return { values, path: program?.[0], args: program?.slice(1) ?? [] };
}
