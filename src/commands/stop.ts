// `occlum-studio stop`: ends every program of the server (TERM, then KILL after --timeout ms)
// and the server itself; nothing stays running or mounted.
import { type Command, UsageError } from './command.ts';
import { HostBackend } from '../core/backend/host/index.ts';
import { parseProgramArgs, reportBackendError } from './runtime-output.ts';

export const command: Command = {
  name: 'stop',
  summary: 'Stop the instance\'s sandbox server, like `occlum stop`.',
  usage: 'occlum-studio stop [-C|--instance dir] [--timeout ms]',
  async run(argv) {
    const a = parseProgramArgs(argv, { '--instance': true, '--timeout': true });
    if (a.path) throw new UsageError(`stop takes no arguments (got "${a.path}")`);
    const t = a.values.get('--timeout');
    const timeout = t === undefined ? 3000 : Number(t);
    if (!Number.isFinite(timeout) || timeout < 0) throw new UsageError(`--timeout must be a number of milliseconds, got "${t}"`);
    try {
      console.log('server is stopping.');
      await new HostBackend(a.instance).stop(timeout);
      console.log('server stopped.');
      return 0;
    } catch (err) {
      return reportBackendError(err);
    }
  },
};
