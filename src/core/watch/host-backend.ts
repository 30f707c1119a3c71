// The host backend (src/core/backend/host) seen through the dev loop's WatchBackend.
//
// The host build refuses to run while a program of the instance runs (Occlum must not build
// under a running instance), but a failed build must leave the running program alone. So the
// cheap checks the build would fail on (config validation, the runtime config, the loader
// preflight of every entry-point program) run here first, with the program still running; only
// when they pass does the queue stop it (beforeReplace) and the real build run.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { HostBackend } from '../backend/host/index.ts';
import { WarmSandbox } from '../backend/host/warm.ts';
import { descendants, isAlive, signal } from '../backend/host/procs.ts';
import { BackendError } from '../backend/types.ts';
import { checkConfig } from '../config/validate.ts';
import { runPrepared } from './run-prepared.ts';
import { formatDiagnostic } from '../config/format-diagnostic.ts';
import { preflightErrors, preflightImage } from '../elf/preflight.ts';
import { instancePaths } from '../instance/layout.ts';
import { guardNotice } from '../backend/host/verify-run.ts';
import { readRuntimeConfig, RuntimeConfigError } from '../sandbox/runtime-config.ts';
import type {
  BackendBuildOptions,
  BackendBuildResult,
  FailureCause,
  GuardNotice,
  PrepareMoment,
  RunCommand,
  RunHooks,
  RunningProcess,
  WatchBackend,
} from './types.ts';
import { readConfigText } from '../instance/safe-read.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class HostWatchBackend implements WatchBackend {
  readonly name = 'host';
  private readonly children = new Set<ChildProcess>();
  /**
   * Whether this backend made a good build: only then do the change sets it was given since
   * cover every change of image/ (a first build, or one after a failure of its own, is staged).
   */
  private builtOnce = false;
  private readonly unbuilt = new Set<string>();
  /** The rerun's sandbox, started while the build runs (docs/dev-loop.md, "Prepared sandbox"). */
  private warm: WarmSandbox | null = null;

  constructor(
    private readonly stopTimeoutMs = 3000,
    /**
     * When the next rerun's sandbox is started (docs/dev-loop.md, "Prepared sandbox"): once the
     * loop is idle (the last run printed or ended; the default, measured best), at a build start
     * (competes with the build), or never (every launch cold).
     */
    readonly prepareAt: PrepareMoment | 'never' = 'idle',
  ) {}

  async build(opts: BackendBuildOptions): Promise<BackendBuildResult> {
    const pre = precheck(opts.instanceDir, opts.onOutput);
    if (pre) return { ok: false, cause: pre };
    await opts.beforeReplace();
    const host = new HostBackend(opts.instanceDir, {
      // Progress ticks (counts) would flood the record: they are shown live; phase messages are
      // what the record keeps.
      buildProgress: (p) => {
        if (!p.progress) opts.onOutput(p.message);
        else opts.onProgress?.({ stage: 'build', text: p.message, done: p.progress.done, total: p.progress.total });
      },
    });
    // Image paths changed since this backend's last good build: that build is updated in place.
    for (const c of opts.changes) if (c.area === 'image') this.unbuilt.add(imageRel(opts.instanceDir, c.path));
    const changed = this.builtOnce && !opts.force ? [...this.unbuilt] : undefined;
    let r;
    try {
      // Before its first good build, this backend does not know what changed since the last one
      // (another session's): image/ is compared with that build's manifest.
      r = await host.build({ force: opts.force, keepRun: opts.keepRun, changed, sinceLastBuild: !this.builtOnce });
    } catch (err) {
      const lines = err instanceof BackendError && err.occlumLines.length ? err.occlumLines : [(err as Error).message];
      for (const l of lines) opts.onOutput(l);
      return { ok: false, error: (err as Error).message };
    }
    for (const line of r.diagnostics ?? []) opts.onOutput(line);
    for (const w of r.warnings) opts.onOutput(`warning: ${w}`);
    if (!r.ok) {
      const shown = new Set(r.diagnostics);
      for (const e of r.errors) if (!shown.has(e)) opts.onOutput(`error: ${e}`);
      for (const p of r.problems) opts.onOutput(`${p.severity}: ${p.path}: ${p.occlum} (${p.fix})`);
      return { ok: false, error: r.errors[0] };
    }
    this.builtOnce = true;
    this.unbuilt.clear();
    // filesStaged counts directories too; re-packed means file content copied anew.
    const files = r.imageFiles ?? r.filesStaged;
    opts.onOutput(`Built the image: ${files} files, ${r.filesReused} reused, ${Math.round(r.ms)} ms`);
    return {
      ok: true,
      repacked: Math.max(0, files - r.filesReused),
      reused: r.filesReused,
      // The secure image's root MAC when the SEFS engine packed it; else the pinned config MAC,
      // which covers the image-layer manifest (docs/dev-loop.md).
      imageMac: r.rootMac ?? r.configMac,
    };
  }

  run(instanceDir: string, cmd: RunCommand, hooks: RunHooks): Promise<RunningProcess> {
    const warm = this.warm ?? undefined;
    this.warm = null;
    return runPrepared(
      () => new HostBackend(instanceDir, {}).prepareRun(cmd.path, cmd.args, { stdio: 'pipe', warm }),
      hooks,
      this.children,
    ).finally(() => warm?.dispose()); // a no-op once the run took it
  }

  guardNotice(instanceDir: string): GuardNotice | null {
    return guardNotice(instancePaths(instanceDir));
  }

  prepareRerun(_instanceDir?: string, when: PrepareMoment = this.prepareAt as PrepareMoment): void {
    if (when === this.prepareAt) this.startPrepared();
  }

  /** Starts the next rerun's sandbox unless one waits already. */
  protected startPrepared(): void {
    if (this.warm?.usable) return;
    void this.warm?.dispose();
    this.warm = WarmSandbox.start();
  }

  /** The pid of the sandbox prepared for the next rerun while it waits, else null. */
  get preparedPid(): number | null {
    return this.warm?.usable ? (this.warm.pid ?? null) : null;
  }

  async dropPrepared(): Promise<void> {
    const warm = this.warm;
    this.warm = null;
    await warm?.dispose();
  }

  /** Ends every program of the instance: our runs, a run started elsewhere, a start/exec server. */
  async stop(instanceDir: string): Promise<void> {
    const roots = [...this.children].map((c) => c.pid).filter((p): p is number => p !== undefined);
    const other = liveRunPid(instanceDir);
    if (other !== null && !roots.includes(other)) roots.push(other);
    if (roots.length > 0) {
      const tree = () => [...descendants(roots), ...roots].filter((p) => isAlive(p));
      signal(tree(), 'SIGTERM');
      const deadline = Date.now() + this.stopTimeoutMs;
      while (Date.now() < deadline && tree().length > 0) await sleep(10);
      signal(tree(), 'SIGKILL');
      const end = Date.now() + 2000;
      while (Date.now() < end && (tree().length > 0 || this.children.size > 0)) await sleep(10);
    }
    const host = new HostBackend(instanceDir, {});
    if ((await host.status()) === 'serving') await host.stop(this.stopTimeoutMs);
  }
}

