// A run's sandbox started ahead of its program (docs/dev-loop.md, "Prepared sandbox"): the dev
// loop starts one once it is idle (the last rerun printed), so that the launch after the next
// build costs little more than bwrap's own start; WarmTerminal is the same in a pty, for the Run
// pane. What no build can change is made ahead (the process, in the run's cgroups; as root, the
// idmap user namespace); everything the build decides (the layers, the config's mounts and limits,
// the program) comes with the go, once the build is in place. Only the holder of its go channel
// (this process) can start it, and it ends when that pipe closes, so a studio that dies leaves
// nothing behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, write } from 'node:fs';
import { promisify } from 'node:util';
import { callJson } from '../../securefs/native.ts';
import { PendingTerminal, ptyUnavailable, type PtySize } from '../../pty/session.ts';
import { RunCgroup, runCgroupName } from '../../sandbox/cgroup.ts';
import { sandboxIdentity, stagerPath } from '../../sandbox/identity.ts';
import { warmLaunch } from '../../sandbox/launch.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const writeAsync = promisify(write);

export class WarmSandbox {
  private taken = false;
  private readonly ended: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    /** The run's cgroup, which the process joined before anything else; limits are set at the go. */
    readonly cgroup: RunCgroup,
  ) {
    this.ended = new Promise((resolve) => child.once('exit', () => resolve()));
    // Its stdin is the go channel: writing to one that died (killed, or failed to set up) is EPIPE.
    child.stdin!.on('error', () => {});
    child.on('error', () => {});
  }

  /** Starts one, or returns null where the sandbox cannot be prepared (no stager binary). */
  static start(): WarmSandbox | null {
    const cgroup = RunCgroup.create(runCgroupName());
    const launch = warmLaunch(sandboxIdentity(), stagerPath(), cgroup.procsFiles());
    if (!launch) {
      cgroup.remove();
      return null;
    }
    const child = spawn(launch.file, launch.args, { env: launch.env, stdio: ['pipe', 'pipe', 'pipe'] });
    return new WarmSandbox(child, cgroup);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Still waiting for its go (not taken, not ended). */
  get usable(): boolean {
    return (
      !this.taken && this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  /** Hands the process over to run one program: the caller writes the go and owns its end. */
  take(): ChildProcess {
    if (!this.usable) throw new Error('the prepared sandbox is no longer usable');
    this.taken = true;
    return this.child;
  }

  /**
   * Ends it unused: end of file on its stdin ends the stager before any go; a kill if it does
   * not go at once (or is stopped). Then its cgroup is removed.
   */
  async dispose(): Promise<void> {
    if (this.taken) return;
    this.taken = true;
    // Whatever it said before its go (e.g. a set-up failure) is not a program's output.
    this.child.stdout!.resume();
    this.child.stderr!.resume();
    this.child.stdin!.end();
    const quit = await Promise.race([this.ended.then(() => true), sleep(1000).then(() => false)]);
    if (!quit) {
      this.child.kill('SIGKILL');
      await this.ended;
    }
    this.cgroup.remove();
  }
}

/**
 * A run's sandbox prepared in its own pseudo-terminal, for the Run pane (docs/run-pane.md): the
 * stager waits in the pty that becomes the program's terminal, and its go comes on a pipe of its
 * own (`--wait-on FD`), not through the terminal. The pipe's read end reaches only the stager
 * (inherited by this one pty spawn, closed here right after); its write end is this process's
 * alone, so only the studio can start it, and its death (end of file) ends the stager.
 */
export class WarmTerminal {
  private taken = false;
  private goFd: number | null;

  private constructor(
    readonly terminal: PendingTerminal,
    goFd: number,
    readonly cgroup: RunCgroup,
  ) {
    this.goFd = goFd;
  }

  /** Starts one in a terminal of `size`, or says why it cannot be prepared here. */
  static start(size: PtySize): WarmTerminal | string {
    const stager = stagerPath();
    if (!stager) return 'no sandbox stager (npm run build:native)';
    const noPty = ptyUnavailable();
    if (noPty) return 'node-pty cannot load';
    let fds: [number, number];
    try {
      fds = callJson<[number, number]>('goPipe', []);
    } catch (err) {
      return `no go pipe: ${(err as Error).message}`;
    }
    const [readEnd, writeEnd] = fds;
    const cgroup = RunCgroup.create(runCgroupName());
    try {
      const launch = warmLaunch(sandboxIdentity(), stager, cgroup.procsFiles(), readEnd)!;
      // The read end is inheritable: this spawn (fork and exec in this same synchronous step) is
      // the only one that gets it.
      return new WarmTerminal(new PendingTerminal(launch, size), writeEnd, cgroup);
    } catch (err) {
      closeSync(writeEnd);
      cgroup.remove();
      return `cannot start it: ${(err as Error).message}`;
    } finally {
      closeSync(readEnd);
    }
  }

  get pid(): number {
    return this.terminal.pid;
  }

  /** Still waiting for its go (not taken, not ended). */
  get usable(): boolean {
    return !this.taken && this.terminal.alive;
  }

  /** Why it cannot be used (it ended before its go: what it printed), or null while it can. */
  get unusable(): string | null {
    if (this.taken) return 'was used already';
    if (this.terminal.alive) return null;
    const said = this.terminal.heldOutput.trim().split('\n').pop();
    return `ended before its go${said ? `: ${said}` : ''}`;
  }

  /**
   * Hands the terminal over to run one program: `send(go)` starts it (the caller shows the
   * terminal first, so no output is missed); `cancel()` ends it unused instead.
   */
  take(): { terminal: PendingTerminal; send(go: Buffer): Promise<void>; cancel(): void } {
    if (!this.usable) throw new Error('the prepared sandbox is no longer usable');
    this.taken = true;
    return {
      terminal: this.terminal,
      send: async (go) => {
        const fd = this.closeGo();
        if (fd === null) throw new Error('the go was already sent');
        try {
          // In the thread pool: a go larger than the pipe's buffer would block until the stager reads.
          for (let at = 0; at < go.length;) at += (await writeAsync(fd, go, at, go.length - at)).bytesWritten;
        } finally {
          closeSync(fd);
        }
      },
      cancel: () => {
        const fd = this.closeGo();
        if (fd !== null) closeSync(fd);
      },
    };
  }

  private closeGo(): number | null {
    const fd = this.goFd;
    this.goFd = null;
    return fd;
  }

  /** Ends it unused: end of file on its go pipe; a kill if it does not end at once. Then its cgroup goes. */
  async dispose(): Promise<void> {
    if (this.taken) return;
    this.taken = true;
    const fd = this.closeGo();
    if (fd !== null) closeSync(fd);
    const quit = await Promise.race([this.terminal.exited.then(() => true), sleep(1000).then(() => false)]);
    if (!quit) {
      this.terminal.kill('SIGKILL');
      await this.terminal.exited;
    }
    this.cgroup.remove();
  }
}
