// Descriptors the studio was started with beyond stdin, stdout and stderr (a shell's or an
// IDE's, without close-on-exec) would pass through every child, bwrap included, into the
// sandboxed program: a pipe of the user's session, or a directory of the host it could openat()
// its way out of. Occlum's programs start with 0, 1 and 2 only, so the studio closes the rest
// once at startup. Node's own descriptors are all close-on-exec and are left alone, as is the
// IPC channel of a parent that asked for one.
import { closeSync, readdirSync, readFileSync } from 'node:fs';

const O_CLOEXEC = 0o2000000;

/** Closes every inheritable descriptor above 2; returns the numbers closed. */
export function closeInheritedDescriptors(): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc/self/fd');
  } catch {
    return []; // no /proc: nothing to learn, and nothing is launched without it anyway
  }
  const channel = Number(process.env.NODE_CHANNEL_FD ?? -1);
  const closed: number[] = [];
  for (const name of names) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd <= 2 || fd === channel) continue;
    let flags: number;
    try {
      const m = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
      if (!m) continue;
      flags = parseInt(m[1]!, 8);
    } catch {
      continue; // the directory listing's own descriptor, closed again
    }
    if (flags & O_CLOEXEC) continue;
    try {
      closeSync(fd);
      closed.push(fd);
    } catch {
      // already gone
    }
  }
  return closed;
}
