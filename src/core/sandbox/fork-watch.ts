// Fork attempts of one run, known rather than guessed from its output (docs/security.md, "Fork
// attempts"). The fork shim, bwrap's command, installs the fork filter inside the sandbox with a
// seccomp user-notification listener and sends it to a socket this watch listens on; the
// addon's thread answers every attempt with ENOSYS and counts it (native/src/fork_watch.rs).
// The socket lives in a fresh 0700 directory outside every sandbox; its one connection is the
// stager's (made before the program exists), after which it is removed.
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { otherWriter } from '../instance/private-dir.ts';
import { callJson, nativeStatus } from '../securefs/native.ts';

/**
 * Fork attempts per command name (the kernel's comm: the program's file name, at most 15 bytes).
 * The program chooses its names: the first 8 are kept, attempts under later ones are `others`;
 * `processes` counts at most 1024 per name (native/src/fork_watch.rs).
 */
export interface ForkAttempts {
  total: number;
  byComm: { comm: string; count: number; processes: number }[];
  /** Attempts under names beyond the first 8 (absent when none). */
  others?: number;
}

interface Report extends ForkAttempts {
  connected: boolean;
}

export class ForkWatch {
  private constructor(
    private readonly id: string,
    private readonly dir: string,
    /** The socket path the stager connects to. */
    readonly socket: string,
  ) {}

  /** Starts one, or null where the addon cannot (then forks are denied without a count). */
  static open(): ForkWatch | null {
    if (!nativeStatus().ok) return null;
    // A TMPDIR another user can rename entries of would let them swap the socket's directory
    // (and race the recursive removal below): no count then, bwrap's filter denies forks alone.
    let tmp: string;
    try {
      tmp = realpathSync(tmpdir());
      if (otherWriter(tmp, false)) return null;
    } catch {
      return null;
    }
    const dir = mkdtempSync(join(tmp, 'occlum-studio-fork-'));
    const socket = join(dir, 's');
    try {
      return new ForkWatch(String(callJson<number>('forkWatchOpen', [socket])), dir, socket);
    } catch {
      rmSync(dir, { recursive: true, force: true });
      return null;
    }
  }

  private result: ForkAttempts | null | undefined;

  /**
   * Ends the watch (call once the run's processes are gone: every attempt was answered, hence
   * counted, before its process went on). Null when the shim never reported (the launch failed
   * before the program). Idempotent.
   */
  take(): ForkAttempts | null {
    if (this.result !== undefined) return this.result;
    let r: Report;
    try {
      r = callJson<Report>('forkWatchTake', [this.id]);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
    this.result = r.connected ? { total: r.total, byComm: r.byComm, ...(r.others ? { others: r.others } : {}) } : null;
    return this.result;
  }
}
