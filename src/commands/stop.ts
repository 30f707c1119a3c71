// `occlum-studio stop`: ends every program of the server and the server itself, through the
// chosen backend; nothing stays running or mounted. Host: TERM, then KILL after --timeout ms.
// Occlum: `occlum stop` (which waits up to ~31 s, then kills); --timeout cuts that wait short.
import { type Command, UsageError, say } from './command.ts';
import { reportBackendError } from './runtime-output.ts';
import { INSTANCE_OPTION, instanceDir, parseCommandArgs } from './args.ts';
import { backendFlag, openCommandBackend } from './backend-choice.ts';

const OPTIONS = { ...INSTANCE_OPTION, backend: { type: 'string' }, timeout: { type: 'string' } } as const;

export const command: Command = {
  name: 'stop',
  summary:
    "Stop the instance's server, like `occlum stop`, through the chosen backend (--backend occlum|host; default: occlum when installed).",
  usage: 'occlum-studio stop [-C DIR] [--backend occlum|host] [--timeout ms]',
  options: OPTIONS,
  instance: 'option',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, OPTIONS);
    if (positionals.length)
      throw new UsageError(`stop takes no arguments (got "${positionals[0]}"); give the instance with -C DIR`);
    const dir = instanceDir(values.instance, undefined);
    const t = values.timeout;
    const timeout = t === undefined ? undefined : Number(t);
    if (timeout !== undefined && (!Number.isFinite(timeout) || timeout < 0))
      throw new UsageError(`--timeout must be a number of milliseconds, got "${t}"`);
    // The occlum backend reports what `occlum stop` did (a kill after its timeout) as output.
    const { backend, choice } = openCommandBackend(dir, backendFlag(values.backend), {
      events: { output: (_s, c) => process.stderr.write(c) },
    });
    try {
      // As `occlum stop` (check_has_not_start): no server is refused before anything is said.
      if ((await backend.status()) === 'serving') say('server is stopping.');
      await backend.stop(timeout ?? (choice.kind === 'host' ? 3000 : undefined));
      say('server stopped.');
      return 0;
    } catch (err) {
      return reportBackendError(err);
    }
  },
};
