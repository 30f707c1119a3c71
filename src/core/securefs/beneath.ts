// Writes below a directory held open by descriptor (extract's destination), done by the engine
// (native/src/beneath.rs): each path is walked one component at a time with
// openat(O_DIRECTORY | O_NOFOLLOW), so a directory swapped for a symlink meanwhile stops the
// write with an error instead of redirecting it. Paths are relative to the directory, '/'-joined.
import { callJson } from './native.ts';

/** Creates directory `rel` (mode 0700) unless it is one already. */
export function mkdirBeneath(dirFd: number, rel: string): void {
  callJson('bMkdir', [String(dirFd), rel]);
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
