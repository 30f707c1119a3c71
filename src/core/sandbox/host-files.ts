// Occlum passes the host's /etc/hostname, /etc/hosts and /etc/resolv.conf to the LibOS at every
// `occlum run` / `occlum start`, which writes them into the root file system's /etc (qa.md:
// "automatically parsed and transferred to Occlum LibOS"). The host backend does the same at
// boot, into the run layer, so a program resolves `localhost` and names as it would in Occlum.
// The run layer is written by programs: nothing here follows a link they may have left there.
import { closeSync, constants, lstatSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const HOST_FILES = ['hostname', 'hosts', 'resolv.conf'] as const;

/** Copies the host files that exist into <upper>/etc; returns the names written. */
export function writeHostFiles(upper: string, hostEtc = '/etc'): string[] {
  const etc = join(upper, 'etc');
  const st = lstatSync(etc, { throwIfNoEntry: false });
  if (st && !st.isDirectory()) return []; // a program replaced /etc: left as it made it
  if (!st) mkdirSync(etc, { mode: 0o755 });
  const written: string[] = [];
  for (const name of HOST_FILES) {
    let text: Buffer;
    try {
      text = readFileSync(join(hostEtc, name));
    } catch {
      continue; // the host has none: Occlum passes nothing either
    }
    const dest = join(etc, name);
    const cur = lstatSync(dest, { throwIfNoEntry: false });
    if (cur && !cur.isFile()) rmSync(dest, { recursive: true, force: true });
    const fd = openSync(dest, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    written.push(name);
  }
  return written;
}
