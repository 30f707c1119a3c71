// The .__occlum_status file: what `occlum status` prints. Occlum leaves it stale in places
// (spec 1.4: "running" after a failing run, "built" while a server runs), so live state comes
// from process checks (backend status), and this file only records build state.
import { instancePaths } from './layout.ts';
import { writeFileAtomic } from './atomic.ts';
import { MAX_SMALL_FILE_BYTES, readGeneratedText, readTextSafe } from './safe-read.ts';

export type InstanceStatus = 'initialized' | 'built' | 'running' | 'debugging';

export function readStatusFile(dir: string): string | null {
  try {
    return readGeneratedText(instancePaths(dir).status, 'the instance status file', MAX_SMALL_FILE_BYTES).trim();
  } catch {
    return null;
  }
}

/**
 * Why the status file cannot be read although something is at its path (a FIFO, a link, a file
 * far too big); null when it reads or is simply absent. "No .__occlum_status" would be false then.
 */
export function statusFileProblem(dir: string): string | null {
  try {
    readTextSafe(instancePaths(dir).status, {
      what: 'the instance status file',
      maxBytes: MAX_SMALL_FILE_BYTES,
      // `occlum build` needs the file too (check_has_init), so removing it is no fix.
      fix: 'replace it with a regular file holding the word "initialized" (or run init)',
    });
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : (err as Error).message;
  }
}

export function writeStatusFile(dir: string, status: InstanceStatus): void {
  writeFileAtomic(instancePaths(dir).status, status + '\n');
}
