// Writes below a directory held open by descriptor (extract's destination), done by the engine
// (native/src/beneath.rs): each path is walked one component at a time with
// openat(O_DIRECTORY | O_NOFOLLOW), so a directory swapped for a symlink meanwhile stops the
// write with an error instead of redirecting it. Paths are relative to the directory, '/'-joined.
import { callJson } from './native.ts';

/** Creates directory `rel` (mode 0700) unless it is one already. */
export function mkdirBeneath(dirFd: number, rel: string): void {
  callJson('bMkdir', [String(dirFd), rel]);
}

/**
 * Creates each directory of `rels` (parents first) that is not one already, with `mode` on those
 * it creates; one walk per directory for the whole batch. The failures by index.
 */
export function mkdirsBeneath(dirFd: number, rels: string[], mode: number): Map<number, string> {
  return new Map(callJson<[number, string][]>('bMkdirs', [String(dirFd), String(mode), ...rels]));
}

/** Creates file `rel` exclusively (O_EXCL, never through a link); the caller closes the descriptor. */
export function createBeneath(dirFd: number, rel: string, mode: number): number {
  return callJson<number>('bCreate', [String(dirFd), rel, String(mode)]);
}

export function symlinkBeneath(dirFd: number, rel: string, target: string): void {
  callJson('bSymlink', [String(dirFd), rel, target]);
}

export function unlinkBeneath(dirFd: number, rel: string): void {
  callJson('bUnlink', [String(dirFd), rel]);
}

/** Sets the mode of directory `rel` (opened without following links). */
export function chmodDirBeneath(dirFd: number, rel: string, mode: number): void {
  callJson('bChmodDir', [String(dirFd), rel, String(mode)]);
}

/** Sets the mode of file `rel`, opened without following a link at its end. */
export function chmodFileBeneath(dirFd: number, rel: string, mode: number): void {
  callJson('bChmodFile', [String(dirFd), rel, String(mode)]);
}

/** Owner (null: kept), mode and times (ms since the epoch) of directory `rel` ('' for `dirFd` itself). */
export function dirAttrsBeneath(
  dirFd: number,
  rel: string,
  mode: number,
  owner: { uid: number; gid: number } | null,
  atimeMs: number,
  mtimeMs: number,
): void {
  const ts = (ms: number) => {
    const sec = Math.floor(ms / 1000);
    return [String(sec), String(Math.min(999_999_999, Math.round((ms - sec * 1000) * 1e6)))];
  };
  const who = owner ? [String(owner.uid), String(owner.gid)] : ['', ''];
  callJson('bDirAttrs', [String(dirFd), rel, String(mode), ...who, ...ts(atimeMs), ...ts(mtimeMs)]);
}

/** Opens directory `rel` for reading its entries, no link followed; the caller closes the descriptor. */
export function openDirBeneath(dirFd: number, rel: string): number {
  return callJson<number>('bOpenDir', [String(dirFd), rel]);
}

/** Opens file `rel` for reading, no link followed and no blocking; the caller checks and closes it. */
export function openReadBeneath(dirFd: number, rel: string): number {
  return callJson<number>('bOpenRead', [String(dirFd), rel]);
}
