// `occlum-studio init [dir]`: `occlum init` without Occlum (the 0.31 layout and template).
import { parseArgs } from 'node:util';
import { UsageError, UserError, printJson, type Command } from './command.ts';
import { InstanceError, initInstance, type InitResult } from '../core/instance/init.ts';

export function reportInit(r: InitResult, json: boolean, verb: string): void {
  if (json) {
    printJson({ ok: true, dir: r.dir, created: r.created, musl: r.musl, localtime: r.localtime });
    return;
  }
  console.log(`${verb} an Occlum instance in ${r.dir}`);
  if (!r.musl) {
    console.log(
      'note: no musl libc found on this host, so image/lib has no /lib/ld-musl-x86_64.so.1; install musl (apt-get install musl-tools) or copy a loader in before building',
    );
  }
}

export const command: Command = {
  name: 'init',
  summary: 'Initialise an Occlum instance (Occlum.json, image/, initfs/) in a directory (default: the current one).',
  usage: 'occlum-studio init [dir] [--json]',
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { json: { type: 'boolean', default: false } },
    });
    if (positionals.length > 1) throw new UsageError(`init takes at most one directory, got ${positionals.length}`);
    try {
      reportInit(initInstance(positionals[0] ?? process.cwd()), values.json!, 'Initialized');
      return 0;
    } catch (err) {
      if (err instanceof InstanceError) throw new UserError(err.message);
      throw err;
    }
  },
};
