// argv → headless subcommand or the TUI. One grammar for all (README "Command line"): `help CMD`
// or `CMD --help`, `-V`/`--version`, `-C DIR` for the instance, the exit statuses of EXIT.
import { existsSync, readFileSync } from 'node:fs';
import { distance } from 'fastest-levenshtein';
import { EXIT, UsageError, UserError } from './commands/command.ts';
import { asksForHelp, INSTANCE_OPTION, instanceDir, parseCommandArgs, splitProgram } from './commands/args.ts';
import { ABOUT, commands, helpText, isCommand, usageText } from './commands/registry.ts';
import { formatError } from './core/errors.ts';
import { closeInheritedDescriptors } from './core/sandbox/inherited-fds.ts';
import { sanitizeForTerminal } from './core/text/sanitize.ts';

const TUI_OPTIONS = {
  ...INSTANCE_OPTION,
  'occlum-version': { type: 'string' },
  backend: { type: 'string' },
  log: { type: 'string' },
  'sgx-mode': { type: 'string' },
  'no-mouse': { type: 'boolean' },
} as const;

function usage(): string {
  const width = Math.max(...Object.keys(ABOUT).map((n) => n.length));
  return [
    'usage: occlum-studio [DIR | -C DIR] [--backend host|occlum] [--occlum-version V] [--log FILE] [--sgx-mode HW|SIM|HYPER] [--no-mouse]',
    '                                              the workbench (TUI) on an instance (default: the current directory)',
    '       occlum-studio COMMAND [options]',
    '       occlum-studio help CMD | CMD --help    options of one command',
    '       occlum-studio -V | --version',
    '',
    'Commands:',
    ...Object.entries(ABOUT).map(([name, about]) => `  ${name.padEnd(width)}  ${about}`),
    '',
    "Exit status: 0 ok, 1 problems found (or the command failed), 2 usage or input error; run and exec: the program's.",
  ].join('\n');
}

/** "unknown command" with the nearest command name: exit 2. */
function unknownCommand(name: string): number {
  // Fewest edits; a tie goes to the name of the same length (a transposition, "stauts" → status).
  const cost = (c: string) => distance(name, c) * 100 + Math.abs(c.length - name.length);
  const near = Object.keys(commands).reduce((best, c) => (cost(c) < cost(best) ? c : best));
  const shown = sanitizeForTerminal(name);
  console.error(`occlum-studio: unknown command "${shown}"; the nearest is "${near}" (occlum-studio --help lists all)`);
  return EXIT.usage;
}

async function version(): Promise<number> {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  const { SUPPORTED_OCCLUM } = await import('./core/config/versions.ts');
  console.log(`occlum-studio ${pkg.version} (Occlum.json rules: ${SUPPORTED_OCCLUM})`);
  return EXIT.ok;
}

async function help(args: string[]): Promise<number> {
  if (args.length === 0) {
    console.log(usage());
    return EXIT.ok;
  }
  const [name] = args;
  if (args.length > 1) return reportError(new UsageError('help takes one command name'), usage());
  if (!isCommand(name!)) return unknownCommand(name!);
  const { command } = await commands[name!]!();
  console.log(helpText(command));
  return EXIT.ok;
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h') return help([]);
  if (first === 'help') return help(rest);
  if (first === '--version' || first === '-V') return version();
  if (first !== undefined && isCommand(first)) {
    const { command } = await commands[first]!();
    if (asksForHelp(splitProgram(rest, command.options, command.programAfter).own)) {
      console.log(helpText(command));
      return EXIT.ok;
    }
    try {
      return await command.run(rest);
    } catch (err) {
      return reportError(err, usageText(command));
    }
  }
  // Not a command: a directory to open, or a mistyped command name.
  if (first !== undefined && !first.startsWith('-') && !existsSync(first)) return unknownCommand(first);
  try {
    const { values, positionals } = parseCommandArgs(argv, TUI_OPTIONS);
    if (positionals.length > 1) return unknownCommand(positionals[0]!);
    const dir = instanceDir(values.instance, positionals[0]);
    const sgxMode = values['sgx-mode'];
    if (sgxMode !== undefined) {
      if (!/^(HW|SIM|HYPER)$/.test(sgxMode))
        throw new UsageError(`--sgx-mode must be HW, SIM or HYPER, not "${sgxMode}"`);
      // The occlum backend's builds then run in this mode (`occlum build` reads SGX_MODE when no
      // --sgx-mode flag is given; a change of mode makes Occlum rebuild from scratch).
      process.env.SGX_MODE = sgxMode;
    }
    // Not a terminal (a pipe, CI, an editor task): print what `check` prints instead of a TUI.
    if (!process.stdout.isTTY || !process.stdin.isTTY) return await nonInteractive(dir, values['occlum-version']);
    const { openStudio } = await withoutFetch(() => import('../views/launch.tsx'));
    return await openStudio({
      dir,
      occlumVersion: values['occlum-version'],
      backend: values.backend,
      log: values.log,
      mouse: !values['no-mouse'],
    });
  } catch (err) {
    return reportError(err, usage());
  }
}

/**
 * Ink's layout engine (yoga, emscripten) loads its inline WebAssembly through `fetch` when one
 * exists, and touching Node's lazy global fetch loads undici: ~50 ms before the first frame.
 * Hidden while the TUI modules evaluate, the loader decodes the inline bytes directly.
 */
async function withoutFetch<T>(load: () => Promise<T>): Promise<T> {
  const desc = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
  if (!desc?.configurable) return load();
  Object.defineProperty(globalThis, 'fetch', { value: undefined, configurable: true, writable: true });
  try {
    return await load();
  } finally {
    Object.defineProperty(globalThis, 'fetch', desc);
  }
}

async function nonInteractive(dir: string, occlumVersion: string | undefined): Promise<number> {
  const { command } = await commands.check!();
  return command.run([dir, ...(occlumVersion ? ['--occlum-version', occlumVersion] : [])]);
}

function reportError(err: unknown, usageText: string): number {
  if (err instanceof UsageError || (err as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`occlum-studio: ${sanitizeForTerminal((err as Error).message)}\n${usageText}`);
    return EXIT.usage;
  }
  if (err instanceof UserError) {
    console.error(`occlum-studio: ${sanitizeForTerminal(err.message)}`);
    return err.exitCode;
  }
  console.error(`occlum-studio: ${formatError(err)}`);
  return 1;
}

/** An error no command caught (an event handler, a stray promise): one line, after the TUI restored the screen. */
function fatal(err: unknown): void {
  process.once('exit', () => process.stderr.write(`occlum-studio: ${formatError(err)}\n`));
  process.exit(1);
}
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
closeInheritedDescriptors();

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, fatal);
