// What a user sees when something fails that is not a checked mistake of theirs: a system error
// (full disk, permissions, limits) or a bug. One line, with the path and what to do; never a
// stack trace unless OCCLUM_STUDIO_DEBUG is set. Used by the CLI's top-level handler and by the
// panes, which show the same line instead of crashing.
import { constants as osConstants } from 'node:os';
import { sanitizeForTerminal } from './text/sanitize.ts';

/** Set (to anything but 0 or empty) to print stack traces of unexpected errors. */
export const DEBUG_ENV = 'OCCLUM_STUDIO_DEBUG';

export interface SystemErrorLike extends Error {
  code?: string;
  syscall?: string;
  path?: string;
  dest?: string;
  spawnargs?: string[];
}

/** Each errno: what happened, and what to do about it. */
const ERRNO: Record<string, [what: string, fix?: string]> = {
  ENOSPC: ['no space left on device', 'free space on that file system (df -h) and try again'],
  EDQUOT: ['disk quota exceeded', 'free space or ask for a larger quota, then try again'],
  E2BIG: [
    'argument list too long',
    "the program's arguments and environment exceed the kernel's limit (128 KiB per string, ARG_MAX in all): " +
      'shorten the env entries in Occlum.json or pass large data in a file',
  ],
  EACCES: ['permission denied', 'check the owner and mode of the path (ls -l) or run as its owner'],
  EPERM: ['operation not permitted', 'check the owner and mode of the path (ls -l) or run as its owner'],
  EROFS: ['read-only file system', 'use an instance on a writable file system'],
  EMFILE: ['too many open files in this process', 'raise the limit (ulimit -n) and try again'],
  ENFILE: ['too many open files on the system', 'close programs or raise fs.file-max, then try again'],
  ENOENT: ['no such file or directory'],
  ENOTDIR: ['not a directory', 'a part of the path is a file'],
  EISDIR: ['is a directory', 'give a file'],
  EEXIST: ['file exists', 'remove it or choose another name'],
  ENOTEMPTY: ['directory not empty', 'remove its contents or choose another directory'],
  ELOOP: ['too many levels of symbolic links'],
  ENAMETOOLONG: ['file name too long', 'use a shorter path'],
  EBUSY: ['resource busy', 'a mount point or a file in use: stop what uses it and try again'],
  EIO: ['input/output error', 'the disk or file system has a fault (see dmesg)'],
  EAGAIN: ['resource temporarily unavailable', 'try again'],
  ENOMEM: ['out of memory', 'close programs or lower the sizes in Occlum.json'],
};

/** Names the file a failed write on a descriptor was for (Node's fd errors carry no path). */
export function withPath<E>(err: E, path: string): E {
  if (err instanceof Error && (err as SystemErrorLike).code && !(err as SystemErrorLike).path)
    (err as SystemErrorLike).path = path;
  return err;
}

function isSystemError(err: unknown): err is SystemErrorLike {
  return (
    err instanceof Error &&
    typeof (err as SystemErrorLike).code === 'string' &&
    /^E[A-Z0-9]+$/.test((err as SystemErrorLike).code!)
  );
}

/** The action that failed: `writing /x/y`, `copying /a to /b`, `starting /bin/prog`. */
function action(e: SystemErrorLike): string {
  const path = e.path ? sanitizeForTerminal(e.path) : undefined;
  const dest = e.dest ? sanitizeForTerminal(e.dest) : undefined;
  const sys = e.syscall ?? '';
  if (sys.startsWith('spawn')) return `starting ${path ?? (sys.slice(6) || 'a process')}`;
  if (dest)
    return `${sys === 'rename' ? 'renaming' : sys === 'symlink' || sys === 'link' ? 'linking' : 'copying'} ${path} to ${dest}`;
  if (!path) return sys || 'a system call';
  const verb: Record<string, string> = {
    open: 'opening',
    write: 'writing',
    mkdir: 'creating',
    mkdtemp: 'creating',
    rmdir: 'removing',
    unlink: 'removing',
    rm: 'removing',
    read: 'reading',
    scandir: 'listing',
    stat: 'reading',
    lstat: 'reading',
    chmod: 'changing the mode of',
    copyfile: 'copying',
    utime: 'touching',
    access: 'accessing',
    readlink: 'reading',
  };
  return `${verb[sys] ?? sys} ${path}`;
}

/**
 * A failure the native addon reported as text (Rust's `… (os error 28)`) as the system error it
 * was, so that it is described like Node's own (`no space left on device (ENOSPC) copying …`);
 * null when the text names no errno.
 */
export function nativeSystemError(message: string, syscall: string, path: string, dest?: string): Error | null {
  const n = Number(/\(os error (\d+)\)/.exec(message)?.[1]);
  const code = Object.entries(osConstants.errno).find(([, v]) => v === n)?.[0];
  if (!code) return null;
  return Object.assign(new Error(message), { code, errno: -n, syscall, path, dest });
}

/** One line for a system error (`no space left on device (ENOSPC) writing /x: free space …`), else undefined. */
export function describeSystemError(err: unknown): string | undefined {
  if (!isSystemError(err)) return undefined;
  const code = err.code!;
  const known = ERRNO[code];
  // An errno we have no words for: Node's own message names it and the path.
  if (!known) return sanitizeForTerminal(err.message);
  const [what, fix] = known;
  return `${what} (${code}) ${action(err)}${fix ? `: ${fix}` : ''}`;
}

/** The line a pane shows for a failed action: a system error described, else the error's own message. */
export function errorMessage(err: unknown): string {
  return describeSystemError(err) ?? (err instanceof Error ? err.message : String(err));
}

function debugging(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env[DEBUG_ENV];
  return v !== undefined && v !== '' && v !== '0';
}

/**
 * The message for any error that reached the top: a system error as one line, anything else
 * (a bug) as its message and a pointer to the debug variable. Sanitised for the terminal.
 */
export function formatError(err: unknown, env: NodeJS.ProcessEnv = process.env): string {
  const system = describeSystemError(err);
  const stack =
    debugging(env) && err instanceof Error && err.stack
      ? `\n${sanitizeForTerminal(err.stack, { keepLayout: true })}`
      : '';
  if (system) return system + stack;
  const message = err instanceof Error ? err.message : String(err);
  const hint = stack ? stack : ` (set ${DEBUG_ENV}=1 for the stack trace)`;
  return `internal error: ${sanitizeForTerminal(message)}${hint}`;
}

/** A failure with a message meant for the user (no stack trace); exit 1 (problems) unless given. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
  }
}
