// `occlum-studio bom copy|check|schema`: Occlum's copy_bom with the same flags (so `copy_bom -f
// app.yaml --root image --include-dir /opt/occlum/etc/template` becomes `occlum-studio bom copy
// -f …` word for word), a check-only mode, and the JSON Schema of bom files.
import { relative } from 'node:path';
import { existsSync } from 'node:fs';
import { bomSchema, checkBom, formatIssue, runBomCopy, type BomIssue, type BomRun } from '../core/bom/index.ts';
import { sanitizeForTerminal } from '../core/text/sanitize.ts';
import { parseCommandArgs } from './args.ts';
import { EXIT, InputError, printJson, UsageError, type Command } from './command.ts';

const USAGE = `occlum-studio bom copy -f FILE --root DIR [-i|--include-dir DIR]... [--dry-run] [--json]
       occlum-studio bom check FILE [-i|--include-dir DIR]... [--json]
       occlum-studio bom schema

  copy     copy what a bom file names into DIR (incremental; deletes nothing)
  check    check a bom file and its includes without touching any file
  schema   print the JSON Schema (draft 2020-12) of bom files, for editors`;

const OPTIONS = {
  file: { type: 'string', short: 'f' },
  root: { type: 'string' },
  'include-dir': { type: 'string', short: 'i', multiple: true },
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

const show = (s: string) => sanitizeForTerminal(s);

/** The bom file itself missing is an input error (exit 2); what it names is checked as problems. */
function requireFile(file: string): void {
  if (!existsSync(file)) throw new InputError(`${file}: no such bom file`);
}

function display(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel && !rel.startsWith('..') ? rel : p;
}

function printIssues(issues: BomIssue[]): void {
  for (const i of issues) {
    const line = formatIssue(i.loc ? { ...i, loc: { ...i.loc, file: display(i.loc.file) } } : i);
    (i.severity === 'error' ? console.error : console.log)(show(line));
  }
}

function humanCopy(r: BomRun, dryRun: boolean): void {
  printIssues(r.plan.issues);
  if (!r.copy) {
    const hash = r.plan.issues.some((i) => i.message.startsWith('hash mismatch'));
    console.error(`bom copy: stopped before writing anything${hash ? ' (hash mismatch)' : ''}`);
    return;
  }
  printIssues(r.copy.issues);
  const changed = r.copy.actions.filter((a) => a.action !== 'same');
  if (dryRun) {
    for (const a of changed) {
      const from = a.src ? ` <- ${a.src}` : a.target ? ` -> ${a.target}` : '';
      console.log(show(`${a.action.padEnd(6)} ${a.kind.padEnd(4)} ${a.inner}${from} (${a.why})`));
    }
  }
  for (const lib of r.plan.libraries) {
    const libs = lib.libs.map((l) => (l.src === l.inner ? l.inner : `${l.inner} (from ${l.src})`));
    const missing = lib.missing.length ? `; missing: ${lib.missing.join(', ')}` : '';
    if (lib.from === 'files' || lib.missing.length)
      console.log(show(`libraries of ${display(lib.file)}: ${libs.join(', ') || 'none'}${missing}`));
  }
  if (r.copy.strays.length > 0) {
    console.log(
      `in the root but in no bom entry (${r.copy.strays.length}${r.copy.strays.length >= 1000 ? '+' : ''}; ` +
        'not deleted):',
    );
    for (const s of r.copy.strays.slice(0, 20)) console.log(show(`  ${s}`));
    if (r.copy.strays.length > 20) console.log(`  … and ${r.copy.strays.length - 20} more (--json lists them all)`);
  }
  const c = r.copy.counts;
  const mb = (r.copy.bytes / 1e6).toFixed(1);
  const counts = dryRun
    ? `would create ${c.create}, update ${c.update}, fix attributes of ${c.attrs}; ` +
      `${c.same} unchanged; ${mb} MB to copy`
    : `created ${c.create}, updated ${c.update}, fixed attributes of ${c.attrs}; ${c.same} unchanged; ${mb} MB copied`;
  // A copy stopped by an error above must not read as a plain success.
  const failed = r.copy.issues.filter((i) => i.severity === 'error').length;
  const head = failed ? ` ${dryRun ? 'would fail' : 'failed'} (${failed} error${failed > 1 ? 's' : ''} above)` : '';
  console.log(
    show(`bom copy${dryRun ? ' (dry run, nothing written)' : ''}${head}: ${counts} into ${display(r.plan.root)}`),
  );
}

async function copy(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (!values.file) throw new UsageError('bom copy needs -f FILE (the bom file)');
  if (!values.root) throw new UsageError('bom copy needs --root DIR (the image directory, usually image)');
  requireFile(values.file);
  const dryRun = !!values['dry-run'];
  const r = await runBomCopy({
    file: values.file,
    root: values.root,
    includeDirs: values['include-dir'] ?? [],
    dryRun,
  });
  if (values.json) {
    printJson({
      ok: r.ok,
      dryRun,
      root: r.plan.root,
      boms: r.plan.boms,
      includeDirs: r.includeDirs,
      loaderConfig: r.plan.loaderConfig,
      issues: [...r.plan.issues, ...(r.copy?.issues ?? [])],
      libraries: r.plan.libraries,
      actions: r.copy?.actions ?? [],
      counts: r.copy?.counts ?? null,
      bytes: r.copy?.bytes ?? 0,
      strays: r.copy?.strays ?? [],
      state: r.state ?? null,
    });
  } else humanCopy(r, dryRun);
  return r.ok ? EXIT.ok : EXIT.problems;
}

async function check(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS);
  if (positionals.length !== 1) throw new UsageError('bom check needs one bom file');
  if (values.file || values.root || values['dry-run'])
    throw new UsageError('bom check takes the bom file alone, -i and --json');
  requireFile(positionals[0]!);
  const r = checkBom(positionals[0]!, values['include-dir'] ?? []);
  const errors = r.issues.filter((i) => i.severity === 'error').length;
  if (values.json) printJson({ ok: errors === 0, boms: r.boms, issues: r.issues });
  else {
    printIssues(r.issues);
    const warnings = r.issues.length - errors;
    console.log(
      show(
        `${display(positionals[0]!)}: ${errors} error${errors === 1 ? '' : 's'}, ` +
          `${warnings} warning${warnings === 1 ? '' : 's'}` +
          `${r.boms.length > 1 ? ` (with ${r.boms.length - 1} included bom${r.boms.length > 2 ? 's' : ''})` : ''}`,
      ),
    );
  }
  return errors === 0 ? EXIT.ok : EXIT.problems;
}

export const command: Command = {
  name: 'bom',
  summary:
    "Bom files, as Occlum's copy_bom reads them: `copy` fills an image dir (shared libraries found through each " +
    "program's loader; SHA-256 checked before writing), `check` validates, `schema` prints the JSON Schema. " +
    "Without -i and without an Occlum install, includes are also looked up in the studio's template dir (base.yaml). " +
    'Exit 0 ok, 1 errors in the bom (nothing written), 2 usage or a missing bom file.',
  usage: USAGE,
  options: OPTIONS,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub?.startsWith('-')) throw new UsageError(`unknown option ${sub}`);
    if (sub === 'copy') return copy(rest);
    if (sub === 'check') return check(rest);
    if (sub === 'schema') {
      if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
      printJson(bomSchema());
      return EXIT.ok;
    }
    throw new UsageError(
      sub ? `unknown bom command "${sub}" (copy, check, schema)` : 'bom needs a command: copy, check or schema',
    );
  },
};
