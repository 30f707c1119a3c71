// `occlum-studio build`: `occlum build` on the host backend (validate, preflight, stage + pack
// the image, pin the config), atomically; wipes run/ unless --keep-run.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { UsageError, UserError, printJson, type Command } from './command.ts';
import { HostBackend } from '../core/backend/host/index.ts';
import { reportBackendError } from './runtime-output.ts';

export const command: Command = {
  name: 'build',
  summary:
    'Build the instance like `occlum build`: validate Occlum.json, check every program under the entry points, pack image/, pin the config. A failed build keeps the last good one.',
  usage: 'occlum-studio build [-C|--instance dir] [--keep-run] [--image-key file] [-f|--force] [--json]',
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        instance: { type: 'string', short: 'C' },
        'keep-run': { type: 'boolean', default: false },
        'image-key': { type: 'string' },
        force: { type: 'boolean', short: 'f', default: false },
        json: { type: 'boolean', default: false },
      },
    });
    if (positionals.length > 1) throw new UsageError('build takes at most one instance directory');
    const dir = resolve(values.instance ?? positionals[0] ?? process.cwd());
    if (values['image-key'] !== undefined) {
      if (values['image-key'] === '') throw new UserError('Error: empty secure image key path');
      if (!existsSync(values['image-key'])) throw new UserError(`Error: invalid secure image key path: ${values['image-key']}`);
    }
    const json = values.json!;
    const backend = new HostBackend(dir, {
      buildProgress: json ? undefined : (p) => (p.progress ? undefined : console.log(p.message)),
    });
    let r;
    try {
      r = await backend.build({ keepRun: values['keep-run'], imageKey: values['image-key'], force: values.force });
    } catch (err) {
      return reportBackendError(err);
    }
    if (json) {
      printJson(r);
      return r.ok ? 0 : 1;
    }
    for (const w of r.warnings) console.error(`warning: ${w}`);
    for (const p of r.problems) {
      console.error(`${p.severity}: ${p.path}: ${p.occlum}`);
      console.error(`  ${p.explanation}`);
      console.error(`  fix: ${p.fix}`);
    }
    if (!r.ok) {
      for (const e of r.errors) console.error(`error: ${e}`);
      console.error('occlum-studio: build failed; the previous build (if any) is unchanged');
      return 1;
    }
    console.log(`Built the Occlum image successfully (host backend, no enclave): ${r.filesStaged} entries, ${r.filesReused} reused, ${r.ms.toFixed(0)} ms`);
    return 0;
  },
};
