// The exec server's stderr. Occlum prints exec launch errors (and the LibOS log of exec'd
// programs) only there, and the server inherits it from `occlum start`. The studio starts the
// server with its stderr on a file, <instance>/.occlum-studio/exec-server.log, rather than a
// pipe: the server outlives the studio, and a server writing to a pipe nobody reads any more
// dies of SIGPIPE (or, in Rust, panics in eprintln!). The file is tailed for the Logs pane, and
// any process (another studio, a headless `exec`) can read what the server said since a point.
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  ftruncateSync,
  lstatSync,
  openSync,
  readlinkSync,
  readSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { STUDIO_DIR, studioDir } from './build-keys.ts';
import { openRegularFile, typeName, UnsafeFileError } from '../../instance/safe-read.ts';

export const SERVER_LOG_FILE = 'exec-server.log';

export function serverLogPath(instanceDir: string): string {
  return join(instanceDir, STUDIO_DIR, SERVER_LOG_FILE);
}

/**
 * Opens the log for the server's stderr, emptied: never through a link, never blocking on a FIFO
 * (an instance from elsewhere may carry either at this path: a link made `start` overwrite the
 * file it named), and only a regular file is written.
 */
export function openServerLogForWrite(instanceDir: string): number {
  studioDir(instanceDir);
  const p = serverLogPath(instanceDir);
  const fix = 'remove it; the next `start` recreates it';
  let fd: number;
  try {
    fd = openSync(p, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A FIFO without a reader (O_NONBLOCK: no wait for one).
    if (code === 'ENXIO') {
      const what = `${p}: the exec server log is ${typeName(lstatSync(p))}, not a regular file: ${fix}`;
      throw new UnsafeFileError(what, 'ENOTREGULAR', p);
    }
    if (code !== 'ELOOP') throw err;
    throw new UnsafeFileError(
      `${p}: the exec server log is a symbolic link (to ${readlinkSync(p)}): ${fix}`,
      'ESYMLINK',
      p,
    );
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new UnsafeFileError(
      `${p}: the exec server log is ${typeName(st)}, not a regular file: ${fix}`,
      'ENOTREGULAR',
      p,
    );
  }
  ftruncateSync(fd, 0);
  return fd;
}

/** Current size of the log (a mark to read from later), or null when there is none. */
export function serverLogMark(instanceDir: string): number | null {
  try {
    return statSync(serverLogPath(instanceDir)).size;
  } catch {
    return null;
  }
}

/** Bytes of the log from `offset` on (empty when missing or truncated below it). */
export function readServerLog(instanceDir: string, offset: number): Buffer {
  const p = serverLogPath(instanceDir);
  if (!existsSync(p)) return Buffer.alloc(0);
  // Never blocks on a FIFO, never follows a link: the studio creates this file itself.
  const { fd, size } = openRegularFile(p, {
    what: 'the exec server log',
    fix: 'remove it; the next `start` recreates it',
  });
  try {
    if (size <= offset) return Buffer.alloc(0);
    const buf = Buffer.alloc(size - offset);
    const n = readSync(fd, buf, 0, buf.length, offset);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** Lines that report a failed launch inside the LibOS (spec 3.2 eprintln + PAL lines). */
export function launchErrorLines(lines: string[]): string[] {
  return lines
    .map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''))
    .filter((l) =>
      /^(failed to boot up LibOS|failed to execute a process|invalid arguments for LibOS|\[ERROR\] occlum-pal:)/.test(
        l,
      ),
    );
}

/** The first launch error the server printed after `mark`, waiting up to `waitMs` for it. */
export async function launchErrorSince(instanceDir: string, mark: number, waitMs = 500): Promise<string | null> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const found = launchErrorLines(readServerLog(instanceDir, mark).toString('utf8').split('\n'))[0];
    if (found || Date.now() >= deadline) return found ?? null;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Follows the log while the server lives, handing new bytes to `onData` (whole lines only).
 * Polling (100 ms) rather than fs.watch: one small file, and it works on every file system.
 */
export class ServerLogTail {
  private offset: number;
  private partial = '';
  private timer: NodeJS.Timeout | null;

  constructor(
    private readonly instanceDir: string,
    private readonly onData: (chunk: Buffer) => void,
    from = 0,
    private readonly alive: () => boolean = () => true,
  ) {
    this.offset = from;
    let ticks = 0;
    this.timer = setInterval(() => {
      this.poll();
      // Check the (costlier) liveness about once a second; stop after the last words.
      if (++ticks % 10 === 0 && !this.alive()) this.stop();
    }, 100);
    this.timer.unref();
  }

  /** Reads what is new now (also called before looking for an exec's launch error). */
  poll(): void {
    let buf;
    try {
      buf = readServerLog(this.instanceDir, this.offset);
    } catch (err) {
      // Replaced meanwhile (a link, a FIFO): it is not read, and a timer's throw would end the studio.
      this.onData(Buffer.from(`occlum-studio: the exec server log is no longer read: ${(err as Error).message}\n`));
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
      return;
    }
    if (buf.length === 0) return;
    this.offset += buf.length;
    const text = this.partial + buf.toString('utf8');
    const cut = text.lastIndexOf('\n') + 1;
    this.partial = text.slice(cut);
    if (cut > 0) this.onData(Buffer.from(text.slice(0, cut)));
  }

  stop(): void {
    if (!this.timer) return;
    this.poll();
    if (this.partial) this.onData(Buffer.from(this.partial + '\n'));
    this.partial = '';
    clearInterval(this.timer);
    this.timer = null;
  }
}

// One tail per instance and process: the store makes a fresh backend object for each action.
const tails = new Map<string, ServerLogTail>();

export function setServerTail(instanceDir: string, tail: ServerLogTail | null): void {
  tails.get(instanceDir)?.stop();
  if (tail) tails.set(instanceDir, tail);
  else tails.delete(instanceDir);
}

export function serverTail(instanceDir: string): ServerLogTail | null {
  return tails.get(instanceDir) ?? null;
}
