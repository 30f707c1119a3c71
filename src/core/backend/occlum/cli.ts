// Runs the `occlum` script the way it must be run: always with the instance directory as the
// working directory (the script has no -C option and takes `pwd` as the instance), PWD set to
// the same path (the script's pgrep checks compare against `pwd`), and a hard timeout so a
// wedged invocation cannot hang the studio.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

export interface OcclumCall {
  /** The `occlum` script. */
  bin: string;
  /** The instance directory (or, for `occlum new`, the directory the path is relative to). */
  cwd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Kill the call (SIGTERM, then SIGKILL) after this many ms; default 10 minutes (builds). */
  timeoutMs?: number;
  /**
   * 'pipe' captures output (default); 'inherit' hands the caller's terminal over; 'terminal'
   * inherits stdin/stdout but also captures stderr (copied through), where `occlum exec` prints
   * `Error: <status>`.
   */
  stdio?: 'pipe' | 'inherit' | 'terminal';
  onStdout?(chunk: Buffer): void;
  onStderr?(chunk: Buffer): void;
}

export interface OcclumCallResult {
  /** Exit status as a shell reports it: the code, or 128 + n when killed by signal n. */
  status: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

export function shellStatus(code: number | null, signal: NodeJS.Signals | number | null): number {
  if (code !== null) return code;
  if (typeof signal === 'number') return 128 + signal;
  if (signal) return 128 + (SIGNAL_NUMBERS[signal] ?? 0);
  return -1;
}

/** Environment for the script: the caller's, with PWD pinned to the instance directory. */
export function callEnv(cwd: string, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, PWD: cwd };
}

/** Starts the script and returns the child (for callers that keep streams open, e.g. `start`). */
export function spawnOcclum(call: OcclumCall, stdio: StdioOptions = ['ignore', 'pipe', 'pipe']): ChildProcess {
  return spawn(call.bin, call.args, { cwd: call.cwd, env: callEnv(call.cwd, call.env), stdio });
}

export function runOcclum(call: OcclumCall): Promise<OcclumCallResult> {
  return new Promise((resolve, reject) => {
    const inherit = call.stdio === 'inherit';
    const terminal = call.stdio === 'terminal';
    const child = spawnOcclum(
      call,
      inherit
        ? ['inherit', 'inherit', 'inherit']
        : terminal
          ? ['inherit', 'inherit', 'pipe']
          : ['ignore', 'pipe', 'pipe'],
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => {
      out.push(c);
      call.onStdout?.(c);
    });
    child.stderr?.on('data', (c: Buffer) => {
      err.push(c);
      if (terminal) process.stderr.write(c);
      call.onStderr?.(c);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    }, call.timeoutMs ?? 600_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // Resolve on 'exit' plus the end of both pipes, but no later than 500 ms after exit: a child
    // of the script (the exec server) may hold the pipes open for its whole life.
    let ended = inherit ? 2 : terminal ? 1 : 0;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let done = false;
    const finish = () => {
      if (done || !exited) return;
      done = true;
      clearTimeout(timer);
      // Do not keep the studio alive on pipes a background child inherited.
      if (ended < 2) {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }
      resolve({
        status: shellStatus(exited.code, exited.signal),
        code: exited.code,
        signal: exited.signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    };
    const onEnd = () => {
      ended++;
      if (ended >= 2) finish();
    };
    child.stdout?.on('end', onEnd);
    child.stderr?.on('end', onEnd);
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      if (ended >= 2) finish();
      else setTimeout(finish, 500).unref();
    });
  });
}
