// `occlum-studio start`: one long-lived sandbox for the instance (like `occlum start`).
import { type Command } from './command.ts';
import { HostBackend } from '../core/backend/host/index.ts';
import { logSink, parseProgramArgs, reportBackendError } from './runtime-output.ts';
import { UsageError } from './command.ts';

export const command: Command = {
  name: 'start',
  summary: 'Start the instance\'s sandbox server; `exec` runs programs in it until `stop`.',
  usage: 'occlum-studio start [-C|--instance dir] [--log-file f]',
  async run(argv) {
    const a = parseProgramArgs(argv, { '--instance': true, '--log-file': true });
    if (a.path) throw new UsageError(`start takes no arguments (got "${a.path}")`);
    try {
      await new HostBackend(a.instance, { log: logSink(a.values.get('--log-file')) }).start();
      console.log('server is running.');
      return 0;
    } catch (err) {
      return reportBackendError(err);
    }
  },
};
