// What an exit status means, following Occlum's rules (specs/occlum-cli-config.md 1.3.1, 4.2):
// `occlum run` folds a normal exit to `code & 0x7f`, reports launch failures as 127, boot
// failures as 1 and a signal n as 128+n; `occlum exec` exits 1 for any failure and prints the
// raw wait status as `Error: <status>` on stderr.

export type ExitKind = 'run' | 'exec' | 'process';

export interface ExitExplanation {
  status: number;
  ok: boolean;
  /** Short phrase for a banner: "exited normally", "killed by SIGSEGV (11)", … */
  summary: string;
  /** One or two sentences: what it means and what to look at. */
  detail: string;
  signal?: { number: number; name: string };
}

const SIGNALS: Record<number, string> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  3: 'SIGQUIT',
  4: 'SIGILL',
  5: 'SIGTRAP',
  6: 'SIGABRT',
  7: 'SIGBUS',
  8: 'SIGFPE',
  9: 'SIGKILL',
  10: 'SIGUSR1',
  11: 'SIGSEGV',
  12: 'SIGUSR2',
  13: 'SIGPIPE',
  14: 'SIGALRM',
  15: 'SIGTERM',
  16: 'SIGSTKFLT',
  17: 'SIGCHLD',
  18: 'SIGCONT',
  19: 'SIGSTOP',
  20: 'SIGTSTP',
  21: 'SIGTTIN',
  22: 'SIGTTOU',
  23: 'SIGURG',
  24: 'SIGXCPU',
  25: 'SIGXFSZ',
  26: 'SIGVTALRM',
  27: 'SIGPROF',
  28: 'SIGWINCH',
  29: 'SIGIO',
  30: 'SIGPWR',
  31: 'SIGSYS',
};

export function signalName(n: number): string {
  if (SIGNALS[n]) return SIGNALS[n];
  if (n >= 34 && n <= 64) return n === 34 ? 'SIGRTMIN' : `SIGRTMIN+${n - 34}`;
  return `signal ${n}`;
}

/** Extra hints for the signals Occlum users meet most. */
const SIGNAL_HINTS: Record<number, string> = {
  4: 'Under Occlum this is typically a panic inside the enclave during boot (e.g. a config that fails to load); the Logs pane shows the LibOS error.',
  6: 'The program aborted (assertion, abort(), or an uncaught C++ exception).',
  9: 'Killed outright: stopped by the user or the studio, or out of memory (check resource_limits.user_space_size).',
  11: 'Invalid memory access; inside Occlum also check that the heap and stack sizes in Occlum.json are large enough.',
  13: 'Wrote to a pipe or socket nobody reads.',
  15: 'Asked to terminate (stop, or the tab was closed).',
  31: 'A system call was refused by a seccomp filter (bad system call).',
};

function signalExplanation(status: number, n: number, how: string): ExitExplanation {
  const name = signalName(n);
  const hint = SIGNAL_HINTS[n] ? ` ${SIGNAL_HINTS[n]}` : '';
  return {
    status,
    ok: false,
    summary: `killed by ${name} (${n})`,
    detail: `${how} ended on signal ${n} (${name}); the status is 128 + ${n}.${hint}`,
    signal: { number: n, name },
  };
}

/**
 * Explains the status a run ended with. `run`: the status of `occlum run` (or the host backend's
 * equivalent); `exec`: the status of `occlum exec` (0 or 1); `process`: any other process.
 */
export function explainExit(status: number, kind: ExitKind = 'run', output?: string): ExitExplanation {
  if (!Number.isInteger(status) || status < 0) {
    return {
      status,
      ok: false,
      summary: `unknown status ${status}`,
      detail: 'The process ended without a usable exit status.',
    };
  }
  if (status === 0)
    return { status, ok: true, summary: 'exited normally (0)', detail: 'The program finished successfully.' };
  if (status > 128 && status <= 128 + 64) {
    return signalExplanation(
      status,
      status - 128,
      kind === 'process' ? 'The process' : 'The program (or occlum-run itself)',
    );
  }
  if (kind === 'exec' && status === 1) {
    return {
      status,
      ok: false,
      summary: 'failed (1)',
      detail:
        '`occlum exec` exits 1 for every failure: the program exited non-zero, was killed, or could not launch (the server is not running, or the path is not an entry point). The `Error: <status>` line above holds the raw wait status.',
    };
  }
  // Other exec statuses come from backends that pass the program's status through (the host
  // backend does): they read like `occlum run`'s.
  if (kind === 'process') {
    return {
      status,
      ok: false,
      summary: `exited with status ${status}`,
      detail: `The process exited with status ${status}.`,
    };
  }
  if (status === 127 && output !== undefined && !launchFailed(output)) {
    return {
      status,
      ok: false,
      summary: 'exited with status 127',
      detail:
        'The program ran and exited with 127 or 255 (e.g. `return -1`): Occlum keeps only the low 7 bits of an exit code. A launch failure would have printed why (e.g. `occlum_ecall_new_process returns ENOENT`).',
    };
  }
  if (status === 127) {
    return {
      status,
      ok: false,
      summary: 'could not launch (127)',
      detail:
        'Occlum could not create the process: the path is not absolute, contains "..", is not under an entry point of Occlum.json, does not exist, is not executable, or is not a position-independent ELF with its loader in the image. (A program exiting with 127 or 255 also gives 127, since Occlum keeps only the low 7 bits.)',
    };
  }
  if (status === 1) {
    return {
      status,
      ok: false,
      summary: 'failed (1)',
      detail:
        'Either the program exited with status 1, or Occlum failed to boot (enclave creation, config load, or the init process failed). Boot failures leave an error in the Logs pane.',
    };
  }
  if (status < 128) {
    return {
      status,
      ok: false,
      summary: `exited with status ${status}`,
      detail: `The program exited with status ${status} (Occlum keeps only the low 7 bits, so ${status} may also stand for ${status + 128}).`,
    };
  }
  return {
    status,
    ok: false,
    summary: `exited with status ${status}`,
    detail: `Status ${status} is outside what Occlum reports (0–127, 128+signal).`,
  };
}

// What Occlum (the PAL, the LibOS) and the host backend print when a process could not be created.
const LAUNCH_FAILURE = /occlum_ecall_new_process returns|failed to boot up LibOS|failed to execute a process|^bwrap: /m;

/** True when `output` (the end of what a run printed) says the process could not be created. */
export function launchFailed(output: string): boolean {
  return LAUNCH_FAILURE.test(output);
}

/**
 * `occlum exec` prints the raw wait status of a failed program as `Error: <n>` (256 = exit(1)).
 * Finds the last such line in the output and decodes it, or returns null.
 */
export function decodeExecError(
  output: string,
): { raw: number; exitCode?: number; signal?: number; text: string } | null {
  const matches = [...output.matchAll(/^Error: (-?\d+)\s*$/gm)];
  const last = matches.at(-1);
  if (!last) return null;
  const raw = Number(last[1]);
  if (raw === -1) return { raw, text: 'the exec client could not reach or start the server' };
  const sig = raw & 0x7f;
  if (sig === 0) {
    const code = (raw >> 8) & 0xff;
    return { raw, exitCode: code, text: `the program exited with status ${code}` };
  }
  return { raw, signal: sig, text: `the program was killed by ${signalName(sig)} (${sig})` };
}
