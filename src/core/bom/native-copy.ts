// The bom copy's bulk file work in the native addon (native/src/tree_copy.rs): copying thousands
// of files and sniffing their ELF magic there takes one thread-pool trip instead of several per
// file. Without the addon (not built here) the callers fall back to Node's fs calls.
import { callAsync, nativeStatus } from '../securefs/native.ts';
import type { FileStat } from './tree.ts';

export interface FileCopyJob {
  src: string;
  dest: string;
  /** A temporary name in dest's dir, renamed over dest once complete; none to write in place. */
  tmp?: string;
}

/** What a batch of copies did: the failures by job index, and each copy's identity as it was left. */
export interface FilesCopied {
  failed: Map<number, string>;
  /** `hash:size:mtime` (native/src/bom_state.rs, written_identity) by job; null: failed. */
  ids?: (string | null)[];
}

/**
 * Copies with mode, times (and owner, as root), `dest` and `tmp` relative to the root's descriptor
 * and written below it without following links, or null without the addon.
 */
export async function copyFilesNative(rootFd: number, jobs: FileCopyJob[]): Promise<FilesCopied | null> {
  if (!nativeStatus().ok) return null;
  const args = [String(rootFd), ...jobs.flatMap((j) => [j.src, j.dest, j.tmp ?? ''])];
  const r = JSON.parse((await callAsync('copyFiles', args)) as string) as {
    errors: [number, string][];
    ids: (string | null)[];
  };
  return { failed: new Map(r.errors), ids: r.ids };
}

/** Whether each file starts with the ELF magic (unreadable: no), or null without the addon. */
export async function sniffElfNative(paths: string[]): Promise<boolean[] | null> {
  if (paths.length === 0) return [];
  if (!nativeStatus().ok) return null;
  const bits = (await callAsync('sniffElf', paths)) as string;
  return [...bits].map((b) => b === '1');
}

/**
 * lstat of each path (null: gone), or null without the addon. With `elf`, each file's first
 * bytes are read in the same pass (FileStat.elf).
 */
export async function statFilesNative(paths: string[], elf = false): Promise<(FileStat | null)[] | null> {
  if (paths.length === 0) return [];
  if (!nativeStatus().ok) return null;
  const rows = JSON.parse((await callAsync(elf ? 'scanFiles' : 'statFiles', paths)) as string) as (number[] | null)[];
  return rows.map((r) => {
    if (!r) return null;
    const [size, mode, uid, gid, ino, as, ans, ms, mns, id, isElf] = r as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      string,
      number | undefined,
    ];
    const mtimeMs = ms * 1000 + mns / 1e6;
    const st: FileStat = {
      size,
      mode,
      uid,
      gid,
      ino,
      mtimeMs,
      mtime: new Date(mtimeMs),
      atime: new Date(as * 1000 + ans / 1e6),
      id,
    };
    if (isElf !== undefined) st.elf = isElf === 1;
    return st;
  });
}
