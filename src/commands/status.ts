// `occlum-studio status`: the instance's state from live process checks (not the status file,
// which Occlum leaves stale, spec 1.4).
import { type Command, UsageError, printJson } from './command.ts';
import { HostBackend } from '../core/backend/host/index.ts';
import { readStatusFile } from '../core/instance/status.ts';
import { parseProgramArgs } from './runtime-output.ts';

export const command: Command = {
  name: 'status',
  summary: 'Print the instance status: initialized, built, running (a run is alive) or serving (server started).',
  usage: 'occlum-studio status [-C|--instance dir] [--json]',
  async run(argv) {
    const a = parseProgramArgs(argv, { '--instance': true, '--json': false });
    if (a.path) throw new UsageError(`status takes no arguments (got "${a.path}")`);
    const status = await new HostBackend(a.instance).status();
    if (a.flags.has('--json')) printJson({ dir: a.instance, status, statusFile: readStatusFile(a.instance) });
    else if (status === 'uninitialized') console.error(`occlum-studio: ${a.instance} is not an Occlum instance (no .__occlum_status); run init first`);
    else console.log(status);
    return status === 'uninitialized' ? 1 : 0;
  },
};
