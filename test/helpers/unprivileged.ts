// Running the built CLI as an unprivileged user (nobody), from tests that run as root.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, chownSync } from 'node:fs';
import { dirname } from 'node:path';
import { CLI } from './paths.ts';
import { runCli } from './cli.ts';

/** setpriv arguments that switch to nobody. */
export const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];

/** Why a test as nobody cannot run here, or false. */
export function unprivilegedSkip(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to switch to nobody';
  const probe = spawnSync('setpriv', [
    ...NOBODY,
    process.execPath,
    '-e',
    `require('fs').accessSync(${JSON.stringify(CLI)})`,
  ]);
  if (probe.status !== 0)
    return 'user nobody cannot run the CLI from this checkout (setpriv missing or the path is not readable)';
  const userns = spawnSync('setpriv', [...NOBODY, 'unshare', '--user', '--map-root-user', '--mount', 'true']);
  if (userns.status !== 0) return 'unprivileged user namespaces are disabled on this machine';
  return false;
}

/** Gives an instance made by makeInstance to nobody; returns a runner of the CLI as nobody in it. */
export function asNobodyIn(dir: string): (...args: string[]) => SpawnSyncReturns<string> {
  chmodSync(dirname(dir), 0o755);
  spawnSync('chown', ['-R', '65534:65534', dir]);
  chownSync(dirname(dir), 0, 0);
  runCli(['--version']); // builds dist/cli.js once, as root
  return (...args) =>
    spawnSync('setpriv', [...NOBODY, process.execPath, CLI, ...args], {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp' },
    });
}
