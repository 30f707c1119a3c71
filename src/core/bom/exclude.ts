// rsync's --exclude patterns, as copy_bom passes a bom's `excludes` to each directory copy:
// a pattern without "/" matches the last component anywhere; a trailing "/" matches directories
// only; a leading "/" anchors at the top of the copy; a pattern with an inner "/" or "**" matches
// the end of the path on a component boundary. Wildcards: *, **, ?, [...]. As rsync reads an
// --exclude, a pattern starting with "- " or "+ " is an exclude or include rule of the rest (the
// first rule that matches decides) and a lone "!" clears the rules before it.
import { enableLinearFallback } from '../logs/user-regex.ts';

export interface Exclude {
  test(name: string, isDir: boolean): boolean;
}

function globToRegex(glob: string): string {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end === -1) re += '\\[';
      else {
        const body = glob
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) {
      re += glob[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return re;
}

/**
 * Throws an Error saying what is wrong with a pattern that does not compile (e.g. `[z-a]`). The
 * regexps may meet hostile patterns (`**a**a**a…b` backtracks exponentially on a deep path of
 * "a"s): V8 switches them to its linear engine when they backtrack too much.
 */
export function compileExcludes(patterns: string[]): Exclude {
  enableLinearFallback();
  const cleared = patterns.lastIndexOf('!');
  const rules = patterns.slice(cleared + 1).map((given) => {
    const include = given.startsWith('+ ');
    const p = include || given.startsWith('- ') ? given.slice(2) : given;
    const dirOnly = p.endsWith('/');
    const body = dirOnly ? p.replace(/\/+$/, '') : p;
    const anchored = body.startsWith('/');
    const core = anchored ? body.slice(1) : body;
    const whole = anchored || core.includes('/') || core.includes('**');
    let re: RegExp;
    try {
      re = new RegExp(
        anchored ? `^${globToRegex(core)}$` : whole ? `(^|/)${globToRegex(core)}$` : `^${globToRegex(core)}$`,
      );
    } catch (err) {
      throw new Error(
        `exclude pattern "${p}" is not a valid rsync pattern ` +
          `(${(err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '')}); fix its [...] class`,
        { cause: err },
      );
    }
    return { include, dirOnly, whole, re };
  });
  return {
    /** `name` is the path relative to the top of the copy ("dir/sub/x" for a copy of "dir"). */
    test(name, isDir) {
      const last = name.slice(name.lastIndexOf('/') + 1);
      const first = rules.find((r) => (!r.dirOnly || isDir) && r.re.test(r.whole ? name : last));
      return first !== undefined && !first.include;
    },
  };
}
