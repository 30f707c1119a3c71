// `occlum-studio new <dir>`: `occlum new` through the chosen backend; the path must not exist yet.
import { parseArgs } from 'node:util';
import { UsageError, type Command } from './command.ts';
import { INIT_OPTIONS, initThrough } from './init.ts';

export const command: Command = {
  name: 'new',
  summary:
    'Create a new directory holding an initialised Occlum instance, with the installed `occlum new` (occlum backend, the default when Occlum is installed) or the studio\'s own template (--backend host).',
  usage: 'occlum-studio new <dir> [--backend occlum|host] [--init-ra grpc_ratls|aecs] [--json]',
  async run(argv) {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: INIT_OPTIONS });
    if (positionals.length === 0) throw new UsageError('target directory is not set: give the path of the new instance');
    if (positionals.length > 1) throw new UsageError(`new takes one directory, got ${positionals.length}`);
    return initThrough('Created', positionals[0], values);
  },
};
