// Whether saved files are still open for writing by some process (native/src/writers.rs: Linux
// grants a read lease only on a file nobody has open for writing). Lets the watcher release a
// change set as soon as an editor's save is complete instead of after a fixed quiet time.
import { callJson, nativeStatus } from '../securefs/native.ts';

/** True when no process has any of `paths` open for writing; false when one has or it cannot tell. */
export function allClosed(paths: string[]): boolean {
  if (!nativeStatus().ok) return false;
  try {
    return callJson<string[]>('openForWriting', paths).every((m) => m === 'n');
  } catch {
    return false; // an addon without the probe (older prebuilt): the quiet time decides
  }
}
