// `occlum-studio start`: one long-lived server for the instance (like `occlum start`), through the
// chosen backend: the host sandbox, or the installed Occlum's exec server (started by the studio
// so its stderr, where exec launch errors appear, lands in a file the studio reads).
import { type Command, UsageError } from './command.ts';
import { logSink, parseProgramArgs, reportBackendError } from './runtime-output.ts';
import { backendFlag, openCommandBackend, refuseFlags } from './backend-choice.ts';
import { serverLogPath } from '../core/backend/occlum/server-log.ts';

export const command: Command = {
  name: 'start',
  summary:
    "Start the instance's server (host sandbox or Occlum's exec server; --backend occlum|host, default: occlum when installed); `exec` runs programs in it until `stop`.",
  usage: 'occlum-studio start [-C|--instance dir] [--backend occlum|host] [--log-file f]',
  async run(argv) {
    const a = parseProgramArgs(argv, { '--instance': true, '--backend': true, '--log-file': true });
    if (a.path) throw new UsageError(`start takes no arguments (got "${a.path}")`);
    const logFile = a.values.get('--log-file');
    const { backend, choice } = openCommandBackend(a.instance, backendFlag(a.values.get('--backend')), { events: { log: logSink(logFile) } });
    if (choice.kind === 'occlum') {
      refuseFlags(choice, [
        {
          flag: '--log-file',
          given: logFile !== undefined,
          why: `the exec server outlives this command and writes its stderr (LibOS log, exec launch errors) to ${serverLogPath(a.instance)}; read it there, or pass --log-file to each exec`,
        },
      ]);
    }
    try {
      await backend.start();
      console.log('server is running.');
      return 0;
    } catch (err) {
      return reportBackendError(err);
    }
  },
};
