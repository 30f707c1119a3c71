// The one way the studio reads a file of an instance or image (Occlum.json, .occlum-studio.json,
// build/ configs, .ROOT_MAC, status and mode files, logs). Such a file may be hostile or broken:
// a FIFO blocks a plain open (and with it the whole UI) until a writer comes, /dev/zero (or a link
// to it) is read until memory runs out. So the open never blocks (O_NONBLOCK), follows no link
// where none belongs (O_NOFOLLOW), what was opened must be a regular file (fstat) before a byte is
// read, and reads are bounded.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/** A file that is not what it should be (not a regular file, a link, too big). `code` says which. */
export class UnsafeFileError extends Error {
  constructor(
    message: string,
    readonly code: 'ENOTREGULAR' | 'ESYMLINK' | 'ETOOBIG',
    readonly path: string,
  ) {
    super(message);
  }
}

export interface SafeReadOptions {
  /** What the file is, for messages ("Occlum.json", "the image's .ROOT_MAC"). */
  what: string;
  /** Most bytes the file can hold; more is refused (the format's bound, or a sane cap). */
  maxBytes: number;
  /** True where a user may keep a link (their own config files); the target is still checked. */
  followLinks?: boolean;
  /** How to fix it, appended to messages; default: replace it with a regular file. */
  fix?: string;
}

/** Caps for the files the studio reads (a file over one is refused with a clear message). */
export const MAX_CONFIG_BYTES = 64 << 20;
export const MAX_SMALL_FILE_BYTES = 1 << 20;

/** What a non-regular file is, for messages ("a FIFO (named pipe)"). */
export function typeName(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Opens `path` read-only without blocking and checks it is a regular file; the caller closes the
 * descriptor. Throws UnsafeFileError (or the system error, e.g. ENOENT) otherwise.
 */
export function openRegularFile(
  path: string,
  opts: Pick<SafeReadOptions, 'what' | 'followLinks' | 'fix'>,
): { fd: number; size: number } {
  const fix = opts.fix ?? 'replace it with a regular file';
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | (opts.followLinks ? 0 : constants.O_NOFOLLOW));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new UnsafeFileError(
        `${path}: ${opts.what} is a symbolic link, where a regular file belongs: ${fix}`,
        'ESYMLINK',
        path,
      );
    }
    throw err;
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new UnsafeFileError(
      `${path}: ${opts.what} is ${typeName(st)}, not a regular file: ${fix}`,
      'ENOTREGULAR',
      path,
    );
  }
  return { fd, size: st.size };
}

/** The whole content of a regular file of at most `maxBytes` (see openRegularFile). */
export function readFileSafe(path: string, opts: SafeReadOptions): Buffer {
  const { fd, size } = openRegularFile(path, opts);
  return readOpenedSafe(fd, size, path, opts);
}

/**
 * The whole content of regular file `fd` (opened and checked by the caller, `size` from its fstat;
 * `path` names it in messages), at most `maxBytes`; closes it.
 */
export function readOpenedSafe(fd: number, size: number, path: string, opts: SafeReadOptions): Buffer {
  const tooBig = (n: number) =>
    new UnsafeFileError(
      `${path}: ${opts.what} is ${n} bytes, more than the ${opts.maxBytes} it may hold: ${opts.fix ?? 'shorten it'}`,
      'ETOOBIG',
      path,
    );
  try {
    if (size > opts.maxBytes) throw tooBig(size);
    // The file may grow while it is read: the buffer grows too, up to one byte past the cap.
    let buf = Buffer.allocUnsafe(size + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (n > opts.maxBytes) throw tooBig(n);
        const more = Buffer.allocUnsafe(Math.min(2 * n, opts.maxBytes + 1));
        buf.copy(more, 0, 0, n);
        buf = more;
      }
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

export function readTextSafe(path: string, opts: SafeReadOptions): string {
  return readFileSafe(path, opts).toString('utf8');
}

/** readTextSafe, or undefined when the file does not exist. */
export function readTextIfPresent(path: string, opts: SafeReadOptions): string | undefined {
  try {
    return readTextSafe(path, opts);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * A file Occlum or the studio generated in an instance (status and mode files, .ROOT_MAC, build/
 * configs): never a link, at most `maxBytes`.
 */
export function readGeneratedText(path: string, what: string, maxBytes = MAX_CONFIG_BYTES): string {
  return readTextSafe(path, { what, maxBytes, fix: 'remove it and build the instance again' });
}

/** A config file the user edits (Occlum.json, .occlum-studio.json): may be a link; capped. */
export function readConfigText(path: string, what: string): string {
  const fix = `${what} must be a regular file of at most ${MAX_CONFIG_BYTES >> 20} MiB`;
  return readTextSafe(path, { what, maxBytes: MAX_CONFIG_BYTES, followLinks: true, fix });
}
