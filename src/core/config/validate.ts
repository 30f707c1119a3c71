// Runs every rule on a config text under one version's rules. Never throws: any input,
// however broken, yields diagnostics (each located at line ≥ 1).
import { RuleContext, type CheckOptions } from './context.ts';
import { migrationEdits } from './migrate.ts';
import { generatedFromText, generatedFromTree, generatedMessage } from './generated.ts';
import { looksLikeYaml, parseConfig, type ParsedConfig } from './parse.ts';
import { checkNextGen, nextGenEvidence } from './rules/nextgen.ts';
import { parseYamlConfig } from './yaml-tree.ts';
import { checkLegacyKeys } from './rules/legacy.ts';
import { checkMounts } from './rules/mounts.ts';
import { checkRisky } from './rules/risky.ts';
import { checkStructure } from './rules/structure.ts';
import {
  checkCrossField,
  checkEntryPoints,
  checkEnv,
  checkKss,
  checkSizes,
  checkUserSpaceV020,
} from './rules/values.ts';
import type { Node } from 'jsonc-parser';
import type { Diagnostic } from './types.ts';
import { detectVersion, LATEST, versionIndex, type Detection, type VersionId } from './versions.ts';

export type { CheckOptions } from './context.ts';

export interface CheckResult {
  diagnostics: Diagnostic[];
  /** Version whose rules were applied. */
  version: VersionId;
  /** True when the version came from options, false when detected from the shape. */
  explicitVersion: boolean;
  detection: Detection;
  /** 'ngo': the config of occlum/ngo or of the 1.0.0-preview branch (their own rules; `version` unused). */
  family: 'occlum' | 'ngo';
  /** The rules applied, for people: "Occlum 0.31.0 rules", "NGO / 1.0-preview rules". */
  rules: string;
  counts: { error: number; warning: number; info: number };
}

/** Rules in the order they run; each is a small function of the context. */
const RULES: ((ctx: RuleContext) => void)[] = [
  checkLegacyKeys, // first: marks keys it handles so structure does not report them twice
  checkStructure,
  checkUserSpaceV020,
  checkSizes,
  checkEntryPoints,
  checkEnv,
  checkKss,
  checkMounts,
  checkCrossField,
  checkRisky,
];

const TOP_SECTIONS = ['resource_limits', 'process', 'entry_points', 'env', 'metadata', 'mount'];

export function checkConfig(text: string, options: CheckOptions = {}): CheckResult {
  const yaml = looksLikeYaml(text, options.fileName);
  const parsed = yaml ? parseYamlConfig(text) : parseConfig(text);
  // A file the build generates gets one finding, not the page of false ones its shape would give.
  const generated = generatedFromText(text) ?? (parsed.root && generatedFromTree(parsed.root));
  const nextGen = !generated && (yaml || !options.version) ? nextGenEvidence(parsed.root, yaml) : undefined;
  if (nextGen) return checkNextGenConfig(text, parsed, nextGen, yaml, options);
  const detection = detectVersion(parsed.root);
  const version = options.version ?? detection.version;
  const diagnostics: Diagnostic[] = generated
    ? [
        {
          severity: 'error',
          code: 'generated-file',
          path: [],
          line: 1,
          column: 1,
          message: generatedMessage(generated),
        },
      ]
    : [...parsed.syntax];
  if (parsed.root && !generated) {
    const ctx = new RuleContext(text, parsed.lines, parsed.root, version, detection, options);
    for (const rule of RULES) {
      try {
        rule(ctx);
      } catch (err) {
        // A rule bug must not hide the other diagnostics; report it located at the top.
        ctx.report(
          'error',
          'internal',
          undefined,
          [],
          `internal error in rule ${rule.name}: ${(err as Error).message}`,
        );
      }
    }
    diagnostics.push(...withoutEchoesOfSyntaxErrors(ctx, parsed.syntax));
    if (yaml) {
      // Fixes and the migration are JSON edits: none of them applies to YAML text.
      for (const d of diagnostics) delete d.fix;
      // A .yaml file is converted by the project's scripts; YAML inside Occlum.json is what serde_json reads.
      const named = options.fileName !== undefined && /\.ya?ml$/i.test(options.fileName);
      diagnostics.push({
        severity: named ? 'info' : 'error',
        code: 'yaml-json-shape',
        path: [],
        line: 1,
        column: 1,
        message: named
          ? `this YAML has the Occlum.json shape of released Occlum (not the Occlum.yaml of the 1.0 preview / NGO): Occlum reads only Occlum.json, so convert it before the build (e.g. yq -o=json . file.yaml > Occlum.json); checked with Occlum ${version} rules`
          : `expected value: this is YAML in the Occlum.json shape, and Occlum's build (serde_json) reads only JSON — convert it (e.g. yq -o=json); checked with Occlum ${version} rules`,
      });
    } else if (parsed.root.type === 'object') diagnostics.push(...versionNotes(ctx, text, options));
  }
  diagnostics.sort((a, b) => a.line - b.line || a.column - b.column || sevRank(a) - sevRank(b));
  const counts = { error: 0, warning: 0, info: 0 };
  for (const d of diagnostics) counts[d.severity]++;
  const explicitVersion = options.version !== undefined;
  return {
    diagnostics,
    version,
    explicitVersion,
    detection,
    family: 'occlum',
    rules: `Occlum ${version} rules`,
    counts,
  };
}

