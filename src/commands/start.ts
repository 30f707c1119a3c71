// `occlum-studio start`: one long-lived server for the instance (like `occlum start`), through the
// chosen backend: the host sandbox, or the installed Occlum's exec server (started by the studio
// so its stderr, where exec launch errors appear, lands in a file the studio reads).
import { type Command, UsageError, say } from './command.ts';
import { logSink, reportBackendError } from './runtime-output.ts';
import { INSTANCE_OPTION, instanceDir, parseCommandArgs } from './args.ts';
import { backendFlag, openCommandBackend, refuseFlags } from './backend-choice.ts';
import { serverLogPath } from '../core/backend/occlum/server-log.ts';

const OPTIONS = { ...INSTANCE_OPTION, backend: { type: 'string' }, 'log-file': { type: 'string' } } as const;

export const command: Command = {
  name: 'start',
  summary:
    "Start the instance's server (host sandbox or Occlum's exec server; --backend occlum|host, default: occlum when installed); `exec` runs programs in it until `stop`.",
  usage: 'occlum-studio start [-C DIR] [--backend occlum|host] [--log-file f]',
  options: OPTIONS,
  instance: 'option',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, OPTIONS);
    if (positionals.length)
      throw new UsageError(`start takes no arguments (got "${positionals[0]}"); give the instance with -C DIR`);
    const dir = instanceDir(values.instance, undefined);
    const logFile = values['log-file'];
    const { backend, choice } = openCommandBackend(dir, backendFlag(values.backend), {
      events: { log: logSink(logFile) },
    });
    if (choice.kind === 'occlum') {
      refuseFlags(choice, [
        {
          flag: '--log-file',
          given: logFile !== undefined,
          why: `the exec server outlives this command and writes its stderr (LibOS log, exec launch errors) to ${serverLogPath(dir)}; read it there, or pass --log-file to each exec`,
        },
      ]);
    }
    try {
      await backend.start();
      say('server is running.');
      return 0;
    } catch (err) {
      return reportBackendError(err);
    }
  },
};
