// `occlum-studio build`: `occlum build` through the chosen backend. Host: validate, preflight,
// stage + pack the image, pin the config, atomically; wipes run/ unless --keep-run. Occlum: the
// installed `occlum build` with its SGX/signing/image-key flags passed through (-f added when keys
// changed), its output streamed.
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { InputError, UsageError, printJson, type Command, say, sayErr } from './command.ts';
import { sanitizeForTerminal } from '../core/text/sanitize.ts';
import { INSTANCE_OPTION, instanceDir, parseCommandArgs } from './args.ts';
import { reportBackendError } from './runtime-output.ts';
import { backendFlag, backendLabel, openCommandBackend, refuseFlags } from './backend-choice.ts';
import type { SgxMode } from '../core/backend/occlum/index.ts';
import type { PreflightProblem } from '../core/elf/preflight.ts';
import { loadSettings } from '../core/watch/settings.ts';
import { SETTINGS_FILE } from '../core/watch/scope.ts';

const NO_ENCLAVE = 'the host backend builds no enclave (no SGX)';

const OPTIONS = {
  ...INSTANCE_OPTION,
  backend: { type: 'string' },
  'keep-run': { type: 'boolean', default: false },
  'image-key': { type: 'string' },
  'buildin-image-key': { type: 'boolean', default: false },
  'sgx-mode': { type: 'string' },
  'sign-key': { type: 'string' },
  'sign-tool': { type: 'string' },
  'enable-edmm': { type: 'string' },
  force: { type: 'boolean', short: 'f', default: false },
  json: { type: 'boolean', default: false },
} as const;

export const command: Command = {
  name: 'build',
  summary:
    'Build the instance like `occlum build` through the chosen backend (--backend occlum|host; default: occlum when installed). Host: validate Occlum.json, check every program under the entry points, pack image/, pin the config; a failed build keeps the last good one. Occlum: runs `occlum build` with --sgx-mode, --sign-key, --sign-tool, --image-key, --buildin-image-key, --enable-edmm, -f.',
  usage:
    'occlum-studio build [DIR | -C DIR] [--backend occlum|host] [--keep-run] [--image-key file] [--buildin-image-key] [--sgx-mode HW|SIM|HYPER] [--sign-key file] [--sign-tool file] [--enable-edmm Y|N] [-f|--force] [--json]',
  options: OPTIONS,
  instance: 'option-or-positional',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, OPTIONS);
    if (positionals.length > 1) throw new UsageError('build takes at most one instance directory');
    const dir = instanceDir(values.instance, positionals[0]);
    const sgxMode = values['sgx-mode'];
    if (sgxMode !== undefined && !['HW', 'SIM', 'HYPER'].includes(sgxMode)) {
      throw new UsageError(
        `--sgx-mode must be HW, SIM or HYPER, got "${sgxMode}" (Occlum would record any other value verbatim and build for simulation)`,
      );
    }
    const edmm = values['enable-edmm'];
    if (edmm !== undefined && edmm !== 'Y' && edmm !== 'N') {
      throw new UsageError(`--enable-edmm must be Y or N, got "${edmm}" (Occlum would treat any value but N as yes)`);
    }
    for (const name of ['image-key', 'sign-key', 'sign-tool'] as const) {
      const v = values[name];
      if (v === undefined) continue;
      // Occlum's own wording for these two (spec 1.3); the studio adds which option and the fix.
      if (v === '')
        throw new InputError(
          `Error: empty ${name === 'image-key' ? 'secure image key' : name === 'sign-key' ? 'signing key' : 'signing tool'} path (--${name}): give a file path or leave the option out`,
        );
      if (!existsSync(v)) {
        const what = name === 'image-key' ? 'secure image key' : name === 'sign-key' ? 'signing key' : 'signing tool';
        throw new InputError(`Error: invalid ${what} path: ${v} (--${name}: the file does not exist)`);
      }
    }
    if (values['buildin-image-key'] && values['image-key'] === undefined) {
      throw new UsageError('--buildin-image-key needs --image-key: there is no key to build into initfs');
    }
    // `occlum build` runs in the instance directory: key paths are the user's, relative to here.
    const abs = (v: string | undefined) => (v === undefined ? undefined : resolve(v));
    const json = values.json!;
    const { backend, choice } = openCommandBackend(dir, backendFlag(values.backend), {
      events: { buildProgress: json ? undefined : (p) => (p.progress ? undefined : say(p.message)) },
    });
    if (choice.kind === 'host') {
      refuseFlags(choice, [
        {
          flag: '--sgx-mode',
          given: sgxMode !== undefined,
          why: `${NO_ENCLAVE}; leave it out, or install Occlum and use --backend occlum`,
        },
        {
          flag: '--sign-key',
          given: values['sign-key'] !== undefined,
          why: `${NO_ENCLAVE}, so there is nothing to sign; leave it out, or use --backend occlum`,
        },
        {
          flag: '--sign-tool',
          given: values['sign-tool'] !== undefined,
          why: `${NO_ENCLAVE}, so there is nothing to sign; leave it out, or use --backend occlum`,
        },
        {
          flag: '--enable-edmm',
          given: edmm !== undefined,
          why: `${NO_ENCLAVE}, so there is no enclave memory to manage; leave it out, or use --backend occlum`,
        },
        {
          flag: '--buildin-image-key',
          given: values['buildin-image-key']!,
          why: 'it has no initfs stage to carry the key; pass --image-key alone (the host backend reads the key file at run time)',
        },
      ]);
    } else {
      refuseFlags(choice, [
        {
          flag: '--keep-run',
          given: values['keep-run']!,
          why: '`occlum build` always deletes run/ (the writable layer); copy out what you need first, or use --backend host',
        },
      ]);
    }
    const skipped = devLoopSteps(dir);
    if (skipped) sayErr(skipped);
    let r;
    try {
      r = await backend.build({
        keepRun: values['keep-run'],
        imageKey: abs(values['image-key']),
        force: values.force,
        ...(choice.kind === 'occlum'
          ? {
              sgxMode: sgxMode as SgxMode | undefined,
              signKey: abs(values['sign-key']),
              signTool: abs(values['sign-tool']),
              buildinImageKey: values['buildin-image-key'],
              ...(edmm !== undefined ? { enableEdmm: edmm === 'Y' } : {}),
            }
          : {}),
      });
    } catch (err) {
      return reportBackendError(err);
    }
    if (json) {
      printJson({ ...r, backend: choice.kind, backendReason: choice.reason });
      return r.ok ? 0 : 1;
    }
    for (const line of r.diagnostics ?? []) sayErr(line);
    for (const w of r.warnings) sayErr(`warning: ${w}`);
    for (const n of groupNotes(r.problems)) sayErr(n);
    for (const p of r.problems) {
      if (p.severity === 'note') continue;
      sayErr(`${p.severity}: ${p.path}: ${p.occlum}`);
      sayErr(`  ${p.explanation}`);
      sayErr(`  fix: ${p.fix}`);
    }
    if (!r.ok) {
      const shown = new Set(r.diagnostics);
      for (const e of r.errors) if (!shown.has(e)) sayErr(`error: ${e}`);
      sayErr(
        choice.kind === 'host'
          ? 'occlum-studio: build failed; the previous build (if any) is unchanged'
          : 'occlum-studio: occlum build failed (occlum may already have replaced build/ and deleted run/)',
      );
      return 1;
    }
    if (choice.kind === 'host') {
      say(
        `Built the Occlum image successfully (host backend, no enclave): ${r.filesStaged} entries, ${r.filesReused} reused, ${r.ms.toFixed(0)} ms`,
      );
    } else {
      say(`occlum-studio: built with the ${backendLabel(choice.kind)} (${choice.reason}) in ${r.ms.toFixed(0)} ms`);
    }
    return 0;
  },
};

