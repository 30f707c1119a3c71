// Whether saved files are still open for writing by some process (native/src/writers.rs: Linux
// grants a read lease only on a file nobody has open for writing). Lets the watcher release a
// change set as soon as an editor's save is complete instead of after a fixed quiet time.
import { callJson, nativeStatus } from '../securefs/native.ts';

/** Per path: 'y' open for writing, 'n' not, '?' cannot tell (native/src/writers.rs); null: no probe. */
function marks(paths: string[]): string[] | null {
  if (!nativeStatus().ok) return null;
  try {
    return callJson<string[]>('openForWriting', paths);
  } catch {
    return null; // an addon without the probe (older prebuilt): the quiet time decides
  }
}

/** True when no process has any of `paths` open for writing; false when one has or it cannot tell. */
export function allClosed(paths: string[]): boolean {
  return marks(paths)?.every((m) => m === 'n') ?? false;
}

/** True when some process is known to have one of `paths` open for writing. */
export function someOpen(paths: string[]): boolean {
  return paths.length > 0 && (marks(paths)?.includes('y') ?? false);
}
