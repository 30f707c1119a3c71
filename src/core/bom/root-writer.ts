// The bom copy's writes below the root. With the native addon they go through the root's
// directory descriptor (native/src/beneath.rs, as `fs extract` does): every path is walked one
// component at a time without following links, so a directory of the root swapped for a symlink
// by another process *while* the copy runs stops that write with an error instead of sending it
// outside the root. Without the addon they go by path (the checks before are then the defence).
import { constants, promises as fsp, closeSync, mkdirSync, openSync, symlinkSync, unlinkSync } from 'node:fs';
import {
  chmodFileBeneath,
  dirAttrsBeneath,
  mkdirsBeneath,
  symlinkBeneath,
  unlinkBeneath,
} from '../securefs/beneath.ts';
import { nativeStatus } from '../securefs/native.ts';
import { copyFilesNative, type FileCopyJob, type FilesCopied } from './native-copy.ts';
import { mapLimit } from './pool.ts';
import type { FileStat } from './tree.ts';

export interface RootWriter {
  /**
   * Creates the directories `inners` (parents first; each one's parent exists or comes before it),
   * as `mkdir` would (mode 0777 less the umask); the failures by index.
   */
  mkdirs(inners: string[]): Map<number, string>;
  symlink(inner: string, target: string): void;
  unlink(inner: string): void;
  chmodFile(inner: string, mode: number): Promise<void>;
  /** Owner (as root, when it differs), mode and times of a copied directory. */
  dirAttrs(inner: string, st: FileStat): Promise<void>;
  /** The file copies (destinations as inner paths). */
  copy(jobs: FileCopyJob[], stats: FileStat[]): Promise<FilesCopied>;
  close(): void;
}

const uid = process.getuid?.() ?? -1;
const gid = process.getgid?.() ?? -1;
const chownNeeded = (st: FileStat) => uid === 0 && (st.uid !== 0 || st.gid !== gid);

/** `root` must exist (the caller creates it by path: nothing above it is the copy's business). */
export function openRootWriter(root: string): RootWriter {
  const host = (inner: string) => (inner === '/' ? root : root + inner);
  if (!nativeStatus().ok) return pathWriter(host);
  const fd = openSync(root, constants.O_RDONLY | constants.O_DIRECTORY);
  const rel = (inner: string) => inner.replace(/^\/+/, '');
  const dirMode = 0o777 & ~process.umask();
  return {
    mkdirs: (inners) => mkdirsBeneath(fd, inners.map(rel), dirMode),
    symlink: (inner, target) => symlinkBeneath(fd, rel(inner), target),
    unlink: (inner) => unlinkBeneath(fd, rel(inner)),
    chmodFile: async (inner, mode) => chmodFileBeneath(fd, rel(inner), mode),
    dirAttrs: async (inner, st) =>
      dirAttrsBeneath(
        fd,
        rel(inner),
        st.mode & 0o7777,
        chownNeeded(st) ? { uid: st.uid, gid: st.gid } : null,
        st.atime.getTime(),
        st.mtimeMs,
      ),
    copy: async (jobs) =>
      (await copyFilesNative(
        fd,
        jobs.map((j) => ({ src: j.src, dest: rel(j.dest), tmp: j.tmp === undefined ? undefined : rel(j.tmp) })),
      ))!,
    close: () => closeSync(fd),
  };
}

function pathWriter(host: (inner: string) => string): RootWriter {
  return {
    mkdirs(inners) {
      const failed = new Map<number, string>();
      inners.forEach((inner, i) => {
        try {
          mkdirSync(host(inner));
        } catch (err) {
          failed.set(i, (err as Error).message);
        }
      });
      return failed;
    },
    symlink: (inner, target) => symlinkSync(target, host(inner)),
    unlink: (inner) => unlinkSync(host(inner)),
    chmodFile: (inner, mode) => fsp.chmod(host(inner), mode),
    async dirAttrs(inner, st) {
      if (chownNeeded(st)) await fsp.chown(host(inner), st.uid, st.gid);
      await fsp.chmod(host(inner), st.mode & 0o7777);
      await fsp.utimes(host(inner), st.atime, st.mtime);
    },
    copy: async (jobs, stats) => ({
      failed: await copyFilesJs(
        jobs.map((j) => ({ src: j.src, dest: host(j.dest), tmp: j.tmp === undefined ? undefined : host(j.tmp) })),
        stats,
      ),
    }),
    close: () => {},
  };
}

/**
 * The copies through Node's fs (without the native addon): libuv's copyfile sets the source's
 * mode; owners are copied as root when they differ. Returns the failures by job index.
 */
async function copyFilesJs(jobs: FileCopyJob[], stats: FileStat[]): Promise<Map<number, string>> {
  const failed = new Map<number, string>();
  await mapLimit([...jobs.keys()], 4, async (i) => {
    const { src, dest, tmp = dest } = jobs[i]!;
    const st = stats[i]!;
    try {
      await fsp.copyFile(src, tmp);
      if (chownNeeded(st)) {
        await fsp.chown(tmp, st.uid, st.gid);
        await fsp.chmod(tmp, st.mode & 0o7777); // chown clears set-id bits
      }
      await fsp.utimes(tmp, st.atime, st.mtime);
      if (tmp !== dest) await fsp.rename(tmp, dest);
    } catch (err) {
      if (tmp !== dest) await fsp.rm(tmp, { force: true });
      failed.set(i, (err as Error).message);
    }
  });
  return failed;
}
