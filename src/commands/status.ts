// `occlum-studio status`: the instance's state from live process checks (not the status file,
// which Occlum leaves stale, spec 1.4), as the chosen backend sees it. The state word alone goes
// to stdout (scripts compare it); which backend answered goes to stderr, and into --json.
import { type Command, UsageError, printJson } from './command.ts';
import { readStatusFile } from '../core/instance/status.ts';
import { parseProgramArgs } from './runtime-output.ts';
import { backendFlag, backendLabel, openCommandBackend } from './backend-choice.ts';

export const command: Command = {
  name: 'status',
  summary:
    'Print the instance status: initialized, built, running (a run is alive) or serving (server started), as the chosen backend sees it (--backend occlum|host; default: occlum when installed).',
  usage: 'occlum-studio status [-C|--instance dir] [--backend occlum|host] [--json]',
  async run(argv) {
    const a = parseProgramArgs(argv, { '--instance': true, '--backend': true, '--json': false });
    if (a.path) throw new UsageError(`status takes no arguments (got "${a.path}")`);
    const { backend, choice } = openCommandBackend(a.instance, backendFlag(a.values.get('--backend')));
    const status = await backend.status();
    if (a.flags.has('--json')) {
      printJson({ dir: a.instance, status, statusFile: readStatusFile(a.instance), backend: choice.kind, backendReason: choice.reason });
    } else if (status === 'uninitialized') {
      console.error(`occlum-studio: ${a.instance} is not an Occlum instance (no .__occlum_status); run init first`);
    } else {
      console.log(status);
      console.error(`(${backendLabel(choice.kind)}: ${choice.reason})`);
    }
    return status === 'uninitialized' ? 1 : 0;
  },
};
