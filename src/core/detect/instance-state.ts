// What an Occlum instance is doing right now. `.__occlum_status` lies in known ways (spec 1.4):
// it stays `running` after a run that exited non-zero (set -e aborts the script before it
// writes `built`), says `built` while a server is up, and says `built` after a failed build that
// already wiped run/. The truth comes from the same process checks the CLI uses plus the
// run/mount/__ROOT marker the CLI's "not built" check looks at.
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { findInstanceProcesses } from './processes.ts';
import { MAX_SMALL_FILE_BYTES, readGeneratedText } from '../instance/safe-read.ts';
import { instancePaths } from '../instance/layout.ts';

/** `built-stale`: build/ exists but run/ is gone (a failed or interrupted build), so the CLI refuses to run. */
export type EffectiveStatus =
  'uninitialized' | 'initialized' | 'built' | 'built-stale' | 'running' | 'serving' | 'debugging';

export interface InstanceState {
  dir: string;
  /** Verbatim content of .__occlum_status (trimmed), null if absent. */
  statusFile: string | null;
  status: EffectiveStatus;
  /** Content of .sgx_mode (trimmed), null before the first build. */
  sgxMode: string | null;
  runPids: number[];
  serverPids: number[];
  /** Why status differs from the file, when it does. */
  correction?: string;
}

function readTrimmed(p: string): string | null {
  try {
    return readGeneratedText(p, basename(p), MAX_SMALL_FILE_BYTES).trim();
  } catch {
    return null;
  }
}

export function readSgxMode(dir: string): string | null {
  return readTrimmed(instancePaths(dir).sgxMode);
}

/** The CLI's own "built" test: run/mount/__ROOT exists (spec 1.2). */
export function isBuiltPerCli(dir: string): boolean {
  return existsSync(instancePaths(dir).runRoot);
}

export function instanceState(dir: string): InstanceState {
  const statusFile = readTrimmed(instancePaths(dir).status);
  const sgxMode = readSgxMode(dir);
  const live = findInstanceProcesses(dir);
  const runPids = live.run.map((p) => p.pid);
  const serverPids = live.server.map((p) => p.pid);
  const base = { dir, statusFile, sgxMode, runPids, serverPids };
  if (statusFile === null) return { ...base, status: 'uninitialized' };
  if (serverPids.length > 0) {
    return {
      ...base,
      status: 'serving',
      correction:
        statusFile === 'built' ? undefined : `status file says "${statusFile}" but the exec server is running`,
    };
  }
  if (runPids.length > 0) {
    if (statusFile === 'debugging') return { ...base, status: 'debugging' };
    return {
      ...base,
      status: 'running',
      correction: statusFile === 'running' ? undefined : `status file says "${statusFile}" but occlum-run is alive`,
    };
  }
  const built = isBuiltPerCli(dir);
  if (statusFile === 'running' || statusFile === 'debugging') {
    return {
      ...base,
      status: built ? 'built' : 'built-stale',
      correction: `status file says "${statusFile}" but no occlum-run process is alive: the last run or exec ended with a non-zero status (occlum leaves the file as it was when a program fails)`,
    };
  }
  if (statusFile === 'built' && !built) {
    return {
      ...base,
      status: 'built-stale',
      correction:
        'status file says "built" but run/mount/__ROOT is missing (a build failed or was interrupted after wiping run/); `occlum run` will refuse until the next successful build',
    };
  }
  if (statusFile === 'initialized' || statusFile === 'built') return { ...base, status: statusFile };
  return {
    ...base,
    status: built ? 'built' : 'initialized',
    correction: `unknown status file content "${statusFile}"`,
  };
}
