// Filter model for log records and its compiled predicate. Text matching is smart-case
// (case-insensitive unless the pattern has an upper-case letter); `inverse` inverts only the
// text/regex match, like `grep -v`, while the level/field filters still apply.
import { LEVEL_RANK, type Level, type LogRecord } from './types.ts';
import { compileUserRegex, FilterError, type UserRegex } from './user-regex.ts';

export { FilterError };

export interface LogFilter {
  /** Least severe level shown: 'trace' shows every level, 'error' only errors. */
  minLevel: Level;
  /** Exact-level toggles: levels listed here are hidden even if within minLevel. */
  hiddenLevels: Level[];
  thread: number | null;
  /** Syscall name (case-insensitive, without '·' padding). */
  syscall: string | null;
  /** LibOS module or env_logger target (prefix match on `::` paths). */
  module: string | null;
  /** Substring, or a regular expression when `regex` is set; empty = no text filter. */
  text: string;
  regex: boolean;
  inverse: boolean;
  /** Show records that are not Occlum's (the program's own stderr, build output). */
  includeRaw: boolean;
}

export const DEFAULT_FILTER: LogFilter = {
  minLevel: 'trace',
  hiddenLevels: [],
  thread: null,
  syscall: null,
  module: null,
  text: '',
  regex: false,
  inverse: false,
  includeRaw: true,
};

export type TextMatcher = (s: string) => boolean;

/** Compiles a search pattern; throws FilterError with a readable message for a bad regex. */
export function compileText(pattern: string, regex: boolean): TextMatcher | null {
  if (pattern === '') return null;
  const caseSensitive = pattern !== pattern.toLowerCase();
  if (regex) {
    return compileUserRegex(pattern).test;
  }
  if (caseSensitive) return (s) => s.includes(pattern);
  // A case-insensitive regex of the escaped text: no lower-cased copy of every record.
  const re = new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
  return (s) => re.test(s);
}

/** The pattern a view highlights stays the same across the lines of a frame. */
let lastRanges: { pattern: string; re: UserRegex } | undefined;

/** Where the pattern matches in a line, for highlighting: [start, end) pairs. */
export function matchRanges(line: string, pattern: string, regex: boolean): [number, number][] {
  if (pattern === '') return [];
  if (regex) {
    try {
      if (lastRanges?.pattern !== pattern) lastRanges = { pattern, re: compileUserRegex(pattern) };
      return lastRanges.re.ranges(line, 201);
    } catch {
      return [];
    }
  }
  const re = new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), pattern !== pattern.toLowerCase() ? 'g' : 'gi');
  const out: [number, number][] = [];
  for (let m = re.exec(line); m; m = re.exec(line)) {
    out.push([m.index, m.index + m[0].length]);
    if (out.length > 200) break;
  }
  return out;
}

export type RecordPredicate = (r: LogRecord) => boolean;

export function compileFilter(f: LogFilter): RecordPredicate {
  const maxRank = LEVEL_RANK[f.minLevel];
  const hidden = new Set(f.hiddenLevels);
  const text = compileText(f.text, f.regex);
  const syscall = f.syscall?.toLowerCase() ?? null;
  const mod = f.module ?? null;
  const { thread, inverse, includeRaw } = f;
  return (r) => {
    if (r.level === null) {
      if (!includeRaw) return false;
    } else if (LEVEL_RANK[r.level] > maxRank || hidden.has(r.level)) return false;
    if (thread !== null && r.thread !== thread) return false;
    if (syscall !== null && r.syscall?.toLowerCase() !== syscall) return false;
    if (mod !== null && r.module !== mod && !r.module?.startsWith(mod + '::')) return false;
    if (text !== null && text(r.text) === inverse) return false;
    return true;
  };
}
