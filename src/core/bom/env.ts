// Environment variables in bom paths, as copy_bom expands them (shellexpand::env): $NAME,
// ${NAME} and ${NAME:-default}. copy_bom keeps an unset variable's text and fails later on a
// path that does not exist; here it is an error naming the variable.

export type Env = Record<string, string | undefined>;

const VAR = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

export type Expanded = { ok: true; value: string } | { ok: false; missing: string[] };

export function expandEnv(text: string, env: Env): Expanded {
  const missing: string[] = [];
  const value = text.replace(
    VAR,
    (_m, braced: string | undefined, def: string | undefined, bare: string | undefined) => {
      const name = (braced ?? bare)!;
      const v = env[name];
      if (v !== undefined && !(def !== undefined && v === '')) return v;
      if (def !== undefined) return def;
      missing.push(name);
      return '';
    },
  );
  return missing.length > 0 ? { ok: false, missing } : { ok: true, value };
}
