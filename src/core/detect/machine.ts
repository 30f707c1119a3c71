// What this machine offers each backend (for `occlum-studio doctor`): every probe actually
// looks (files, cpu flags) or tries (bubblewrap with user namespaces, loading node-pty and the
// native addon) instead of guessing, and carries the fix for when it fails.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { findOcclum, whichOnPath, type OcclumInstall } from './occlum-install.ts';
import { sandboxIdentity } from '../sandbox/identity.ts';
import { NATIVE_FIX, nativeStatus } from '../securefs/native.ts';
import { NODE_PTY_FIX, ptyStatus } from '../pty/session.ts';

export type ProbeId =
  | 'occlum'
  | 'occlum-tools'
  | 'sgx-device'
  | 'sgx-provision'
  | 'aesmd'
  | 'fsgsbase'
  | 'bwrap'
  | 'userns'
  | 'musl-gcc'
  | 'node-pty'
  | 'native-addon'
  | 'cargo';

export interface Probe {
  id: ProbeId;
  label: string;
  ok: boolean;
  /** What was found, or why it is missing. */
  detail: string;
  /** How to get it, when missing. */
  fix?: string;
}

export interface BackendReport {
  backend: 'host' | 'occlum';
  /** Mode name → ready, e.g. occlum: SIM, HW; host: run. */
  modes: { name: string; ready: boolean; missing: string[] }[];
  ready: boolean;
  /** What works less where an optional piece is missing (the backend still runs). */
  limits: string[];
  summary: string;
}

export interface MachineReport {
  occlum: OcclumInstall | null;
  kernel: string;
  probes: Probe[];
  backends: BackendReport[];
  /** At least one backend can build and run here. */
  ok: boolean;
}

export const SGX_DEVICES = { enclave: '/dev/sgx_enclave', provision: '/dev/sgx_provision', legacy: '/dev/isgx' };
export const AESM_SOCKET = '/var/run/aesmd/aesm.socket';

/** Host tools the `occlum` script shells out to (spec 1.1), with the Debian/Ubuntu package of each. */
export const OCCLUM_HOST_TOOLS: Record<string, string> = {
  jq: 'jq',
  make: 'make',
  pgrep: 'procps',
  pkill: 'procps',
  lscpu: 'util-linux',
  objcopy: 'binutils',
  tar: 'tar',
};

function probeOcclumTools(env: NodeJS.ProcessEnv): Probe {
  const missing = Object.keys(OCCLUM_HOST_TOOLS).filter((t) => !whichOnPath(t, env.PATH));
  if (missing.length === 0)
    return {
      id: 'occlum-tools',
      label: "occlum's host tools",
      ok: true,
      detail: Object.keys(OCCLUM_HOST_TOOLS).join(', '),
    };
  const pkgs = [...new Set(missing.map((t) => OCCLUM_HOST_TOOLS[t]!))];
  return {
    id: 'occlum-tools',
    label: "occlum's host tools",
    ok: false,
    detail: `missing on PATH: ${missing.join(', ')} (the occlum script calls them)`,
    fix: `apt-get install ${pkgs.join(' ')}`,
  };
}

