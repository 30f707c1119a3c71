// `occlum-studio schema [--occlum-version V]`: prints the JSON Schema (draft 2020-12) of
// Occlum.json for one Occlum version, for editors that validate JSON with schemas.
import { configSchema, LATEST, resolveVersion } from '../core/config/index.ts';
import { printJson, UsageError, type Command } from './command.ts';
import { parseCommandArgs } from './args.ts';

const OPTIONS = { 'occlum-version': { type: 'string' } } as const;

export const command: Command = {
  name: 'schema',
  summary: `Prints the JSON Schema (draft 2020-12) of Occlum.json for an Occlum version (default ${LATEST}).`,
  usage: 'occlum-studio schema [--occlum-version V]',
  options: OPTIONS,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, OPTIONS);
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    let version = LATEST;
    if (values['occlum-version'] !== undefined) {
      const r = resolveVersion(values['occlum-version']);
      if (!r.ok) throw new UsageError(`--occlum-version: ${r.message}`);
      version = r.id;
    }
    printJson(configSchema(version));
    return 0;
  },
};
