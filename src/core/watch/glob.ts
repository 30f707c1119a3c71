// Source globs of the settings file (`src/**/*.c`). chokidar 4 dropped glob support, so a pattern
// is split into a static base directory (what gets watched) and a matcher for the paths below it.
// Supported: `*` and `?` within one segment, `**` across segments, `[abc]`/`[!a-z]`, `{a,b}`.
import { dirname, isAbsolute, resolve, sep } from 'node:path';

export interface SourceGlob {
  pattern: string;
  /** Absolute directory with no glob characters in it: the watch root of this pattern. */
  base: string;
  /** Tests an absolute path. */
  matches(path: string): boolean;
  /**
   * Path segments below `base` that a match has at most (Infinity with `**`): directories deeper
   * than `depth - 1` cannot hold a match, so they are neither walked nor watched.
   */
  depth: number;
}

const GLOB_CHARS = /[*?[\]{}]/;

export function hasGlobChars(segment: string): boolean {
  return GLOB_CHARS.test(segment);
}

/** Compiles a pattern relative to `root` (absolute patterns are kept). Throws on a malformed one. */
export function compileGlob(pattern: string, root: string): SourceGlob {
  const absolute = isAbsolute(pattern) ? pattern : resolve(root, pattern);
  const segments = absolute.split(sep).filter((s, i) => s !== '' || i === 0);
  const baseSegs: string[] = [];
  let i = 0;
  for (; i < segments.length - 1; i++) {
    if (hasGlobChars(segments[i]!)) break;
    baseSegs.push(segments[i]!);
  }
  const base = baseSegs.join(sep) || sep;
  const rest = segments.slice(i);
  let source = '^' + escapeRegex(base === sep ? '' : base);
  rest.forEach((seg, n) => {
    if (seg === '**') {
      // `a/**/b` matches a/b, a/x/b, a/x/y/b; a trailing `**` matches everything below.
      source += n === rest.length - 1 ? '(?:/.*)?' : '(?:/[^/]+)*';
    } else {
      source += '/' + segmentRegex(seg, pattern);
    }
  });
  const re = new RegExp(source + '$');
  const depth = rest.includes('**') ? Infinity : rest.length;
  return { pattern, base, matches: (p) => re.test(p), depth };
}

function segmentRegex(seg: string, pattern: string): string {
  let out = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end < 0) throw new Error(`glob "${pattern}": "[" without a closing "]"`);
      let body = seg.slice(i + 1, end);
      if (body.startsWith('!')) body = '^' + body.slice(1);
      out += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '{') {
      const end = seg.indexOf('}', i);
      if (end < 0) throw new Error(`glob "${pattern}": "{" without a closing "}"`);
      const alts = seg
        .slice(i + 1, end)
        .split(',')
        .map((a) => segmentRegex(a, pattern));
      out += `(?:${alts.join('|')})`;
      i = end;
    } else if (c === ']' || c === '}') {
      throw new Error(`glob "${pattern}": unexpected "${c}"`);
    } else out += escapeRegex(c);
  }
  return out;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** One exact file (a bom's source): no pattern characters are interpreted. */
export function exactFile(path: string): SourceGlob {
  return { pattern: path, base: dirname(path), matches: (p) => p === path, depth: 1 };
}

/** A directory and everything below it (a bom's `dirs` entry). */
export function wholeTree(dir: string): SourceGlob {
  const prefix = dir.endsWith(sep) ? dir : dir + sep;
  return { pattern: `${prefix}**`, base: dir, matches: (p) => p === dir || p.startsWith(prefix), depth: Infinity };
}
