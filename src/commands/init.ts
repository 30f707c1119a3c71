// `occlum-studio init [dir]`: `occlum init` through the chosen backend. Host (or no Occlum): the
// studio writes the 0.31 layout and template itself. Occlum: the installed `occlum init`, run in
// the directory and never given an argument that makes it hang (only --init-ra grpc_ratls|aecs).
import { resolve } from 'node:path';
import { InputError, UsageError, printJson, type Command, say } from './command.ts';
import { INSTANCE_OPTION, instanceDir, parseCommandArgs } from './args.ts';
import { InstanceError, initInstance, newInstance, type InitResult } from '../core/instance/init.ts';
import { OcclumBackend } from '../core/backend/occlum/index.ts';
import type { BackendChoice } from '../core/detect/backend-choice.ts';
import { reportBackendError } from './runtime-output.ts';
import { backendFlag, openCommandBackend, refuseFlags } from './backend-choice.ts';
import { formatWords } from '../core/pty/command-line.ts';

export function reportInit(r: InitResult, json: boolean, verb: string): void {
  if (json) {
    printJson({ ok: true, dir: r.dir, created: r.created, musl: r.musl, localtime: r.localtime, backend: 'host' });
    return;
  }
  say(`${verb} an Occlum instance in ${r.dir}`);
  if (!r.musl) {
    say(
      'note: no musl libc found on this host, so image/lib has no /lib/ld-musl-x86_64.so.1; install musl (apt-get install musl-tools) or copy a loader in before building',
    );
  }
}

export const INIT_OPTIONS = {
  ...INSTANCE_OPTION,
  json: { type: 'boolean', default: false },
  backend: { type: 'string' },
  'init-ra': { type: 'string' },
} as const;

/** init and new share this: the studio's own template on the host backend, the Occlum CLI otherwise. */
export async function initThrough(
  verb: 'Initialized' | 'Created',
  target: string,
  values: { json?: boolean; backend?: string; 'init-ra'?: string },
): Promise<number> {
  const dir = resolve(target);
  const { backend, choice } = openCommandBackend(dir, backendFlag(values.backend));
  if (!(backend instanceof OcclumBackend)) {
    refuseFlags(choice, [
      {
        flag: '--init-ra',
        given: values['init-ra'] !== undefined,
        why: 'the host backend has no init stage to attest from; leave it out, or install Occlum and use --backend occlum',
      },
    ]);
    try {
      reportInit(verb === 'Created' ? newInstance(target) : initInstance(target), values.json!, verb);
      if (!values.json) sayNext(dir);
      return 0;
    } catch (err) {
      if (err instanceof InstanceError) throw new InputError(err.message);
      throw err;
    }
  }
  try {
    const ra = values['init-ra'] !== undefined ? { initRa: values['init-ra'] } : {};
    if (verb === 'Created') await backend.newInstance(dir, ra);
    else await backend.init(dir, ra);
  } catch (err) {
    return reportBackendError(err);
  }
  reportOcclumInit(dir, choice, values.json!, verb);
  if (!values.json) sayNext(dir);
  return 0;
}

/** What a newcomer does next with the empty instance. */
function sayNext(dir: string): void {
  const image = formatWords([`${dir}/image`]);
  say(
    `next: fill ${image} with your program and its libraries, e.g. from a bom file (occlum-studio bom --help): ` +
      `occlum-studio bom copy -f app.yaml --root ${image}; then open the workbench: occlum-studio ${formatWords([dir])}`,
  );
}

function reportOcclumInit(dir: string, choice: BackendChoice, json: boolean, verb: string): void {
  if (json) printJson({ ok: true, dir, backend: choice.kind, backendReason: choice.reason });
  else say(`${verb} an Occlum instance in ${dir} (occlum backend: ${choice.reason})`);
}

export const command: Command = {
  name: 'init',
  summary:
    "Initialise an Occlum instance (Occlum.json, image/, initfs/) in a directory (default: the current one), with the installed `occlum init` (occlum backend, the default when Occlum is installed) or the studio's own template (--backend host).",
  usage: 'occlum-studio init [DIR | -C DIR] [--backend occlum|host] [--init-ra grpc_ratls|aecs] [--json]',
  options: INIT_OPTIONS,
  instance: 'option-or-positional',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, INIT_OPTIONS);
    if (positionals.length > 1) throw new UsageError(`init takes at most one directory, got ${positionals.length}`);
    return initThrough('Initialized', instanceDir(values.instance, positionals[0], false), values);
  },
};