/**
 * Notes (the glibc one) once per kind: a JDK's bin/ under an entry point gives the same note for
 * each of its 28 programs.
 */
function groupNotes(problems: PreflightProblem[]): string[] {
  const groups = new Map<string, string[]>();
  for (const p of problems.filter((x) => x.severity === 'note')) {
    const key = `${p.occlum}: ${p.explanation}`;
    groups.set(key, [...(groups.get(key) ?? []), p.path]);
  }
  return [...groups].map(([what, paths]) => {
    const shown = paths.length > 3 ? `${paths.slice(0, 3).join(', ')} and ${paths.length - 3} more` : paths.join(', ');
    return `note: ${shown}: ${what}`;
  });
}

/**
 * A note when the instance's settings name a prebuild or boms: `build` is `occlum build` and
 * packs image/ as it is, while a user who just wrote the settings expects them applied.
 */
function devLoopSteps(dir: string): string | undefined {
  let settings;
  try {
    settings = loadSettings(dir).settings;
  } catch {
    return undefined; // a broken settings file is `watch`'s error to report, not build's
  }
  const steps = [
    ...(settings.prebuild !== null ? [`\`${settings.prebuild}\` (the prebuild)`] : []),
    ...settings.bom.map(
      (b) =>
        `\`occlum-studio bom copy -f ${b} --root image${settings.bomIncludeDirs.map((d) => ` -i ${d}`).join('')}\``,
    ),
  ];
  if (steps.length === 0) return undefined;
  return (
    `note: ${SETTINGS_FILE} is applied by \`occlum-studio watch\` and the Build pane, not by \`build\` ` +
    `(like \`occlum build\`, it packs image/ as it is); run first, in the instance directory: ` +
    sanitizeForTerminal(steps.join(', then '))
  );
}
