// Command lines the caller runs itself (under node-pty for the Run pane, or with the whole
// terminal for gdb). PreparedLaunch has no working directory, and the `occlum` script must run in
// the instance directory, so the launch goes through bash (which Occlum itself requires):
// `bash -c 'cd -- "$1" && shift && exec "$@"' occlum-studio <dir> occlum <subcommand> …`.
// `cwd` is set too, for callers that honour it.
import type { PreparedLaunch, ProcessExit } from '../types.ts';

export interface OcclumLaunch extends PreparedLaunch {
  cwd: string;
}

export const CD_AND_EXEC = 'cd -- "$1" || exit 1; shift; exec "$@"';

export function launchInDir(
  dir: string,
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  finish: (code: number | null, signal: NodeJS.Signals | number | null) => ProcessExit,
): OcclumLaunch {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  clean.PWD = dir;
  return { file: 'bash', args: ['-c', CD_AND_EXEC, 'occlum-studio', dir, bin, ...args], env: clean, cwd: dir, finish };
}
