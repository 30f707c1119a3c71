// The real Occlum.json corpus in ../shared/occlum-configs and the verdicts its INDEX.md gives
// under Occlum 0.31.0 rules (parsed, so that held-back cases in the same format work too); and
// the project's own cases in fixtures/config, which every clone has.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CONFIG_CORPUS, FIXTURES, needsCorpus } from './paths.ts';

export interface CorpusFile {
  /** Path relative to the corpus root, e.g. `external/foo.json`. */
  name: string;
  path: string;
  text: string;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/** `skip` option of the tests over the config corpus. */
export const SKIP_WITHOUT_CONFIG_CORPUS = needsCorpus(CONFIG_CORPUS);

/** The project's own configs (fixtures/config/*.json). */
export function ownConfigs(): CorpusFile[] {
  const dir = join(FIXTURES, 'config');
  return walk(dir)
    .filter((p) => p.endsWith('.json'))
    .sort()
    .map((p) => ({ name: `fixtures/config/${relative(dir, p)}`, path: p, text: readFileSync(p, 'utf8') }));
}

/** Every Occlum config (json) of the corpus, build artefacts excluded. */
export function corpusConfigs(): CorpusFile[] {
  return walk(CONFIG_CORPUS)
    .filter((p) => /\.json$/i.test(p) && !p.includes('/generated/'))
    .sort()
    .map((p) => ({ name: relative(CONFIG_CORPUS, p), path: p, text: readFileSync(p, 'utf8') }));
}

/** Every file of the corpus except bom YAML (for no-crash tests: artefacts, YAML, MACs…). */
export function corpusAllFiles(): CorpusFile[] {
  return walk(CONFIG_CORPUS)
    .filter((p) => !p.includes('/bom/') && !p.endsWith('INDEX.md'))
    .sort()
    .map((p) => ({ name: relative(CONFIG_CORPUS, p), path: p, text: readFileSync(p, 'utf8') }));
}

export interface IndexVerdict {
  name: string;
  ok: boolean;
  /** Items of the verdict: `missing field \`feature\``, `warn: unknown key metadata.pkru …`. */
  items: string[];
}

/** Verdict column ("0.31.0 check") of INDEX.md, for files present in the corpus. */
export function indexVerdicts(): IndexVerdict[] {
  const md = readFileSync(join(CONFIG_CORPUS, 'INDEX.md'), 'utf8');
  const out: IndexVerdict[] = [];
  let col = -1;
  for (const line of md.split('\n')) {
    if (!line.startsWith('|')) continue;
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    if (cells[0] === 'file') {
      // A table header: only tables with a verdict column count.
      col = cells.findIndex((c) => c.includes('0.31.0 check'));
      continue;
    }
    const m = /^`([^`]+\.json)`$/.exec(cells[0] ?? '');
    if (!m || col < 0 || cells.length <= col) continue;
    const verdict = cells[col]!;
    const ok = verdict.startsWith('OK');
    const body = verdict.replace(/^(FAIL|OK):?\s*/, '');
    out.push({
      name: m[1]!,
      ok,
      items: body
        ? body
            .split(' / ')
            .map((s) => s.trim())
            .filter(Boolean)
        : [],
    });
  }
  return out;
}
