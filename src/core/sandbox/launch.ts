// Command lines that start the sandbox. Everything is a plain argv (file, args, env), so the
// same launch works under child_process.spawn and under node-pty (the Run pane).
//
// The program is always uid 0 of its own user namespace mapped to an unprivileged host uid
// (identity.ts). A run, with the native stager (as root or not; the dev loop's reruns start a
// prepared one ahead and send it the same set-up as a go on its stdin):
//   run:    occlum-studio-stage --now (as root: private mount namespace, idmapped layers, drop to
//           SANDBOX_UID; then user + mount namespaces, overlay, tmpfs, rlimits, Landlock) → bwrap → program
// As a normal user (run: without the stager; start, exec: always):
//   run:    unshare -U -m  → sh: mount overlay + tmpfs → prlimit → bwrap → program
//   start:  unshare -U -m -p → sh: same mounts → `sleep infinity` (the holder keeps the namespaces)
//   exec:   nsenter -t <holder> -U -m -p → sh → occlum-studio-stage --scope → prlimit → bwrap → program
//           (shares run layer + ramfs; without the stager binary: sh → prlimit → bwrap)
// As root, the same commands run as SANDBOX_UID behind a privileged prefix:
//   start: occlum-studio-stage (private mount namespace, idmapped layers under STAGE, fd 9,
//          drops to SANDBOX_UID) → the above
//   exec: sh (opens fd 9 and the stager on fd 8) → nsenter -U (setuid 0 in the namespace =
//         SANDBOX_UID on the host) → sh → /proc/self/fd/8 --scope → prlimit → bwrap → program
//
// Landlock (native/src/landlock.rs, docs/security.md "Abstract unix sockets"): the stager puts
// the program in a domain that scopes abstract unix sockets (a run: and signals) right before
// bwrap, inside the program's user namespace (nsenter, outside it, still opens the holder's
// /proc/<pid>/ns, which a domain would forbid). A server's holder runs no program and gets none.
// The chains without the stager cannot: they print NO_SCOPE_WARNING on the program's stderr.
//
// The seccomp program is read by bwrap from fd 9, opened from a file by the first process (as
// root, before dropping privileges and before STAGE is covered), because node-pty cannot pass
// extra file descriptors. A stager launch with a fork watch (fork-watch.ts) gives fd 9 to the
// fork shim instead, with the watch's socket on fd 10 and the shim itself on fd 11: bwrap runs
// /proc/self/fd/11, which installs the filter with a listener, reports it and executes the program.
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { SandboxIdentity } from './identity.ts';
import type { MountPlan, PlannedMount } from './mounts.ts';
import { prlimitArgs, type Rlimits } from './rlimits.ts';
import { STAGE, stagePlan } from './stage.ts';

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
  /** File holding the assembled seccomp filter (seccomp.ts), or null for none. */
  seccompFile: string | null;
  /** Host ids of the program; privileged = the studio runs as root (see identity.ts). */
  identity: SandboxIdentity;
  /** The stager binary; needed when identity.privileged. */
  stager: string | null;
  /** exec into a server: join the server's PID namespace instead of making a new one. */
  sharePidNs?: boolean;
  /** Limits hook (run): cgroup.procs files the launch joins first, so the whole tree is in them. */
  cgroupProcs?: string[];
  /**
   * Stager launches only: the fork watch's socket and the fork shim; seccompFile is then the
   * notifying filter (seccomp.ts `notify`), which the shim installs instead of bwrap.
   */
  forkWatch?: { socket: string; shim: string } | null;
}

const LAUNCHER_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
export const SECCOMP_FD = 9;
/** The fork shim's descriptor (native/src/fork_watch.rs SHIM_FD), executed through /proc. */
export const FORK_SHIM_FD = 11;
const osSignals = constants.signals as Record<string, number>;

export const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** A sandbox that cannot be set up on this machine or at this path. */
export class SandboxError extends Error {}

/** Paths that overlayfs mount options cannot carry. */
function checkOverlayPath(p: string): void {
  if (/[,:\\\n]/.test(p)) {
    throw new SandboxError(
      `the instance path ${p} contains ',', ':' or '\\', which overlayfs mount options cannot express; move the instance`,
    );
  }
}

