// A run's sandbox started ahead of its program (docs/dev-loop.md, "Prepared sandbox"): the dev
// loop starts one while a build runs, so that the launch after the build costs little more than
// bwrap's own start. What no build can change is made ahead (the process, in the run's cgroups;
// as root, the private mount namespace and the idmap user namespace); everything the build
// decides (the layers, the config's mounts and limits, the program) comes with the go, once the
// build is in place. Only the holder of its stdin (this process) can start it, and it ends when
// that pipe closes, so a studio that dies leaves nothing behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { RunCgroup, runCgroupName } from '../../sandbox/cgroup.ts';
import { sandboxIdentity, stagerPath } from '../../sandbox/identity.ts';
import { warmLaunch } from '../../sandbox/launch.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
