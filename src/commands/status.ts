// `occlum-studio status`: the instance's state from live process checks (not the status file,
// which Occlum leaves stale, spec 1.4), as the chosen backend sees it. The state word alone goes
// to stdout (scripts compare it); which backend answered goes to stderr, and into --json.
import { EXIT, type Command, UsageError, printJson, say, sayErr } from './command.ts';
import { readStatusFile, statusFileProblem } from '../core/instance/status.ts';
import { INSTANCE_OPTION, instanceDir, parseCommandArgs } from './args.ts';
import { backendFlag, backendLabel, openCommandBackend } from './backend-choice.ts';
import { STATUS_FILE } from '../core/instance/layout.ts';
import { isBuiltPerCli } from '../core/detect/instance-state.ts';

const OPTIONS = { ...INSTANCE_OPTION, backend: { type: 'string' }, json: { type: 'boolean', default: false } } as const;

export const command: Command = {
  name: 'status',
  summary:
    'Print the instance status: initialized, built, running (a run is alive) or serving (server started), as the chosen backend sees it (--backend occlum|host; default: occlum when installed).',
  usage: 'occlum-studio status [-C DIR] [--backend occlum|host] [--json]',
  options: OPTIONS,
  instance: 'option',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, OPTIONS);
    if (positionals.length)
      throw new UsageError(`status takes no arguments (got "${positionals[0]}"); give the instance with -C DIR`);
    const dir = instanceDir(values.instance, undefined);
    const { backend, choice } = openCommandBackend(dir, backendFlag(values.backend));
    const status = await backend.status();
    if (values.json) {
      printJson({ dir, status, statusFile: readStatusFile(dir), backend: choice.kind, backendReason: choice.reason });
    } else if (status === 'uninitialized') {
      const problem = statusFileProblem(dir);
      sayErr(
        problem
          ? `occlum-studio: ${dir}: its ${STATUS_FILE} cannot be read (${problem})`
          : `occlum-studio: ${dir} is not an Occlum instance (no ${STATUS_FILE}); run init first`,
      );
    } else {
      say(status);
      sayErr(`(${backendLabel(choice.kind)}: ${choice.reason})`);
      // An instance Occlum built, seen by the host backend (no Occlum here): not a contradiction.
      const file = readStatusFile(dir);
      if (choice.kind === 'host' && status === 'initialized' && file !== 'initialized' && isBuiltPerCli(dir))
        sayErr(
          `(${STATUS_FILE} says "${file}": Occlum built this instance; the host backend has not: build it with --backend host before a run here)`,
        );
    }
    // Not an instance: the command's input is wrong (exit 2), as for every command given a non-instance.
    return status === 'uninitialized' ? EXIT.usage : EXIT.ok;
  },
};