/** The root overlay's mount options. */
function overlayOptions(plan: MountPlan): string {
  const { lower, upper, work, merged } = plan.layers;
  for (const p of [lower, upper, work, merged]) checkOverlayPath(p);
  return `lowerdir=${lower},upperdir=${upper},workdir=${work}`;
}

/** The ramfs tmpfs mounts: options and staging dir. */
function tmpfsMounts(plan: MountPlan): { options: string; at: string }[] {
  return plan.mounts.flatMap((m) =>
    m.kind === 'tmpfs' ? [{ options: `mode=0755${m.size ? `,size=${m.size}` : ''}`, at: m.staging }] : [],
  );
}

/** Shell commands mounting the root overlay and the ramfs tmpfs staging dirs (private namespace). */
export function mountScript(plan: MountPlan): string {
  const fail = shq('occlum-studio: sandbox: cannot mount the root file system (overlayfs); see docs/backends.md');
  const overlay = `mount -t overlay occlum-root -o ${shq(overlayOptions(plan))} ${shq(plan.layers.merged)}`;
  const lines = [`${overlay} || { echo ${fail} >&2; exit 1; }`];
  for (const t of tmpfsMounts(plan)) lines.push(`mount -t tmpfs -o ${t.options} occlum-ramfs ${shq(t.at)} || exit 1`);
  return lines.join('\n');
}

/**
 * Host state under /proc, made read-only in every proc mount whatever the program's uid (bwrap
 * covers sys, sysrq-trigger, irq and bus only when it finds them writable itself, which it does
 * not with --cap-drop ALL). Sysctls resolve through the opener's namespaces, so the host's
 * /proc/sys bound read-only shows the sandbox its own values.
 */
export const PROC_READ_ONLY = [
  'sys',
  'sysrq-trigger',
  'irq',
  'bus',
  'fs',
  'acpi',
  'scsi',
  'mtrr',
  'driver',
  'tty',
  'pressure',
];

/**
 * The pins of a hostfs view of the instance are checked when the plan is made (mounts.ts), and so
 * is a normal user's hostfs source (as root, the stager stages it without following links); a
 * program of a running server may swap one (or an ancestor) for a link before bwrap binds it, and
 * bwrap follows a link by path. So the stager opens each (no symlink anywhere in the path, same
 * inode as checked) onto descriptors from here up, and bwrap binds those (`--bind-fd`, bwrap 0.8:
 * Debian 12's), then closes them. Without the stager they are bound by path.
 */
export const PIN_FD_BASE = 12;

/** The mounts bound from the stager's descriptors, in descriptor order. */
function fdMounts(spec: ProgramSpec, plan: MountPlan): PlannedMount[] {
  if (!spec.stager) return [];
  return plan.mounts.filter(
    (m) => m.kind === 'pin' || (m.kind === 'bind' && m.id !== undefined && !spec.identity.privileged),
  );
}

/** The stager's `pin FD PATH DEV:INO` tokens (paths as the stager sees them). */
function pinTokens(spec: ProgramSpec, plan: MountPlan): string[] {
  return fdMounts(spec, plan).flatMap((m, i) =>
    m.kind === 'pin' || m.kind === 'bind' ? ['pin', String(PIN_FD_BASE + i), m.source, m.id!] : [],
  );
}

