// A real inotify watch limit for one process tree, without touching the machine's: since Linux
// 5.11 the limit is per user namespace (/proc/sys/user/max_inotify_watches, checked in each
// namespace up to the initial one), and a process in a namespace of its own (`unshare -Ur`) may
// lower its namespace's. Never write fs.inotify.max_user_watches: in the initial namespace (and,
// for root, from any namespace) it is the machine's limit, shared with every other process.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';

/** The user a test's studio runs as in its namespace (root there may not make idmapped mounts). */
export const NS_UID = 1000;

/** Why a test cannot run a process in a user namespace of its own here, or false. */
export function userNamespaceSkip(): string | false {
  if (!existsSync('/proc/sys/user/max_inotify_watches')) return 'no per-namespace inotify limit (Linux < 5.11)';
  if (process.getuid?.() !== 0) return 'mapping a range of ids into a user namespace needs root (no newuidmap here)';
  for (const tool of ['unshare', 'nsenter', 'setpriv']) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0) return `${tool} is not installed`;
  }
  const r = spawnSync('unshare', ['-Ur', 'true'], { stdio: 'ignore' });
  return r.status === 0 ? false : 'unshare -Ur is not allowed here (user namespaces)';
}

/**
 * The command line that runs `argv` in a user namespace of its own as NS_UID, once
 * mapOwnUserNamespace gave it ids; the process keeps the pid of the one started.
 */
export function inOwnUserNamespace(argv: string[]): [string, string[]] {
  // A process whose uid is unmapped at exec loses its capabilities: the shell waits for the map,
  // then runs one that has them, which takes the user's ids.
  const script =
    'while [ "$(id -u)" != 0 ] || [ "$(id -g)" != 0 ]; do sleep 0.01; done; ' +
    `exec sh -c 'exec setpriv --reuid ${NS_UID} --regid ${NS_UID} --clear-groups "$@"' sh "$@"`;
  return ['unshare', ['--user', '--', 'sh', '-c', script, 'sh', ...argv]];
}

/** Maps ids 0–65535 as they are outside (so the sandbox can map its own) into `pid`'s new namespace. */
export async function mapOwnUserNamespace(pid: number): Promise<void> {
  const outer = readlinkSync('/proc/self/ns/user');
  for (let i = 0; ; i++) {
    let ns = outer;
    try {
      ns = readlinkSync(`/proc/${pid}/ns/user`);
    } catch {
      /* not started yet */
    }
    if (ns !== outer) break;
    if (i > 500) throw new Error('unshare --user did not make a user namespace');
    await new Promise((r) => setTimeout(r, 10));
  }
  writeFileSync(`/proc/${pid}/uid_map`, '0 0 65536');
  writeFileSync(`/proc/${pid}/gid_map`, '0 0 65536');
}

/** Starts `argv` as inOwnUserNamespace says, and maps it. */
export async function spawnInOwnUserNamespace(argv: string[], opts: SpawnOptions): Promise<ChildProcess> {
  const [cmd, args] = inOwnUserNamespace(argv);
  const child = spawn(cmd, args, opts);
  await mapOwnUserNamespace(child.pid!);
  return child;
}

/** Inotify watches the process holds (the kernel's list: one `inotify wd:` line per watch). */
export function inotifyWatchesOf(pid: number | 'self'): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      n += readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('inotify wd:')).length;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

/** Inotify instances (descriptors) the process holds. */
export function inotifyInstancesOf(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:inotify') n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

/** Sets an inotify limit of `pid`'s own user namespace (refused unless it has one of its own). */
export function limitInotify(pid: number, kind: 'watches' | 'instances', max: number): void {
  const outer = readlinkSync('/proc/self/ns/user');
  if (readlinkSync(`/proc/${pid}/ns/user`) === outer) throw new Error(`process ${pid} is in this user namespace`);
  // Checked again inside: the write must land in that namespace's file, never in the machine's.
  const script = `[ "$(readlink /proc/self/ns/user)" != "$OUTER" ] && echo ${max} > /proc/sys/user/max_inotify_${kind}`;
  const r = spawnSync('nsenter', ['-U', '-t', String(pid), '--', 'sh', '-c', script], {
    env: { ...process.env, OUTER: outer },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`setting the inotify ${kind} limit of process ${pid} failed: ${r.stderr}`);
}
