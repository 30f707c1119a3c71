// The hint for fork attempts the host sandbox counted (src/core/sandbox/fork-watch.ts): known
// whatever the program printed, so it replaces the output rule's guess (hints.ts). Names are
// the kernel's comm of each process, which the program chooses: callers print them sanitised.
import { basename } from 'node:path';
import type { ForkAttempts } from '../sandbox/fork-watch.ts';
import { FORK_OUTPUT_HINT, type LogHint } from './hints.ts';

/** The kernel keeps a task's name in 16 bytes (TASK_COMM_LEN), NUL included. */
const COMM_LEN = 15;

const times = (n: number) => (n === 1 ? 'once' : `${n} times`);

/** A comm as the user knows it: the run's program path when the name is its file name. */
function nameOf(comm: string, program: string): string {
  return Buffer.from(basename(program)).subarray(0, COMM_LEN).toString() === comm ? program : comm;
}

/** Attempts under names the watch did not keep (it keeps the first 8: the program picks them). */
const others = (forks: ForkAttempts) => (forks.others ? [`other names ${times(forks.others)}`] : []);

/** "sh 3 times" or "sh 2 times, make once" (for the runtime log). */
export function forkAttemptsText(forks: ForkAttempts): string {
  return [...forks.byComm.map((c) => `${c.comm} ${times(c.count)}`), ...others(forks)].join(', ');
}

/** The hint after a run whose processes tried fork(): who, how often, and what to do. */
export function forkAttemptHint(forks: ForkAttempts, program: string): LogHint {
  const named = forks.byComm.map((c) => `${nameOf(c.comm, program)} (${times(c.count)})`);
  const who =
    forks.byComm.length === 1 && !forks.others
      ? `${nameOf(forks.byComm[0]!.comm, program)} tried fork() ${times(forks.total)}`
      : `${[...named, ...(forks.others ? [`processes of other names (${times(forks.others)})`] : [])].join(', ')} tried fork()`;
  return {
    message: `${who}, which Occlum does not have (ENOSYS)`,
    configPath: null,
    suggestion: 'use posix_spawn or vfork; `--allow-fork` lets the host sandbox allow it to explore',
  };
}

/** Hints with a counted fork attempt first, and the output rule's fork guess dropped then. */
export function withForkHint(hints: LogHint[], forks: ForkAttempts | undefined, program: string): LogHint[] {
  if (!forks?.total) return hints;
  return [forkAttemptHint(forks, program), ...hints.filter((h) => h !== FORK_OUTPUT_HINT)];
}