/** bwrap arguments for one program (the root overlay must already be mounted at plan.layers.merged). */
export function bwrapArgs(spec: ProgramSpec, plan: MountPlan = spec.plan): string[] {
  // A server's programs share one PID namespace (as LibOS processes share Occlum's PID space);
  // a run gets its own.
  const a = [
    '--die-with-parent',
    ...(spec.sharePidNs ? [] : ['--unshare-pid']),
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--cap-drop',
    'ALL',
  ];
  a.push('--bind', plan.layers.merged, '/');
  // proc mounts last: a config's mount at /proc (a hostfs, a sefs the program writes) would
  // otherwise cover them, and with them /proc/self/fd/N, through which the fork shim is run and
  // the read-only host state is reached.
  const procLast = [...plan.mounts.filter((m) => m.kind !== 'proc'), ...plan.mounts.filter((m) => m.kind === 'proc')];
  const byFd = fdMounts(spec, plan);
  // From the stager's descriptor of the inode checked (pinTokens), else by path.
  const bind = (m: PlannedMount & { source: string; readOnly: boolean }) =>
    byFd.includes(m)
      ? a.push(m.readOnly ? '--ro-bind-fd' : '--bind-fd', String(PIN_FD_BASE + byFd.indexOf(m)), m.target)
      : a.push(m.readOnly ? '--ro-bind' : '--bind', m.source, m.target);
  for (const m of procLast) {
    switch (m.kind) {
      case 'proc':
        // Read-only as a whole (Occlum's procfs is): /proc/1/mem would write PID 1's memory.
        a.push('--proc', m.target);
        for (const x of PROC_READ_ONLY) a.push('--ro-bind-try', `/proc/${x}`, `${m.target}/${x}`);
        a.push('--remount-ro', m.target);
        break;
      case 'dev':
        a.push('--dev', m.target);
        break;
      case 'bind':
        bind(m);
        break;
      case 'tmpfs':
        a.push('--bind', m.staging, m.target);
        break;
      case 'mask':
        a.push('--tmpfs', m.target, '--remount-ro', m.target);
        break;
      case 'pin':
        bind(m);
        break;
    }
  }
  a.push('--clearenv');
  for (const [k, v] of spec.env) a.push('--setenv', k, v);
  a.push('--chdir', '/');
  if (spec.forkWatch) {
    // The image has no path of the shim: bwrap executes the descriptor the stager holds open.
    a.push('--', `/proc/self/fd/${FORK_SHIM_FD}`, ...spec.argv);
    return a;
  }
  if (spec.seccompFile) a.push('--seccomp', String(SECCOMP_FD));
  a.push('--', ...spec.argv);
  return a;
}

/** The line a launch without the stager prints on the program's stderr: it cannot scope it. */
export const NO_SCOPE_WARNING =
  'occlum-studio: sandbox: warning: no native stager (npm run build:native), so no Landlock scope: ' +
  "this program can connect to the host's abstract unix sockets (an X server's @/tmp/.X11-unix/X0 among them); " +
  'see docs/security.md';

/**
 * The shell line starting bwrap; `openSeccomp` = this shell opens fd 9 itself; `scope` = the
 * stager command that puts it in a Landlock domain first (an exec), or null (a warning instead).
 */
function execBwrapLine(spec: ProgramSpec, plan: MountPlan, openSeccomp: boolean, scope: string | null): string {
  const pre = prlimitArgs(spec.rlimits);
  const cmd = [...(pre.length ? ['prlimit', ...pre, '--'] : []), 'bwrap', ...bwrapArgs(spec, plan)].map(shq).join(' ');
  const redirect = spec.seccompFile && openSeccomp ? ` ${SECCOMP_FD}<${shq(spec.seccompFile)}` : '';
  if (scope === null) return `echo ${shq(NO_SCOPE_WARNING)} >&2\nexec ${cmd}${redirect}`;
  const pins = pinTokens(spec, plan).map(shq).join(' ');
  return `exec ${scope} --scope ${pins ? pins + ' ' : ''}-- ${cmd}${redirect}`;
}

/** The stager's descriptor in a root exec: opened as root, executed through /proc as the sandbox uid. */
const EXEC_STAGER_FD = 8;

/** Opens the seccomp program on fd 9 for the rest of a root shell. */
const openSeccompLine = (file: string | null) => (file ? [`exec ${SECCOMP_FD}<${shq(file)}`] : []);

const USER_NS = ['--user', '--map-root-user', '--mount', '--propagation', 'private'];
const SERVER_NS = ['--pid', '--fork', '--kill-child', '--mount-proc'];

/**
 * The launch of `script` in a new user + mount namespace (and `extraNs`), as the program's host
 * user. As root, the stager first stages the idmapped layers in a private mount namespace and
 * opens the seccomp filter on fd 9, then drops to the sandbox uid, which creates the user
 * namespace as a normal user would.
 */
