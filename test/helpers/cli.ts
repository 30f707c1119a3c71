// Runs the built CLI as users do (node bin/occlum-studio.js …). Builds dist/cli.js once per test
// process when any source file is newer than it.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT } from './paths.ts';

let built = false;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    newest = Math.max(newest, st.isDirectory() ? newestMtime(p) : st.mtimeMs);
  }
  return newest;
}

export function ensureBuilt(): void {
  if (built) return;
  const out = join(ROOT, 'dist', 'cli.js');
  const stale =
    !existsSync(out) ||
    statSync(out).mtimeMs < Math.max(newestMtime(join(ROOT, 'src')), newestMtime(join(ROOT, 'views')));
  if (stale) {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-js.mjs')], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('building dist/cli.js failed');
  }
  built = true;
}

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `occlum-studio <args>` synchronously and returns its exit status and output. */
export function runCli(args: string[], opts: SpawnSyncOptions = {}): CliResult {
  ensureBuilt();
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    ...opts,
    env: { ...process.env, NO_COLOR: '1', ...(opts.env ?? {}) },
  });
  return { status: r.status ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}
