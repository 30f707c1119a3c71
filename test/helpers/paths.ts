// Locations tests use. ../shared is read-only reference data (never copied into the project).
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const SHARED = resolve(ROOT, '..', 'shared');
export const WAMR_FIXTURE = resolve(SHARED, 'fixtures', 'occlum-wamr-0.28');
export const PF_VECTORS = resolve(SHARED, 'fixtures', 'pf-vectors');
export const CONFIG_CORPUS = resolve(SHARED, 'occlum-configs');
export const LOG_SAMPLES = resolve(SHARED, 'log-samples');
/** The built CLI, as users run it. */
export const CLI = resolve(ROOT, 'bin', 'occlum-studio.js');
