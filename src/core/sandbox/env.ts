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
