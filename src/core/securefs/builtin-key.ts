// The image key of an encrypted instance, where the instance itself holds it. `occlum build
// --buildin-image-key` copies the key into the initfs as /etc/image_key (occlum_build.mk), and the
// initfs is integrity-only: anyone holding the instance holds the key. So an encrypted instance
// brought from elsewhere (no key file, no record of its build) can still be read, as Occlum's
// init reads it. The initfs is an image like any other, read with the same hostile-input care.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openImage, pfHeader } from './index.ts';
import { parseDashed16 } from './keys.ts';
import type { KeyMode } from './types.ts';

/** Where the build puts the key inside the initfs. */
export const BUILTIN_KEY_PATH = '/etc/image_key';

/** An `occlum gen-image-key` file is 47 characters and a newline; anything far bigger is not one. */
const MAX_KEY_FILE = 4096;

/**
 * The key in `initfsRoot` (build/initfs/__ROOT) at /etc/image_key; null when there is no initfs
 * image or no such file (the instance was built without --buildin-image-key). Throws when the file
 * is there but is not a key, or the initfs cannot be read: the caller says what that means.
 */
export function builtinImageKey(initfsRoot: string): KeyMode | null {
  if (!existsSync(join(initfsRoot, 'metadata'))) return null;
  const initfs = openImage(initfsRoot, { kind: 'integrity-only' }, '');
  // Looked up by listing, so only "not there" means null; a damaged initfs throws.
  const etc = initfs.list('/').find((e) => e.name === 'etc' && e.type === 'dir');
  const entry = etc && initfs.list('/etc').find((e) => e.name === 'image_key');
  if (!entry) return null;
  if (entry.type !== 'file') throw new Error(`initfs ${BUILTIN_KEY_PATH} is a ${entry.type}, not a key file`);
  const size = entry.size;
  if (size > MAX_KEY_FILE) throw new Error(`initfs ${BUILTIN_KEY_PATH} is ${size} bytes: not an image key file`);
  const key = parseDashed16(initfs.readFile(BUILTIN_KEY_PATH).toString('latin1'));
  if (!key) throw new Error(`initfs ${BUILTIN_KEY_PATH} is not an image key (16 hex bytes joined by '-')`);
  return { kind: 'image-key', key };
}

/**
 * Whether the image at `root` (an __ROOT) is encrypted with an image key, from its metadata's
 * plain header; undefined when that cannot be read (the open will say why). The header is the
 * truth: build/image_config.json is absent from a packaged instance (`occlum package`) and stale
 * after a build that changed --image-key without -f (the makefile never rewrites it).
 */
export function encryptedByHeader(root: string): boolean | undefined {
  try {
    const h = pfHeader(join(root, 'metadata'));
    return h.integrityOnly === 0 && h.useUserKdkKey === 1;
  } catch {
    return undefined;
  }
}