/** A path under image/ relative to it. */
function imageRel(instanceDir: string, path: string): string {
  return relative(instancePaths(instanceDir).image, path);
}

/** The pid of a live `run` of the instance (its lock file), whoever started it. */
function liveRunPid(instanceDir: string): number | null {
  try {
    const rec = JSON.parse(readFileSync(join(instancePaths(instanceDir).run, 'host', 'run.json'), 'utf8')) as {
      pid: number;
      startTime?: string;
    };
    return isAlive(rec.pid, rec.startTime || undefined) ? rec.pid : null;
  } catch {
    return null;
  }
}

/**
 * The checks a host build fails on before it touches anything, run while the program still runs.
 * Returns the cause of the first failure (all of them are printed), or null when they pass.
 */
export function precheck(instanceDir: string, out: (line: string) => void): FailureCause | null {
  const p = instancePaths(instanceDir);
  let text: string;
  try {
    text = readConfigText(p.config, 'Occlum.json');
  } catch {
    return null; // the build reports a missing or unreadable config itself
  }
  const errors = checkConfig(text).diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    for (const d of errors) for (const line of formatDiagnostic('Occlum.json', d)) out(line);
    const d = errors[0]!;
    return {
      stage: 'config',
      message: `Occlum.json:${d.line}:${d.column}: ${d.message}`,
      ...(d.path.length > 0 ? { configPath: d.path } : {}),
      hint: d.fix ? d.fix.title : 'fix Occlum.json in the Config pane; the last good build is kept',
    };
  }
  let entryPoints: string[];
  try {
    entryPoints = readRuntimeConfig(text).entryPoints;
  } catch (err) {
    if (!(err instanceof RuntimeConfigError)) throw err;
    out(err.message);
    return { stage: 'config', message: err.message };
  }
  let problems;
  try {
    problems = preflightErrors(preflightImage(p.image, entryPoints));
  } catch {
    return null; // e.g. image/ missing: the build says it in its own words
  }
  if (problems.length === 0) return null;
  for (const pr of problems) out(`error: ${pr.path}: ${pr.occlum}: ${pr.explanation}; fix: ${pr.fix}`);
  const first = problems[0]!;
  return {
    stage: 'build',
    message: `${first.path} cannot run in Occlum: ${first.explanation}`,
    hint: first.fix,
    line: first.occlum,
    ...(first.code === 'missing' ? { configPath: ['entry_points'] } : {}),
  };
}
