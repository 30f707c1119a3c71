// Atomic file replacement: write a temp file in the same directory, fsync, rename over.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { withPath } from '../errors.ts';

/**
 * `durable` false skips the fsync: the file is still replaced whole for every reader and across a
 * killed process (the page cache survives it), just not across a power loss. For files rewritten
 * on every dev-loop build, whose loss a recovery or the next run's full check covers.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644, durable = true): void {
  // A new name, created exclusively: a link planted at a guessable name is not written through.
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    if (durable) fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw withPath(err, path);
  }
  closeSync(fd);
  renameSync(tmp, path);
}
