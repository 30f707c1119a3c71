// The image layer's copies of image/ files, each hashed as it is written (the manifest pins every
// file's SHA-256): one native call per batch (native/src/tree_copy.rs, `copyHashFiles`, two
// threads) reads each file once, where a copy and then a hash read it twice and took a thread-pool
// round trip per step, and says each file's stat-cache key as it left it (no second walk of the
// layer for the stat cache). Without the addon: Node's copyFile, chmod, a hash and an lstat.
import { chmodSync, closeSync, constants as fsc } from 'node:fs';
import { relative } from 'node:path';
import { copyFile } from 'node:fs/promises';
import { nativeSystemError } from '../../errors.ts';
import { callAsync, nativeStatus } from '../../securefs/native.ts';
import { openFileBeneath, ReplacedWhileReadError, sha256FileAsync, statEntry, statKey } from './manifest.ts';

export interface LayerCopy {
  /** image/ itself: the file is read only if no link on the way below it led elsewhere. */
  root: string;
  /** The file in image/. */
  host: string;
  /** Its new place in the layer (must not exist). */
  out: string;
  mode: number;
}

export interface LayerCopied {
  mode: number;
  size: number;
  sha256: string;
  /** Stat-cache key (inode:ctime) of the copy after its last change (its last write or chmod). */
  key: string;
}

export async function copyIntoLayer(jobs: LayerCopy[]): Promise<LayerCopied[]> {
  if (jobs.length === 0) return [];
  if (!nativeStatus().ok) {
    const out: LayerCopied[] = [];
    for (const j of jobs) {
      // Off the main thread: a big file (or a disk under writeback) blocks for 100s of ms. From
      // the file as opened through its opened parent (a directory swapped for a link is refused).
      const fd = openFileBeneath(j.root, relative(j.root, j.host));
      try {
        await copyFile(`/proc/self/fd/${fd}`, j.out, fsc.COPYFILE_FICLONE);
      } finally {
        closeSync(fd);
      }
      chmodSync(j.out, j.mode);
      const e = statEntry(j.out, j.out)!;
      out.push({ mode: e.mode, size: e.size, sha256: await sha256FileAsync(j.out), key: statKey(j.out) });
    }
    return out;
  }
  // One root per call: a build copies from image/ alone.
  const args = [jobs[0]!.root, ...jobs.flatMap((j) => [j.host, j.out, String(j.mode)])];
  const r = JSON.parse((await callAsync('copyHashFiles', args)) as string) as {
    files: ([number, number, string, string] | null)[];
    errors: [number, string][];
  };
  if (r.errors.length > 0) {
    const [i, message] = r.errors[0]!;
    const { host, out } = jobs[i]!;
    if (message.includes('reached through a symbolic link')) throw new ReplacedWhileReadError(host);
    throw (
      nativeSystemError(message, 'copyfile', host, out) ??
      new Error(`cannot copy ${host} into the image layer: ${message}`)
    );
  }
  return r.files.map((f) => ({ mode: f![0], size: f![1], sha256: f![2], key: f![3] }));
}
