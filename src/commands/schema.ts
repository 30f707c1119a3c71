// `occlum-studio schema [--occlum-version V]`: prints the JSON Schema (draft 2020-12) of
// Occlum.json for one Occlum version, for editors that validate JSON with schemas.
import { parseArgs } from 'node:util';
import { configSchema, LATEST, resolveVersion } from '../core/config/index.ts';
import { printJson, UsageError, type Command } from './command.ts';

export const command: Command = {
  name: 'schema',
  summary: `Prints the JSON Schema (draft 2020-12) of Occlum.json for an Occlum version (default ${LATEST}).`,
  usage: 'usage: occlum-studio schema [--occlum-version V]',
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { 'occlum-version': { type: 'string' } },
    });
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