function sandboxLaunch(staged: StagedLaunch, extraNs: string[], script: string, seccompFile: string | null): Launch {
  const env = { ...LAUNCHER_ENV };
  const inner = ['unshare', ...USER_NS, ...extraNs, '--', '/bin/sh', '-c', script];
  if (!staged.identity.privileged) return { file: inner[0], args: inner.slice(1), env };
  const { uid, gid } = staged.identity;
  const head = [String(uid), String(gid), STAGE, seccompFile ?? '-', ...staged.stagerArgs];
  return { file: staged.stager, args: [...head, '--', ...inner], env };
}

interface StagedLaunch {
  identity: SandboxIdentity;
  stager: string;
  /** The plan as the sandbox's side sees it (staged paths when privileged). */
  plan: MountPlan;
  stagerArgs: string[];
}

function staging(plan: MountPlan, identity: SandboxIdentity, stager: string | null): StagedLaunch {
  if (!identity.privileged) return { identity, stager: '', plan, stagerArgs: [] };
  if (!stager) {
    throw new SandboxError(
      'the sandbox stager native/occlum-studio-stage is missing: run `npm run build:native` (needs cargo)',
    );
  }
  const s = stagePlan(plan);
  return { identity, stager, plan: s.plan, stagerArgs: s.stagerArgs };
}

/**
 * Limits hook: the launch started by a shell that first moves itself into the run's cgroups and
 * then execs it, so everything it starts is in them. It runs as the studio's user, before the
 * stager drops to the sandbox uid (which could not write cgroup.procs).
 */
export function inCgroups(launch: Launch, procsFiles: string[] = []): Launch {
  if (procsFiles.length === 0) return launch;
  const join = procsFiles.map((f) => {
    const fail = shq(`occlum-studio: sandbox: cannot join the cgroup ${f}`);
    return `echo $$ > ${shq(f)} || { echo ${fail} >&2; exit 1; }\n`;
  });
  return {
    file: '/bin/sh',
    args: ['-c', `${join.join('')}exec "$@"`, 'occlum-studio-launch', launch.file, ...launch.args],
    env: launch.env,
  };
}

/**
 * `occlum run`: a fresh private namespace for one program. With the stager, one process sets it
 * all up (`--now`: namespaces, staged layers, overlay, ramfs, limits) and executes bwrap; without
 * it (a normal user's studio without the native build), unshare, sh, mount and prlimit do.
 */
export function runLaunch(spec: ProgramSpec): Launch {
  if (spec.stager) {
    const { uid, gid } = spec.identity;
    const args = ['--now', String(uid), String(gid), STAGE, ...stagerTokens(spec)];
    return inCgroups({ file: spec.stager, args, env: { ...LAUNCHER_ENV } }, spec.cgroupProcs);
  }
  const st = staging(spec.plan, spec.identity, spec.stager);
  const script = `${mountScript(st.plan)}\n${execBwrapLine(spec, st.plan, !spec.identity.privileged, null)}`;
  return inCgroups(sandboxLaunch(st, [], script, spec.seccompFile), spec.cgroupProcs);
}

/**
 * A run's sandbox prepared ahead (docs/dev-loop.md, "Prepared sandbox"): the stager waits on its
 * stdin for the go (`goMessage`), having made now what no build can change (as root: the private
 * mount namespace and the idmap user namespace; the process itself in the run's cgroups). Null
 * without the stager (the cold launch is used then).
 */
export function warmLaunch(
  identity: SandboxIdentity,
  stager: string | null,
  cgroupProcs: string[] = [],
  /** The go comes on this inherited descriptor instead of stdin (a prepared sandbox in a terminal). */
  goFd?: number,
): Launch | null {
  if (!stager) return null;
  const wait = goFd === undefined ? ['--wait'] : ['--wait-on', String(goFd)];
  const args = [...wait, String(identity.uid), String(identity.gid), STAGE];
  return inCgroups({ file: stager, args, env: { ...LAUNCHER_ENV } }, cgroupProcs);
}

/**
 * What the stager's --wait and --now modes do after the namespaces: the mounts to stage, the
 * seccomp file, the overlay and ramfs mounts, the soft limits and the bwrap command line.
 */
