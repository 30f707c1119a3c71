// Environment variables in bom paths, as copy_bom expands them (shellexpand 2.1's `env`): $NAME
// (a run of letters, digits and "_", a digit first too), ${NAME}, ${NAME:-default} (the default
// only when NAME is unset: a set, empty NAME gives ""), and "$$" for a literal "$"; a "$" before
// anything else stays. copy_bom keeps a path with an unset variable as written and fails later on
// a path that does not exist; here it is an error naming the variable.

export type Env = Record<string, string | undefined>;

export type Expanded = { ok: true; value: string } | { ok: false; missing: string[] };

/** shellexpand's is_valid_var_name_char: char::is_alphanumeric() or "_". */
const NAME_CHAR = /[\p{Alphabetic}\p{N}_]/u;

export function expandEnv(text: string, env: Env): Expanded {
  const missing: string[] = [];
  let out = '';
  let i = 0;
  for (;;) {
    const dollar = text.indexOf('$', i);
    if (dollar === -1) break;
    out += text.slice(i, dollar);
    const next = text.slice(dollar + 1).match(/^./su)?.[0];
    if (next === '{') {
      const close = text.indexOf('}', dollar);
      if (close === -1) {
        out += '${';
        i = dollar + 2;
        continue;
      }
      // "${:-x}" has no name: its ":-" is part of the name "" (never set).
      const split = text.slice(dollar, close).indexOf(':-');
      const hasDefault = split > 2;
      const name = text.slice(dollar + 2, hasDefault ? dollar + split : close);
      const value = env[name];
      if (value !== undefined) out += value;
      else if (hasDefault) out += text.slice(dollar + split + 2, close);
      else missing.push(name);
      i = close + 1;
    } else if (next !== undefined && NAME_CHAR.test(next)) {
      let end = dollar + 1;
      for (const c of text.slice(dollar + 1)) {
        if (!NAME_CHAR.test(c)) break;
        end += c.length;
      }
      const name = text.slice(dollar + 1, end);
      const value = env[name];
      if (value !== undefined) out += value;
      else missing.push(name);
      i = end;
    } else {
      out += '$';
      i = dollar + (next === '$' ? 2 : 1);
    }
  }
  out += text.slice(i);
  return missing.length > 0 ? { ok: false, missing } : { ok: true, value: out };
}
