// Runs a program a backend prepared (prepareRun) for the dev loop: output and exit go to the
// loop's hooks; a launch the backend refused becomes Occlum's lines and exit status.
import { spawn, type ChildProcess } from 'node:child_process';
import { BackendError, type PreparedLaunch } from '../backend/types.ts';
import type { RunHooks, RunningProcess } from './types.ts';

export async function runPrepared(
  prepare: () => Promise<PreparedLaunch & { cwd?: string }>,
  hooks: RunHooks,
  children: Set<ChildProcess>,
  opts: { detached?: boolean } = {},
): Promise<RunningProcess> {
  let prep;
  try {
    prep = await prepare();
  } catch (err) {
    // Refused before launch (entry point, tampered build …): Occlum's lines, its exit status.
    const lines = err instanceof BackendError && err.occlumLines.length ? err.occlumLines : [(err as Error).message];
    hooks.onOutput(lines.join('\n') + '\n', 'stderr');
    const status = err instanceof BackendError ? err.exitCode : 127;
    hooks.onExit(status);
    return { pid: undefined, exited: Promise.resolve(status), launch: 'cold' };
  }
  // A sandbox prepared ahead is running already: the go starts the program in it.
  const child =
    prep.warm?.process ??
    spawn(prep.file, prep.args, {
      cwd: prep.cwd,
      env: prep.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: opts.detached,
    });
  if (prep.warm) child.stdin!.end(prep.warm.go);
  children.add(child);
  if (child.pid) prep.started?.(child.pid);
  child.stdout!.on('data', (c: Buffer) => hooks.onOutput(c.toString('utf8'), 'stdout'));
  child.stderr!.on('data', (c: Buffer) => hooks.onOutput(c.toString('utf8'), 'stderr'));
  const exited = new Promise<number>((resolve) => {
    let done = false;
    const end = (code: number | null, sig: NodeJS.Signals | null) => {
      if (done) return;
      done = true;
      children.delete(child);
      const { status, forks } = prep.finish(code, sig);
      hooks.onExit(status, forks);
      resolve(status);
    };
    child.on('error', () => end(127, null));
    child.on('close', end);
  });
  return { pid: child.pid, exited, launch: prep.warm ? 'prepared' : 'cold' };
}
