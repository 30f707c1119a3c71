// `occlum-studio check [dir|file…] [--occlum-version V] [--strict] [--json]`: validates
// Occlum.json with the rules of the version it targets, compiler-style output.
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import {
  checkConfig,
  formatDiagnostic,
  readSettings,
  resolveVersion,
  type CheckResult,
  type VersionId,
} from '../core/config/index.ts';
import { exitWhenStdoutCloses, InputError, printJson, UsageError, type Command, say, sayErr } from './command.ts';
import { INSTANCE_OPTION, instanceDir, parseCommandArgs } from './args.ts';
import { readConfigText } from '../core/instance/safe-read.ts';
import { instancePaths } from '../core/instance/layout.ts';

const USAGE = 'occlum-studio check [DIR|FILE ... | -C DIR] [--occlum-version V] [--strict] [--json] [--release]';

const OPTIONS = {
  ...INSTANCE_OPTION,
  'occlum-version': { type: 'string' },
  strict: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  release: { type: 'boolean', default: false },
} as const;

interface Target {
  /** As shown in output (relative to cwd when inside it). */
  display: string;
  file: string;
  instanceDir?: string;
}

function resolveTarget(arg: string): Target {
  const abs = resolve(arg);
  if (!existsSync(abs)) throw new InputError(`${arg}: no such file or directory`);
  let file = abs;
  let instanceDir: string | undefined;
  if (statSync(abs).isDirectory()) {
    file = instancePaths(abs).config;
    instanceDir = abs;
    // The 1.0 preview and NGO branches keep Occlum.yaml instead.
    if (!existsSync(file) && existsSync(join(abs, 'Occlum.yaml'))) file = join(abs, 'Occlum.yaml');
    if (!existsSync(file)) {
      const lower = existsSync(join(abs, 'occlum.json'))
        ? ' (there is an occlum.json: Occlum reads only the name Occlum.json)'
        : '';
      throw new InputError(
        `${arg}: no Occlum.json in this directory${lower}; give an instance directory or a config file`,
      );
    }
  } else {
    // A file inside an instance directory gets the host checks (mount sources, image/).
    const dir = dirname(abs);
    const p = instancePaths(dir);
    if (existsSync(p.status) || existsSync(p.image)) instanceDir = dir;
  }
  const rel = relative(process.cwd(), file);
  return { display: rel && !rel.startsWith('..') ? rel : file, file, instanceDir };
}

function formatResult(t: Target, r: CheckResult): string[] {
  const out: string[] = [];
  for (const d of r.diagnostics) out.push(...formatDiagnostic(t.display, d));
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  const how = r.explicitVersion ? r.rules : `${r.rules}, detected: ${r.detection.reasons.join('; ')}`;
  out.push(
    `${t.display}: ${plural(r.counts.error, 'error')}, ${plural(r.counts.warning, 'warning')}, ${plural(r.counts.info, 'note')} (${how})`,
  );
  return out;
}

export const command: Command = {
  name: 'check',
  summary:
    'Validates Occlum.json against the rules of the Occlum version it targets (detected from its shape, ' +
    'or --occlum-version, or occlumVersion in .occlum-studio.json). --release also flags debug settings. Exit 0 without errors, 1 with errors ' +
    '(or warnings with --strict), 2 on usage errors.',
  usage: USAGE,
  options: OPTIONS,
  instance: 'option-or-positional',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, OPTIONS);
    exitWhenStdoutCloses(); // `check … | head` ends quietly
    if (values.instance !== undefined && positionals.length > 0) {
      throw new UsageError(
        `the instance directory is given twice (-C ${values.instance} and ${positionals[0]}): give it once`,
      );
    }
    let version: VersionId | undefined;
    if (values['occlum-version'] !== undefined) {
      const r = resolveVersion(values['occlum-version']);
      if (!r.ok) throw new UsageError(`--occlum-version: ${r.message}`);
      version = r.id;
    }
    const given = values.instance !== undefined ? [instanceDir(values.instance, undefined)] : positionals;
    const targets = (given.length ? given : ['.']).map(resolveTarget);
    let failed = false;
    const json: unknown[] = [];
    for (const t of targets) {
      let v = version;
      const notes: string[] = [];
      if (!v && t.instanceDir) {
        const s = readSettings(t.instanceDir);
        notes.push(...s.problems);
        v = s.occlumVersion;
      }
      let text: string;
      try {
        text = readConfigText(t.file, basename(t.file));
      } catch (err) {
        throw new InputError(`${t.display}: cannot read: ${(err as Error).message}`);
      }
      const r = checkConfig(text, {
        version: v,
        instanceDir: t.instanceDir,
        fileName: basename(t.file),
        release: values.release,
      });
      if (r.counts.error > 0 || (values.strict && r.counts.warning > 0)) failed = true;
      if (values.json) {
        json.push({
          file: t.display,
          version: r.family === 'ngo' ? 'ngo' : r.version,
          family: r.family,
          explicitVersion: r.explicitVersion,
          detection: r.detection,
          counts: r.counts,
          diagnostics: r.diagnostics,
          notes,
        });
      } else {
        for (const n of notes) sayErr(`occlum-studio: ${n}`);
        say(...formatResult(t, r));
      }
    }
    if (values.json) printJson(json.length === 1 ? json[0] : json);
    return failed ? 1 : 0;
  },
};
