// The .__occlum_status file: what `occlum status` prints. Occlum leaves it stale in places
// (spec 1.4: "running" after a failing run, "built" while a server runs), so live state comes
// from process checks (backend status), and this file only records build state.
import { instancePaths } from './layout.ts';
import { writeFileAtomic } from './atomic.ts';
import { MAX_SMALL_FILE_BYTES, readGeneratedText } from './safe-read.ts';

export type InstanceStatus = 'initialized' | 'built' | 'running' | 'debugging';

export function readStatusFile(dir: string): string | null {
  try {
    return readGeneratedText(instancePaths(dir).status, 'the instance status file', MAX_SMALL_FILE_BYTES).trim();
  } catch {
    return null;
  }
}

export function writeStatusFile(dir: string, status: InstanceStatus): void {
  writeFileAtomic(instancePaths(dir).status, status + '\n');
}
