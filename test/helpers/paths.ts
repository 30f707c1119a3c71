// Locations tests use. The reference corpus (real Occlum images, configs, logs; read-only, never
// copied into the project) is ../shared beside the checkout, or OCCLUM_STUDIO_SHARED. A fresh
// clone has none: the tests that need it skip with CORPUS_SKIP (scripts/run-tests.mjs counts
// them in one line, and fails them under CI=true).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const SHARED = process.env.OCCLUM_STUDIO_SHARED
  ? resolve(process.env.OCCLUM_STUDIO_SHARED)
  : resolve(ROOT, '..', 'shared');
export const WAMR_FIXTURE = resolve(SHARED, 'fixtures', 'occlum-wamr-0.28');
export const PF_VECTORS = resolve(SHARED, 'fixtures', 'pf-vectors');
export const CONFIG_CORPUS = resolve(SHARED, 'occlum-configs');
export const LOG_SAMPLES = resolve(SHARED, 'log-samples');
/** The project's own test cases (fixtures/), present in every clone. */
export const FIXTURES = resolve(ROOT, 'fixtures');
/** Occlum 0.31.0's Occlum.json template as `init` writes it (generated from src/core/instance/template.ts). */
export const OWN_TEMPLATE = resolve(FIXTURES, 'config', 'template-0.31.0.json');
/** Occlum-format log lines written here (fixtures/logs/README.md). */
export const OWN_LOG = resolve(FIXTURES, 'logs', 'occlum-format.txt');
/** The built CLI, as users run it. */
export const CLI = resolve(ROOT, 'bin', 'occlum-studio.js');

/** Start of the skip reason of every corpus test (scripts/run-tests.mjs looks for it). */
export const CORPUS_SKIP = 'needs the reference corpus';

/**
 * `skip` option of a test that reads the corpus: false when all `paths` exist, else the reason.
 * Usage: test('…', { skip: needsCorpus(WAMR_FIXTURE) }, …).
 */
export function needsCorpus(...paths: string[]): false | string {
  const missing = paths.find((p) => !existsSync(p));
  return missing ? `${CORPUS_SKIP} (${missing} not found)` : false;
}