export function cpuFlags(cpuinfo = '/proc/cpuinfo'): Set<string> {
  try {
    const line = readFileSync(cpuinfo, 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '';
    return new Set(line.trim().split(/\s+/).filter(Boolean));
  } catch {
    return new Set();
  }
}

function isSocket(p: string): boolean {
  try {
    return statSync(p).isSocket();
  } catch {
    return false;
  }
}

function probeOcclum(env: NodeJS.ProcessEnv): { probe: Probe; install: OcclumInstall | null } {
  const { install, tried } = findOcclum(env);
  if (!install) {
    return {
      install,
      probe: {
        id: 'occlum',
        label: 'Occlum',
        ok: false,
        detail: `not installed: ${tried.join('; ')}`,
        fix:
          'add the Occlum apt repository (https://occlum.io/occlum-package-repos/debian) and `apt-get install occlum` ' +
          '(Ubuntu 20.04/22.04), or work inside the occlum/occlum Docker image; the host backend works without it',
      },
    };
  }
  const version = install.version ?? `unknown (${install.versionHeader} missing or without OCCLUM_*_VERSION)`;
  return {
    install,
    probe: {
      id: 'occlum',
      label: 'Occlum',
      ok: true,
      detail: `${install.bin} (version ${version}, found via ${install.foundVia})`,
    },
  };
}

function probeBwrap(env: NodeJS.ProcessEnv): Probe[] {
  const bwrap = whichOnPath('bwrap', env.PATH);
  if (!bwrap) {
    const fix = 'apt-get install bubblewrap';
    return [
      { id: 'bwrap', label: 'bubblewrap', ok: false, detail: 'bwrap not on PATH', fix },
      { id: 'userns', label: 'user namespaces', ok: false, detail: 'not tried: no bwrap', fix },
    ];
  }
  const version =
    spawnSync(bwrap, ['--version'], { encoding: 'utf8', timeout: 5000 }).stdout?.trim() || 'version unknown';
  // The trivial sandbox the host backend's runs need at least: every namespace unshared, the
  // host tree read-only, fresh /proc and /dev. As root, tried as the sandbox uid, which is who
  // creates the user namespace there (src/core/sandbox/identity.ts).
  const args = [
    '--unshare-all',
    '--die-with-parent',
    '--ro-bind',
    '/',
    '/',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    'true',
  ];
  const id = sandboxIdentity();
  const asUid = id.privileged
    ? ['setpriv', `--reuid=${id.uid}`, `--regid=${id.gid}`, '--clear-groups', bwrap]
    : [bwrap];
  const r = spawnSync(asUid[0], [...asUid.slice(1), ...args], { encoding: 'utf8', timeout: 10_000 });
  const ok = r.status === 0;
  const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n')[0];
  const who = id.privileged ? ` as the sandbox uid ${id.uid}` : '';
  return [
    { id: 'bwrap', label: 'bubblewrap', ok: true, detail: `${bwrap} (${version})` },
    {
      id: 'userns',
      label: 'user namespaces',
      ok,
      detail: ok ? `\`bwrap --unshare-all … true\` works${who}` : `\`bwrap --unshare-all … true\` failed${who}: ${why}`,
      fix: ok
        ? undefined
        : 'allow unprivileged user namespaces: `sysctl kernel.unprivileged_userns_clone=1` (Debian), ' +
          '`sysctl kernel.apparmor_restrict_unprivileged_userns=0` (Ubuntu 24.04), `sysctl user.max_user_namespaces=15000`; ' +
          'in Docker run with `--security-opt seccomp=unconfined --security-opt apparmor=unconfined` (or --privileged)',
    },
  ];
}

function probeNodePty(): Probe {
  const s = ptyStatus();
  if (s.ok) return { id: 'node-pty', label: 'node-pty', ok: true, detail: `loads (${s.from})` };
  return {
    id: 'node-pty',
    label: 'node-pty',
    ok: false,
    detail: `cannot load: ${s.problem} (the Run pane runs programs with pipes instead of a terminal)`,
    fix: NODE_PTY_FIX,
  };
}

function probeNativeAddon(): Probe {
  const s = nativeStatus();
  if (s.ok) return { id: 'native-addon', label: 'secure-FS engine', ok: true, detail: `loads (${s.path})` };
  return { id: 'native-addon', label: 'secure-FS engine', ok: false, detail: s.error.reason, fix: NATIVE_FIX };
}

export function probeMachine(env: NodeJS.ProcessEnv = process.env): MachineReport {
  const kernel = release();
  const flags = cpuFlags();
  const { probe: occlumProbe, install } = probeOcclum(env);
  const enclaveDev = [SGX_DEVICES.enclave, SGX_DEVICES.legacy].find((d) => existsSync(d));
  const cargo = whichOnPath('cargo', env.PATH);
  const musl = whichOnPath('musl-gcc', env.PATH);
  const probes: Probe[] = [
    occlumProbe,
    probeOcclumTools(env),
    {
      id: 'sgx-device',
      label: 'SGX device',
      ok: enclaveDev !== undefined,
      detail: enclaveDev
        ? `${enclaveDev}${enclaveDev === SGX_DEVICES.legacy ? ' (legacy out-of-tree driver)' : ''}`
        : `no ${SGX_DEVICES.enclave} or ${SGX_DEVICES.legacy}; cpu flag sgx ${flags.has('sgx') ? 'present' : 'absent'}`,
      fix: enclaveDev
        ? undefined
        : 'HW mode only: a CPU with SGX (flag `sgx`, ideally `sgx_lc`), SGX enabled in the BIOS/UEFI (not "software controlled"), ' +
          "and Linux ≥ 5.11 with CONFIG_X86_SGX (creates /dev/sgx_enclave) or Intel's out-of-tree driver (/dev/isgx); " +
          'in Docker pass --device /dev/sgx_enclave --device /dev/sgx_provision. SIM mode needs none of this',
    },
    {
      id: 'sgx-provision',
      label: 'SGX provisioning',
      ok: existsSync(SGX_DEVICES.provision),
      detail: existsSync(SGX_DEVICES.provision)
        ? SGX_DEVICES.provision
        : `no ${SGX_DEVICES.provision} (only needed for remote attestation)`,
      fix: existsSync(SGX_DEVICES.provision)
        ? undefined
        : 'comes with the in-kernel SGX driver (Linux ≥ 5.11); add your user to the sgx_prv group',
    },
    {
      id: 'aesmd',
      label: 'aesmd socket',
      ok: isSocket(AESM_SOCKET),
      detail: isSocket(AESM_SOCKET)
        ? AESM_SOCKET
        : `no ${AESM_SOCKET}${flags.has('sgx_lc') ? ' (cpu has sgx_lc, so occlum skips this check)' : ''}`,
      fix: isSocket(AESM_SOCKET)
        ? undefined
        : "HW mode: add Intel's SGX apt repository (https://download.01.org/intel-sgx/sgx_repo/ubuntu) and " +
          '`apt-get install sgx-aesm-service libsgx-aesm-launch-plugin libsgx-uae-service`, then start aesmd (`service aesmd start`)',
    },
    {
      id: 'fsgsbase',
      label: 'FSGSBASE',
      ok: flags.has('fsgsbase'),
      detail: flags.has('fsgsbase') ? 'cpu flag fsgsbase present' : `cpu flag fsgsbase absent (kernel ${kernel})`,
      fix: flags.has('fsgsbase')
        ? undefined
        : "HW mode: Linux ≥ 5.9 enables FSGSBASE for user space; on older kernels load Occlum's enable_rdfsbase module " +
          '(otherwise runs fail with "FSGSBASE enablement check failed")',
    },
    ...probeBwrap(env),
    {
      id: 'musl-gcc',
      label: 'musl-gcc',
      ok: musl !== null,
      detail: musl ?? 'not on PATH (only needed to compile C demo/test programs for the host backend)',
      fix: musl ? undefined : 'apt-get install musl-tools',
    },
    probeNodePty(),
    probeNativeAddon(),
    {
      id: 'cargo',
      label: 'cargo',
      ok: cargo !== null,
      detail: cargo ?? 'not on PATH (only needed to build the secure-FS engine where no prebuilt one fits)',
      fix: cargo ? undefined : 'apt-get install cargo (or install rustup)',
    },
  ];
  const okOf = (id: ProbeId) => probes.find((p) => p.id === id)!.ok;
  const missing = (ids: ProbeId[]) =>
    ids
      .filter((id) => !okOf(id))
      .map((id) => `${probes.find((p) => p.id === id)!.label}: ${probes.find((p) => p.id === id)!.detail}`);

  // Neither node-pty nor the engine is needed to run: without them some features work less.
  const limits: string[] = [];
  if (!okOf('node-pty')) limits.push('the Run pane runs programs with pipes, not in a terminal (node-pty cannot load)');
  if (!okOf('native-addon')) {
    limits.push(
      'no secure-FS engine: no secure image is packed or checked, the Files pane and `fs` commands are unavailable',
    );
  }
  const withLimits = (text: string) => (limits.length ? `${text}; limited: ${limits.join('; ')}` : text);

  const hostMissing = missing(['bwrap', 'userns']);
  const host: BackendReport = {
    backend: 'host',
    modes: [{ name: 'sandbox', ready: hostMissing.length === 0, missing: hostMissing }],
    ready: hostMissing.length === 0,
    limits,
    summary:
      hostMissing.length === 0
        ? withLimits(
            'ready: builds Occlum images and runs programs in a bubblewrap sandbox (no enclave, no attestation)',
          )
        : `not ready: ${hostMissing.join('; ')}`,
  };

  const simMissing = missing(['occlum', ...(install ? (['occlum-tools'] as ProbeId[]) : [])]);
  if (install && install.version === null) simMissing.push(`Occlum version unknown: ${install.versionHeader} missing`);
  // occlum skips the AESM wait when lscpu shows sgx_lc (spec 1.2).
  const hwMissing = [
    ...simMissing,
    ...missing(['sgx-device', 'fsgsbase', ...(flags.has('sgx_lc') ? [] : (['aesmd'] as ProbeId[]))]),
  ];
  const occlumReady = simMissing.length === 0;
  const occlum: BackendReport = {
    backend: 'occlum',
    modes: [
      { name: 'SIM', ready: simMissing.length === 0, missing: simMissing },
      { name: 'HW', ready: hwMissing.length === 0, missing: hwMissing },
    ],
    ready: occlumReady,
    limits: okOf('occlum') ? limits : [],
    summary: !okOf('occlum')
      ? 'absent: Occlum is not installed (the host backend is used instead)'
      : hwMissing.length === 0
        ? withLimits('ready: SIM and HW modes')
        : occlumReady
          ? withLimits(`ready for SIM mode only; HW mode lacks: ${hwMissing.join('; ')}`)
          : `not ready: ${simMissing.join('; ')}`,
  };
  return { occlum: install, kernel, probes, backends: [host, occlum], ok: host.ready || occlum.ready };
}
