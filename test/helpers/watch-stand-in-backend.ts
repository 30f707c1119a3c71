// TEST DOUBLE for the dev-loop tests: stands in for the host backend (src/core/backend) while it
// does not exist in this checkout. It does real work on real files: a "build" copies image/ into
// build/stand-in/image atomically (temp dir + rename, so a failed build keeps the last good copy)
// and counts files re-copied vs unchanged; "run" spawns the copied program as a real process.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type {
  BackendBuildOptions,
  BackendBuildResult,
  ChangeEntry,
  RunCommand,
  RunHooks,
  RunningProcess,
  WatchBackend,
} from '../../src/core/watch/types.ts';

export interface StandInBuild {
  changes: ChangeEntry[];
  startedAt: number;
  endedAt: number;
  ok: boolean;
  /** Size of every file copied by this build, by path relative to image/. */
  sizes: Map<string, number>;
}

export class StandInBackend implements WatchBackend {
  readonly name = 'stand-in (test double)';
  readonly builds: StandInBuild[] = [];
  buildDelayMs = 0;
  /** When set, the next build prints these lines and fails. */
  failNext: string[] | null = null;
  stops = 0;
  private readonly procs = new Set<ChildProcess>();

  constructor(readonly instanceDir: string) {}

  get snapshot(): string {
    return join(this.instanceDir, 'build', 'stand-in', 'image');
  }

  async build(opts: BackendBuildOptions): Promise<BackendBuildResult> {
    const startedAt = Date.now();
    opts.onOutput('Building new image...');
    if (this.buildDelayMs > 0) await new Promise((r) => setTimeout(r, this.buildDelayMs));
    const fail = this.failNext;
    this.failNext = null;
    if (fail) {
      for (const l of fail) opts.onOutput(l);
      this.builds.push({ changes: opts.changes, startedAt, endedAt: Date.now(), ok: false, sizes: new Map() });
      return { ok: false };
    }
    await opts.beforeReplace();
    const image = join(this.instanceDir, 'image');
    const tmp = `${this.snapshot}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(join(this.instanceDir, 'build', 'stand-in'), { recursive: true });
    cpSync(image, tmp, { recursive: true, verbatimSymlinks: true });
    const before = existsSync(this.snapshot) ? listTree(this.snapshot) : new Map<string, string>();
    const after = listTree(tmp);
    let repacked = 0;
    let reused = 0;
    for (const [rel, digest] of after) {
      if (before.get(rel) === digest) reused++;
      else repacked++;
    }
    rmSync(this.snapshot, { recursive: true, force: true });
    renameSync(tmp, this.snapshot);
    const sizes = new Map<string, number>();
    for (const rel of after.keys()) sizes.set(rel, statSync(join(this.snapshot, rel)).size);
    const mac = createHash('sha256');
    for (const [rel, digest] of [...after].sort()) mac.update(`${rel}\0${digest}\n`);
    const hex = mac.digest('hex').slice(0, 32);
    opts.onOutput('Generate the SEFS image successfully');
    this.builds.push({ changes: opts.changes, startedAt, endedAt: Date.now(), ok: true, sizes });
    return { ok: true, repacked, reused, imageMac: hex.match(/../g)!.join('-') };
  }

  async stop(): Promise<void> {
    this.stops++;
    const waits = [...this.procs].map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          p.once('exit', () => resolve());
          p.kill('SIGTERM');
        }),
    );
    await Promise.all(waits);
  }

  async run(_dir: string, cmd: RunCommand, hooks: RunHooks): Promise<RunningProcess> {
    const child = spawn(join(this.snapshot, cmd.path), cmd.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.add(child);
    child.stdout!.on('data', (c: Buffer) => hooks.onOutput(c.toString(), 'stdout'));
    child.stderr!.on('data', (c: Buffer) => hooks.onOutput(c.toString(), 'stderr'));
    const exited = new Promise<number>((resolve) => {
      child.on('error', () => resolve(127));
      child.on('exit', (code, sig) => {
        this.procs.delete(child);
        const status = code ?? 128 + (sig === 'SIGTERM' ? 15 : sig === 'SIGKILL' ? 9 : 0);
        hooks.onExit(status);
        resolve(status);
      });
    });
    return { pid: child.pid, exited };
  }
}

/** Every file and directory below root: relative path → content digest ('dir' for directories). */
export function listTree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, d.name);
      const rel = relative(root, p);
      if (d.isDirectory()) {
        out.set(rel, 'dir');
        walk(p);
      } else if (d.isFile()) out.set(rel, createHash('sha1').update(readFileSync(p)).digest('hex'));
      else out.set(rel, 'other');
    }
  };
  walk(root);
  return out;
}
