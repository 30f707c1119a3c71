// Crafts hostile integrity-only images for tests: rewrites a directory entry's stored name and
// re-seals the chain (the directory's protected file, its inode record's MAC in `metadata`,
// `.ROOT_MAC`) with the engine, so only the name is wrong. Integrity-only keys are public: anyone
// can do this to an image, which is why readers must treat every name as hostile.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { openImage, parseDashed16, pfRead } from '../../src/core/securefs/index.ts';
import { callJson } from '../../src/core/securefs/native.ts';

const DIRENT = 264;
const RECORD = 128;
/** Where the inode MAC sits in a 112-byte inode record (sefs >= 2022-01, what the engine packs). */
const MAC_OFF = 96;

/** Writes `plain` as the integrity-only protected file `file`; returns its MAC bytes. */
function seal(file: string, plain: Buffer): Buffer {
  const tmp = mkdtempSync(join(tmpdir(), 'reseal-'));
  try {
    writeFileSync(join(tmp, 'plain'), plain);
    return Buffer.from(parseDashed16(callJson<string>('writePf', [file, 'io', join(tmp, 'plain')]))!);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Gives entry `name` of directory `dir` in the image at `root` (an __ROOT) the stored name
 * `bytes` (up to 256 bytes; without a NUL in them the name is over-long), re-sealed.
 */
export async function renameEntry(root: string, dir: string, name: string, bytes: Buffer): Promise<void> {
  const d = openImage(root, { kind: 'integrity-only' }, '').stat(dir);
  const dirFile = join(root, d.hostFile!);
  const plain = await pfRead(dirFile);
  let at = -1;
  for (let off = 0; off + DIRENT <= plain.length; off += DIRENT) {
    const stored = plain.subarray(off + 4, off + 260);
    if (stored.subarray(0, stored.indexOf(0)).toString('utf8') === name) at = off;
  }
  if (at < 0) throw new Error(`${dir}/${name}: no such entry`);
  plain.fill(0, at + 4, at + 260);
  bytes.copy(plain, at + 4, 0, Math.min(bytes.length, 256));
  const mac = seal(dirFile, plain);
  const metaFile = join(root, 'metadata');
  const meta = await pfRead(metaFile);
  mac.copy(meta, d.inode * RECORD + MAC_OFF);
  const rootMac = seal(metaFile, meta);
  writeFileSync(join(dirname(root), '.ROOT_MAC'), [...rootMac].map((b) => b.toString(16).padStart(2, '0')).join('-'));
}
