// argv → headless subcommand or the TUI. Subcommand modules load lazily so that starting the
// TUI does not pay for them (time to first frame matters).
import { parseArgs } from 'node:util';
import { UsageError, UserError, type Command } from './commands/command.ts';

type Loader = () => Promise<{ command: Command }>;

export const commands: Record<string, Loader> = {
  init: () => import('./commands/init.ts'),
  new: () => import('./commands/new.ts'),
  build: () => import('./commands/build.ts'),
  run: () => import('./commands/run.ts'),
  exec: () => import('./commands/exec.ts'),
  start: () => import('./commands/start.ts'),
  stop: () => import('./commands/stop.ts'),
  status: () => import('./commands/status.ts'),
  check: () => import('./commands/check.ts'),
  schema: () => import('./commands/schema.ts'),
  doctor: () => import('./commands/doctor.ts'),
  logs: () => import('./commands/logs.ts'),
  fs: () => import('./commands/fs.ts'),
  watch: () => import('./commands/watch.ts'),
  demo: () => import('./commands/demo.ts'),
};

function usage(): string {
  const names = Object.keys(commands).sort().join('|');
  return [
    'usage: occlum-studio [instance-dir] [--backend host|occlum] [--occlum-version V] [--log FILE] [--sgx-mode HW|SIM|HYPER] [--no-mouse]   the workbench (TUI)',
    `       occlum-studio <${names}> [options]`,
    '       occlum-studio <command> --help          options of one command',
  ].join('\n');
}

/** The arguments that belong to the studio: run/exec and `watch --run` pass what follows the
 *  program path to the program (its own --help included). */
function ownArgs(command: string, args: string[]): string[] {
  if (command === 'run' || command === 'exec') {
    const program = args.findIndex((a) => !a.startsWith('-'));
    return program === -1 ? args : args.slice(0, program);
  }
  if (command === 'watch') {
    const run = args.indexOf('--run');
    return run === -1 ? args : args.slice(0, run);
  }
  return args;
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    console.log(usage());
    return 0;
  }
  if (first === '--version') {
    console.log('occlum-studio 0.1.0');
    return 0;
  }
  const load = first !== undefined ? commands[first] : undefined;
  if (load) {
    const { command } = await load();
    if (ownArgs(first, rest).some((a) => a === '--help' || a === '-h')) {
      console.log(`${command.usage}\n\n${command.summary}`);
      return 0;
    }
    try {
      return await command.run(rest);
    } catch (err) {
      return reportError(err, command.usage);
    }
  }
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'occlum-version': { type: 'string' },
        backend: { type: 'string' },
        log: { type: 'string' },
        'sgx-mode': { type: 'string' },
        'no-mouse': { type: 'boolean' },
      },
    });
    if (positionals.length > 1) throw new UsageError(`unknown command "${positionals[0]}"`);
    const dir = positionals[0] ?? process.cwd();
    const sgxMode = values['sgx-mode'];
    if (sgxMode !== undefined) {
      if (!/^(HW|SIM|HYPER)$/.test(sgxMode)) throw new UsageError(`--sgx-mode must be HW, SIM or HYPER, not "${sgxMode}"`);
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
  const load = commands.check;
  if (!load) {
    console.error('occlum-studio: not a terminal; run a subcommand instead (occlum-studio --help)');
    return 2;
  }
  const { command } = await load();
  return command.run([dir, ...(occlumVersion ? ['--occlum-version', occlumVersion] : [])]);
}

function reportError(err: unknown, usageText: string): number {
  if (err instanceof UsageError || (err as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`occlum-studio: ${(err as Error).message}\n${usageText}`);
    return 2;
  }
  if (err instanceof UserError) {
    console.error(`occlum-studio: ${err.message}`);
    return err.exitCode;
  }
  console.error(err);
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
