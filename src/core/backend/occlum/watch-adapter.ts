// The occlum backend seen through the dev loop's WatchBackend (src/core/watch/types.ts), so
// watch → build → rerun works on a real Occlum: the same cheap checks as the host adapter run
// first with the program still running (config, entry-point ELF preflight), then the queue
// stops the program and `occlum build` runs (with -f when keys changed). Runs go through
// `occlum run` in their own process group, so stopping ends the script, occlum-run and the app.
import type { ChildProcess } from 'node:child_process';
import { precheck } from '../../watch/host-backend.ts';
import { runPrepared } from '../../watch/run-prepared.ts';
import type {
  BackendBuildOptions,
  BackendBuildResult,
  RunCommand,
  RunHooks,
  RunningProcess,
  WatchBackend,
} from '../../watch/types.ts';
import { findRunProcesses, isAlive } from '../../detect/processes.ts';
import { BackendError } from '../types.ts';
import { OcclumBackend, STOP_CLI_WAIT_MS, type OcclumBackendOptions } from './backend.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

export class OcclumWatchBackend implements WatchBackend {
  readonly name = 'occlum';
  private readonly children = new Set<ChildProcess>();

  constructor(
    private readonly opts: OcclumBackendOptions,
    private readonly stopTimeoutMs = 3000,
  ) {}

  private backend(dir: string, events: ConstructorParameters<typeof OcclumBackend>[1] = {}): OcclumBackend {
    return new OcclumBackend(dir, events, this.opts);
  }

  async build(o: BackendBuildOptions): Promise<BackendBuildResult> {
    const pre = precheck(o.instanceDir, o.onOutput);
    if (pre) return { ok: false, cause: pre };
    await o.beforeReplace();
    const said = new Set<string>();
    const b = this.backend(o.instanceDir, {
      buildProgress: (p) => {
        said.add(p.message);
        o.onOutput(p.message);
      },
    });
    let r;
    try {
      r = await b.build({ force: o.force, keepRun: o.keepRun });
    } catch (err) {
      const lines = err instanceof BackendError && err.occlumLines.length ? err.occlumLines : [(err as Error).message];
      for (const l of lines) o.onOutput(l);
      return { ok: false, error: (err as Error).message };
    }
    for (const w of r.warnings) if (!said.has(`warning: ${w}`) && !said.has(`note: ${w}`)) o.onOutput(`warning: ${w}`);
    if (!r.ok) {
      for (const e of r.errors) o.onOutput(`error: ${e}`);
      return { ok: false, error: r.errors[0] };
    }
    return { ok: true, ...(r.rootMac ? { imageMac: r.rootMac } : {}) };
  }

  run(instanceDir: string, cmd: RunCommand, hooks: RunHooks): Promise<RunningProcess> {
    // Detached: stop() ends the whole process group of `occlum run`.
    return runPrepared(() => this.backend(instanceDir).prepareRun(cmd.path, cmd.args, {}), hooks, this.children, {
      detached: true,
    });
  }

  /** Ends our runs (their whole process groups), any other `occlum run` of the instance, and its server. */
  async stop(instanceDir: string): Promise<void> {
    const groups = [...this.children].map((c) => c.pid).filter((p): p is number => p !== undefined);
    const others = findRunProcesses(instanceDir).map((p) => p.pid);
    const alive = () =>
      [...groups, ...others, ...findRunProcesses(instanceDir).map((p) => p.pid)].filter((p) => isAlive(p));
    if (alive().length > 0) {
      for (const g of groups) killGroup(g, 'SIGTERM');
      for (const p of others) killGroup(p, 'SIGTERM');
      const deadline = Date.now() + this.stopTimeoutMs;
      while (Date.now() < deadline && alive().length > 0) await sleep(20);
      for (const p of alive()) killGroup(p, 'SIGKILL');
      const end = Date.now() + 2000;
      while (Date.now() < end && (alive().length > 0 || this.children.size > 0)) await sleep(20);
    }
    const b = this.backend(instanceDir);
    if ((await b.status()) === 'serving') await b.stop(STOP_CLI_WAIT_MS);
  }
}
