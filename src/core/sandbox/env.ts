// The program's environment, as the LibOS builds it (spec 2.3): env.default ("KEY=VALUE"), then
// each env.untrusted name taken from the caller's environment, overriding a default of the
// same key. Nothing else from the host gets through.

export interface EnvResult {
  env: [string, string][];
  /** Untrusted names that were not set by the caller (debug log). */
  missing: string[];
}

export function programEnv(defaults: string[], untrusted: string[], caller: NodeJS.ProcessEnv): EnvResult {
  const out = new Map<string, string>();
  for (const kv of defaults) {
    const eq = kv.indexOf('=');
    if (eq <= 0) continue; // Occlum ignores entries without a key
    out.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  const missing: string[] = [];
  for (const name of untrusted) {
    const v = caller[name];
    if (v === undefined) missing.push(name);
    else out.set(name, v);
  }
  return { env: [...out], missing };
}

/** Where Occlum's glibc (and `bom copy`, for the host glibc standing in for it) keeps libraries. */
export const OCCLUM_GLIBC_LIB = '/opt/occlum/glibc/lib';

/**
 * Occlum's glibc loader finds its libraries in /opt/occlum/glibc/lib by its built-in path; the
 * host's loader standing in for it is told the same dir through LD_LIBRARY_PATH (after any the
 * program's own environment sets).
 */
export function withOcclumGlibcPath(env: [string, string][]): [string, string][] {
  const i = env.findIndex(([k]) => k === 'LD_LIBRARY_PATH');
  if (i === -1) return [...env, ['LD_LIBRARY_PATH', OCCLUM_GLIBC_LIB]];
  const cur = env[i]![1];
  if (cur.split(':').includes(OCCLUM_GLIBC_LIB)) return env;
  const out = [...env];
  out[i] = ['LD_LIBRARY_PATH', cur ? `${cur}:${OCCLUM_GLIBC_LIB}` : OCCLUM_GLIBC_LIB];
  return out;
}