/** NGO / 1.0-preview configs (Occlum.yaml, or NGO's JSON): their own rules. */
function checkNextGenConfig(
  text: string,
  parsed: ParsedConfig,
  why: string,
  yaml: boolean,
  options: CheckOptions,
): CheckResult {
  const detection: Detection = { version: LATEST, range: 'NGO / 1.0 preview', reasons: [why], mixed: false };
  const diagnostics = [...parsed.syntax];
  if (parsed.root) {
    const ctx = new RuleContext(text, parsed.lines, parsed.root, LATEST, detection, options);
    try {
      checkNextGen(ctx, yaml);
    } catch (err) {
      ctx.report('error', 'internal', undefined, [], `internal error in the NGO rules: ${(err as Error).message}`);
    }
    diagnostics.push(...ctx.diagnostics);
  }
  diagnostics.sort((a, b) => a.line - b.line || a.column - b.column || sevRank(a) - sevRank(b));
  const counts = { error: 0, warning: 0, info: 0 };
  for (const d of diagnostics) counts[d.severity]++;
  const rules = 'NGO / 1.0-preview rules (occlum/ngo, occlum 1.0.0-preview branch)';
  return { diagnostics, version: LATEST, explicitVersion: false, detection, family: 'ngo', rules, counts };
}

/**
 * Where the parser had to skip text (`{key: 1}`, `[/bin]`), the tree lacks what the user wrote:
 * a rule finding about a value or object that holds such a spot ("entry_points is empty",
 * "missing field `key`") is an echo of the syntax error, not a second problem. Comments and
 * trailing commas lose nothing and keep every finding.
 */
function withoutEchoesOfSyntaxErrors(ctx: RuleContext, syntax: Diagnostic[]): Diagnostic[] {
  const spots = syntax.filter((d) => d.code === 'syntax').map((d) => [d.line, d.column] as const);
  if (spots.length === 0) return ctx.diagnostics;
  const before = (a: readonly [number, number], b: readonly [number, number]) =>
    a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]);
  const holdsSpot = (node: Node | undefined) => {
    if (!node) return false;
    const s = ctx.lines.position(node.offset);
    const e = ctx.lines.position(node.offset + node.length);
    return spots.some((p) => before([s.line, s.column], p) && before(p, [e.line, e.column]));
  };
  return ctx.diagnostics.filter((d) => {
    const node = ctx.get(d.path) ?? (d.code === 'missing-key' ? ctx.get(d.path.slice(0, -1)) : undefined);
    return !holdsSpot(node);
  });
}

function sevRank(d: Diagnostic): number {
  return d.severity === 'error' ? 0 : d.severity === 'warning' ? 1 : 2;
}

/** Overlay files and the offer to migrate an older shape to the current version. */
function versionNotes(ctx: RuleContext, text: string, options: CheckOptions): Diagnostic[] {
  const out: Diagnostic[] = [];
  const present = TOP_SECTIONS.filter((k) => ctx.get([k]) !== undefined);
  const at = { line: 1, column: 1 };
  // A top-level vm without env is the whole config of Occlum 0.5 – 0.9, not an overlay.
  if (present.length > 0 && present.length <= 3 && ctx.get(['vm']) === undefined) {
    out.push({
      severity: 'info',
      code: 'overlay',
      path: [],
      ...at,
      message: `this looks like a partial overlay (only ${present.join(', ')}), typically merged into a full Occlum.json by a script (jq); on its own Occlum's build rejects it`,
    });
    return out;
  }
  const older = versionIndex(ctx.detection.version) < versionIndex(LATEST);
  if (!older && !ctx.detection.mixed) return out;
  const edits = text.length <= 512 * 1024 ? migrationEdits(text) : [];
  if (edits.length === 0) return out;
  const why = ctx.detection.reasons.join('; ');
  const message = ctx.detection.mixed
    ? `mixes keys of different Occlum versions (${why}); Occlum ${ctx.version} rules apply — the fix brings everything to Occlum ${LATEST}`
    : options.version
      ? `written for Occlum ${ctx.detection.range} (${why}); checked with Occlum ${ctx.version} rules`
      : `written for Occlum ${ctx.detection.range} (${why}); checked with those rules — Occlum ${LATEST} needs changes, which the fix applies`;
  out.push({
    severity: 'info',
    code: 'migrate',
    path: [],
    ...at,
    message,
    fix: { title: `Migrate to Occlum ${LATEST}`, edits },
  });
  return out;
}
