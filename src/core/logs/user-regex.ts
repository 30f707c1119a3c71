// Regular expressions typed by users (logs --grep, the Logs pane's filter and search) run on every
// log line, and a backtracking engine takes exponential time on patterns like `(a+)+$`: one
// 35-character line never finished. V8 has a linear-time engine and can switch a regexp to it
// once it has backtracked too much; that keeps the fast engine for normal patterns and bounds
// the bad ones. The switch does not exist for case-insensitive regexps, so smart case matches a
// lower-cased line instead of using the `i` flag. Patterns the linear engine cannot run
// (backreferences, lookaround, large bounded repeats) run in a vm context with a time budget
// per line instead: slower (a watchdog per call), but a catastrophic one stops with a message.
import { setFlagsFromString } from 'node:v8';
import { createContext, Script } from 'node:vm';

/** Longest time one line may take with a pattern the linear engine cannot run. */
export const LINE_BUDGET_MS = 250;

let enabled = false;

/** Lets V8 switch any regexp created afterwards to its linear engine once it backtracks too much. */
export function enableLinearFallback(): void {
  if (enabled) return;
  // Read by V8 when a regexp is created; they change nothing else.
  setFlagsFromString('--enable-experimental-regexp-engine');
  setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
  enabled = true;
}

/** A pattern that does not compile, or a line that took longer than the budget. */
export class FilterError extends Error {}

export interface UserRegex {
  /** True when `line` matches. Throws FilterError when a line exceeds the time budget. */
  test(line: string): boolean;
  /** [start, end) of the non-empty matches in `line` (at most `max`); [] when over budget. */
  ranges(line: string, max: number): [number, number][];
}

/**
 * Compiles a user's pattern. Smart case: case-insensitive unless the pattern has an upper-case
 * letter. Throws FilterError for invalid syntax.
 */
export function compileUserRegex(pattern: string): UserRegex {
  enableLinearFallback();
  const fold = pattern === pattern.toLowerCase();
  let re: RegExp;
  let all: RegExp;
  try {
    re = new RegExp(pattern);
    all = new RegExp(pattern, 'g');
  } catch (err) {
    const why = (err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
    throw new FilterError(`invalid regular expression /${pattern}/: ${why}`);
  }
  let linear = true;
  try {
    // eslint-disable-next-line no-invalid-regexp -- V8's linear engine flag (--enable-experimental-regexp_engine)
    new RegExp(pattern, 'l');
  } catch {
    linear = false;
  }
  const subject = (line: string) => (fold ? line.toLowerCase() : line);
  if (linear)
    return { test: (line) => re.test(subject(line)), ranges: (line, max) => ranges(all, line, subject(line), max) };
  // Budgeted: the regexps run inside a context whose calls the vm interrupts after the budget.
  const ctx = createContext({ re, all, s: '', max: 0, ranges });
  const testScript = new Script('re.test(s)');
  const rangesScript = new Script('ranges(all, s, s, max)');
  const run = <T>(script: Script, line: string): T => {
    ctx.s = subject(line);
    try {
      return script.runInContext(ctx, { timeout: LINE_BUDGET_MS }) as T;
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw err;
      throw new FilterError(
        `regular expression /${pattern}/ took more than ${LINE_BUDGET_MS} ms on one log line (it backtracks ` +
          'exponentially); simplify it, e.g. (a+)+ → a+',
      );
    }
  };
  return {
    test: (line) => run<boolean>(testScript, line),
    ranges(line, max) {
      ctx.max = max;
      try {
        return run<[number, number][]>(rangesScript, line);
      } catch (err) {
        if (err instanceof FilterError) return [];
        throw err;
      }
    },
  };
}

function ranges(re: RegExp, line: string, subject: string, max: number): [number, number][] {
  // Lower-casing keeps offsets for all but a few letters (İ); then no highlight rather than a wrong one.
  if (subject.length !== line.length) return [];
  const out: [number, number][] = [];
  re.lastIndex = 0;
  for (let m = re.exec(subject); m; m = re.exec(subject)) {
    if (m[0].length === 0) {
      re.lastIndex++;
      continue;
    }
    out.push([m.index, m.index + m[0].length]);
    if (out.length >= max) break;
  }
  return out;
}
