// Command lines that start the sandbox. Everything is a plain argv (file, args, env), so the
// same launch works under child_process.spawn and under node-pty (the Run pane).
//
//   run:    unshare -m  → sh: mount overlay + tmpfs in the private namespace → prlimit → bwrap → program
//   start:  unshare -m  → sh: same mounts → `sleep infinity` (the holder keeps the namespace)
//   exec:   nsenter -t <holder> -m → sh → prlimit → bwrap → program   (shares run layer + ramfs)
//
// The seccomp program is read by bwrap from fd 9, opened by the shell from a file, because
// node-pty cannot pass extra file descriptors.
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { MountPlan } from './mounts.ts';
import { prlimitArgs, type Rlimits } from './rlimits.ts';

export interface Launch {
  file: string;
  args: string[];
  /** The environment of the launcher processes (not the program's: bwrap --clearenv). */
  env: Record<string, string>;
}

export interface ProgramSpec {
  plan: MountPlan;
  /** Program path inside the image, then its arguments. */
  argv: string[];
  env: [string, string][];
  rlimits: Rlimits;
  /** File holding the assembled seccomp filter, or null when the fork filter is off. */
  seccompFile: string | null;
  /** Running as root: plain mount namespace; otherwise a user namespace is added. */
  privileged: boolean;
  /** exec into a server: join the server's PID namespace instead of making a new one. */
  sharePidNs?: boolean;
}

const LAUNCHER_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
export const SECCOMP_FD = 9;
const osSignals = constants.signals as Record<string, number>;

export const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** A sandbox that cannot be set up on this machine or at this path. */
export class SandboxError extends Error {}

/** Paths that overlayfs mount options cannot carry. */
function checkOverlayPath(p: string): void {
  if (/[,:\\\n]/.test(p)) {
    throw new SandboxError(`the instance path ${p} contains ',', ':' or '\\', which overlayfs mount options cannot express; move the instance`);
  }
}

/** Shell commands mounting the root overlay and the ramfs tmpfs staging dirs (private namespace). */
export function mountScript(plan: MountPlan): string {
  const { lower, upper, work, merged } = plan.layers;
  for (const p of [lower, upper, work, merged]) checkOverlayPath(p);
  const lines = [
    `mount -t overlay occlum-root -o ${shq(`lowerdir=${lower},upperdir=${upper},workdir=${work}`)} ${shq(merged)} || { echo 'occlum-studio: sandbox: cannot mount the root file system (overlayfs); see docs/backends.md' >&2; exit 1; }`,
  ];
  for (const m of plan.mounts) {
    if (m.kind !== 'tmpfs') continue;
    const size = m.size ? `,size=${m.size}` : '';
    lines.push(`mount -t tmpfs -o mode=0755${size} occlum-ramfs ${shq(m.staging)} || exit 1`);
  }
  return lines.join('\n');
}

/** bwrap arguments for one program (the root overlay must already be mounted at layers.merged). */
export function bwrapArgs(spec: ProgramSpec): string[] {
  // A server's programs share one PID namespace (as LibOS processes share Occlum's PID space);
  // a run gets its own.
  const a = ['--die-with-parent', ...(spec.sharePidNs ? [] : ['--unshare-pid']), '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--cap-drop', 'ALL'];
  a.push('--bind', spec.plan.layers.merged, '/');
  for (const m of spec.plan.mounts) {
    switch (m.kind) {
      case 'proc':
        a.push('--proc', m.target);
        break;
      case 'dev':
        a.push('--dev', m.target);
        break;
      case 'bind':
        a.push(m.readOnly ? '--ro-bind' : '--bind', m.source, m.target);
        break;
      case 'tmpfs':
        a.push('--bind', m.staging, m.target);
        break;
      case 'mask':
        a.push('--tmpfs', m.target, '--remount-ro', m.target);
        break;
    }
  }
  a.push('--clearenv');
  for (const [k, v] of spec.env) a.push('--setenv', k, v);
  a.push('--chdir', '/');
  if (spec.seccompFile) a.push('--seccomp', String(SECCOMP_FD));
  a.push('--', ...spec.argv);
  return a;
}

function execBwrapLine(spec: ProgramSpec): string {
  const pre = prlimitArgs(spec.rlimits);
  const cmd = [...(pre.length ? ['prlimit', ...pre, '--'] : []), 'bwrap', ...bwrapArgs(spec)].map(shq).join(' ');
  const redirect = spec.seccompFile ? ` ${SECCOMP_FD}<${shq(spec.seccompFile)}` : '';
  return `exec ${cmd}${redirect}`;
}

function unshareArgs(privileged: boolean): string[] {
  return privileged ? ['--mount', '--propagation', 'private'] : ['--user', '--map-root-user', '--mount', '--propagation', 'private'];
}

/** `occlum run`: a fresh private namespace for one program. */
export function runLaunch(spec: ProgramSpec): Launch {
  const script = `${mountScript(spec.plan)}\n${execBwrapLine(spec)}`;
  return { file: 'unshare', args: [...unshareArgs(spec.privileged), '--', '/bin/sh', '-c', script], env: { ...LAUNCHER_ENV } };
}

export const READY_LINE = 'occlum-studio-sandbox-ready';

/**
 * `occlum start`: unshare forks the holder, PID 1 of a new PID namespace, which keeps the mount
 * namespace (and its mounts) alive. Killing it ends every program of the server at once.
 * --mount-proc: bwrap (entered with nsenter -p) reads /proc/<pid> with namespace-local pids,
 * so /proc in this mount namespace must belong to the server's PID namespace.
 */
export function serverLaunch(plan: MountPlan, privileged: boolean): Launch {
  const script = `${mountScript(plan)}\necho ${READY_LINE}\nexec sleep infinity`;
  return {
    file: 'unshare',
    args: [...unshareArgs(privileged), '--pid', '--fork', '--kill-child', '--mount-proc', '--', '/bin/sh', '-c', script],
    env: { ...LAUNCHER_ENV },
  };
}

/** `occlum exec`: one program in the holder's mount and PID namespaces. */
export function execLaunch(spec: ProgramSpec, holderPid: number): Launch {
  const ns = spec.privileged ? ['-m', '-p'] : ['-U', '-m', '-p', '--preserve-credentials'];
  return {
    file: 'nsenter',
    args: ['-t', String(holderPid), ...ns, '--', '/bin/sh', '-c', execBwrapLine({ ...spec, sharePidNs: true })],
    env: { ...LAUNCHER_ENV },
  };
}

/**
 * Exit status as `occlum run` reports it (spec 1.3.1): normal exit → status & 0x7F, signal n →
 * 128+n. bwrap folds "killed by n" into exit 128+n, so 129..192 are read as signals and larger
 * values (impossible signals) as exit codes folded to 7 bits.
 */
export function occlumExitStatus(code: number | null, signal: NodeJS.Signals | number | null): number {
  if (signal !== null && signal !== undefined) {
    const n = typeof signal === 'number' ? signal : (osSignals[signal] ?? 9);
    return 128 + n;
  }
  const c = code ?? 1;
  if (c > 128 && c <= 128 + 64) return c;
  return c & 0x7f;
}


/** Tools the sandbox needs on the host. */
export function missingTools(): string[] {
  const dirs = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'];
  return ['bwrap', 'unshare', 'nsenter', 'prlimit', 'mount'].filter((t) => !dirs.some((d) => existsSync(join(d, t))));
}
