// Why an __ROOT has no `metadata` to open. An instance committed to a repository can come back
// from a clone with its inode files but without `metadata` (left out of the commit, dropped by a
// mirror that skips big files): "not built yet, build it" would send the user the wrong way.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** SEFS host file names: 32 hex digits (the inode id, or id + generation after an incremental pack). */
const HOST_FILE = /^[0-9a-f]{32}$/;

export type ImageAbsence =
  | { kind: 'present' }
  | { kind: 'not-built' }
  /** Inode files without `metadata`: an incomplete copy of a built image. */
  | { kind: 'incomplete'; hostFiles: number };

/** Whether `root` (an __ROOT) has a `metadata` entry (a dangling link counts: its open says why). */
export function imageAbsence(root: string): ImageAbsence {
  try {
    lstatSync(join(root, 'metadata'));
    return { kind: 'present' };
  } catch {
    // No metadata: count what else is there.
  }
  let hostFiles = 0;
  try {
    for (const name of readdirSync(root)) if (HOST_FILE.test(name)) hostFiles++;
  } catch {
    return { kind: 'not-built' };
  }
  return hostFiles > 0 ? { kind: 'incomplete', hostFiles } : { kind: 'not-built' };
}

/**
 * The message for an incomplete image at `root` (shown as given: `root` is the user's own path).
 * `runLayer`: the layer programs wrote at run time, which a rebuild would discard, not restore.
 */
export function incompleteImageMessage(root: string, hostFiles: number, runLayer = false): string {
  return (
    `${root} holds ${hostFiles} inode file${hostFiles === 1 ? '' : 's'} but no \`metadata\`: the image is incomplete ` +
    '(a copy or checkout that left its metadata file out), so nothing in it can be listed or verified; ' +
    (runLayer
      ? 'copy metadata from the machine that ran the instance (a rebuild would discard this layer, not restore it)'
      : 'copy metadata from the machine that built the instance, or rebuild it')
  );
}
