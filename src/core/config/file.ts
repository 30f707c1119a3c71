// Loading and saving Occlum.json on disk: atomic writes (temp file + fsync + rename, mode
// kept) and detection of outside changes since load, reported as a conflict instead of being
// overwritten.
import { createHash } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  chmodSync,
  existsSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readConfigText } from '../instance/safe-read.ts';
import { withPath } from '../errors.ts';

export interface DiskState {
  mtimeMs: number;
  size: number;
  hash: string;
}

export interface LoadedFile {
  path: string;
  text: string;
  disk: DiskState;
}

export function hashText(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function diskState(path: string, text: string): DiskState {
  const st = statSync(path);
  return { mtimeMs: st.mtimeMs, size: st.size, hash: hashText(text) };
}

export function loadConfigFile(path: string): LoadedFile {
  const text = readConfigText(path, basename(path));
  return { path, text, disk: diskState(path, text) };
}

export type DiskCheck =
  { kind: 'unchanged' } | { kind: 'changed'; text: string; disk: DiskState } | { kind: 'deleted' };

/** Has the file changed on disk since `known`? (mtime+size first, then content hash.) */
export function checkDisk(path: string, known: DiskState): DiskCheck {
  let st;
  try {
    st = statSync(path);
  } catch {
    return { kind: 'deleted' };
  }
  if (st.mtimeMs === known.mtimeMs && st.size === known.size) return { kind: 'unchanged' };
  const text = readConfigText(path, basename(path));
  const hash = hashText(text);
  if (hash === known.hash) return { kind: 'unchanged' };
  return { kind: 'changed', text, disk: { mtimeMs: st.mtimeMs, size: st.size, hash } };
}

export class SaveConflictError extends Error {
  constructor(
    readonly path: string,
    readonly diskText: string | undefined,
  ) {
    super(
      `${path} was changed on disk since it was loaded; reload it (your edits stay in the undo history) or save again with overwrite`,
    );
  }
}

/**
 * Writes `text` atomically. Unless `force`, refuses (SaveConflictError) when the file on disk
 * no longer matches `known`. Returns the new disk state.
 */
export function saveConfigFile(path: string, text: string, known: DiskState | undefined, force = false): DiskState {
  if (known && !force) {
    const check = checkDisk(path, known);
    if (check.kind === 'changed') throw new SaveConflictError(path, check.text);
  }
  let mode = 0o644;
  if (existsSync(path)) mode = statSync(path).mode & 0o7777;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  const fd = openSync(tmp, 'w', mode);
  try {
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw withPath(err, path);
  }
  closeSync(fd);
  chmodSync(tmp, mode); // umask may have narrowed the open() mode
  renameSync(tmp, path);
  try {
    const dfd = openSync(dirname(path), 'r');
    fsyncSync(dfd);
    closeSync(dfd);
  } catch {
    // Directory fsync is not supported everywhere; the rename itself is atomic.
  }
  return diskState(path, text);
}