function stagerTokens(spec: ProgramSpec): string[] {
  const st = staging(spec.plan, spec.identity, spec.stager);
  const tokens: string[] = [];
  for (const a of st.stagerArgs) tokens.push('stage', a);
  if (spec.seccompFile) tokens.push('seccomp', spec.seccompFile);
  if (spec.forkWatch) tokens.push('forkwatch', spec.forkWatch.socket, spec.forkWatch.shim);
  tokens.push('overlay', overlayOptions(st.plan), st.plan.layers.merged);
  for (const t of tmpfsMounts(st.plan)) tokens.push('tmpfs', t.options, t.at);
  tokens.push(...pinTokens(spec, st.plan));
  if (spec.rlimits.as) tokens.push('rlimit', 'as', String(spec.rlimits.as));
  if (spec.rlimits.stack) tokens.push('rlimit', 'stack', String(spec.rlimits.stack));
  tokens.push('--', 'bwrap', ...bwrapArgs(spec, st.plan));
  return tokens;
}

/**
 * The go of a prepared sandbox (`warmLaunch`) for `spec`, once the build is in place: the
 * stager's tokens in its go format (`LEN\n`, then each token hex-encoded and ended by a space).
 */
export function goMessage(spec: ProgramSpec): Buffer {
  const hex = stagerTokens(spec).map((t) => Buffer.from(t, 'utf8').toString('hex') + ' ');
  const body = Buffer.from(hex.join(''), 'latin1');
  return Buffer.concat([Buffer.from(`${body.length}\n`), body]);
}

export const READY_LINE = 'occlum-studio-sandbox-ready';

/**
 * `occlum start`: unshare forks the holder, PID 1 of a new PID namespace, which keeps the user
 * and mount namespaces (and the mounts) alive. Killing it ends every program of the server at
 * once. --mount-proc: bwrap (entered with nsenter -p) reads /proc/<pid> with namespace-local
 * pids, so /proc in this mount namespace must belong to the server's PID namespace.
 */
export function serverLaunch(
  plan: MountPlan,
  identity: SandboxIdentity,
  stager: string | null,
  /** 'stdin': the holder ends when its stdin reaches end of file (its starter died), as an enclave dies with its process. */
  lifetime: 'forever' | 'stdin' = 'forever',
): Launch {
  const st = staging(plan, identity, stager);
  const hold = lifetime === 'stdin' ? 'exec cat >/dev/null' : 'exec sleep infinity';
  return sandboxLaunch(st, SERVER_NS, `${mountScript(st.plan)}\necho ${READY_LINE}\n${hold}`, null);
}

/**
 * `occlum exec`: one program in the holder's namespaces. As root, nsenter's default setuid(0)
 * in the server's user namespace makes it the sandbox uid on the host. The stager scopes it
 * with Landlock once inside (uid 0 of that namespace); as root it is run from a descriptor the
 * root shell opened, since the sandbox uid may not reach its path (and STAGE covers /tmp).
 */
export function execLaunch(spec: ProgramSpec, holderPid: number): Launch {
  const st = staging(spec.plan, spec.identity, spec.stager);
  const ex = { ...spec, sharePidNs: true };
  const env = { ...LAUNCHER_ENV };
  const enter = ['-t', String(holderPid), '-U', '-m', '-p'];
  if (!spec.identity.privileged) {
    const scope = spec.stager ? shq(spec.stager) : null;
    return {
      file: 'nsenter',
      args: [...enter, '--preserve-credentials', '--', '/bin/sh', '-c', execBwrapLine(ex, st.plan, true, scope)],
      env,
    };
  }
  const inner = execBwrapLine(ex, st.plan, false, `/proc/self/fd/${EXEC_STAGER_FD}`);
  const script = [
    ...openSeccompLine(spec.seccompFile),
    `exec ${EXEC_STAGER_FD}<${shq(st.stager)}`,
    `exec ${['nsenter', ...enter, '--', '/bin/sh', '-c', inner].map(shq).join(' ')}`,
  ];
  return { file: '/bin/sh', args: ['-c', script.join('\n')], env };
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
