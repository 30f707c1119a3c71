// `occlum-studio new <dir>`: `occlum new` without Occlum; the path must not exist yet.
import { parseArgs } from 'node:util';
import { UsageError, UserError, type Command } from './command.ts';
import { InstanceError, newInstance } from '../core/instance/init.ts';
import { reportInit } from './init.ts';

export const command: Command = {
  name: 'new',
  summary: 'Create a new directory holding an initialised Occlum instance.',
  usage: 'occlum-studio new <dir> [--json]',
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { json: { type: 'boolean', default: false } },
    });
    if (positionals.length === 0) throw new UsageError('target directory is not set: give the path of the new instance');
    if (positionals.length > 1) throw new UsageError(`new takes one directory, got ${positionals.length}`);
    try {
      reportInit(newInstance(positionals[0]), values.json!, 'Created');
      return 0;
    } catch (err) {
      if (err instanceof InstanceError) throw new UserError(err.message);
      throw err;
    }
  },
};
