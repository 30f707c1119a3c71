// `occlum-studio new <dir>`: `occlum new` through the chosen backend; the path must not exist yet.
import { UsageError, type Command } from './command.ts';
import { INIT_OPTIONS, initThrough } from './init.ts';
import { instanceDir, parseCommandArgs } from './args.ts';

export const command: Command = {
  name: 'new',
  summary:
    "Create a new directory holding an initialised Occlum instance, with the installed `occlum new` (occlum backend, the default when Occlum is installed) or the studio's own template (--backend host).",
  usage: 'occlum-studio new <DIR | -C DIR> [--backend occlum|host] [--init-ra grpc_ratls|aecs] [--json]',
  options: INIT_OPTIONS,
  instance: 'option-or-positional',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, INIT_OPTIONS);
    if (positionals.length === 0 && values.instance === undefined) {
      throw new UsageError('target directory is not set: give the path of the new instance');
    }
    if (positionals.length > 1) throw new UsageError(`new takes one directory, got ${positionals.length}`);
    return initThrough('Created', instanceDir(values.instance, positionals[0], false), values);
  },
};
