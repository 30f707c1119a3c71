// `occlum mount` is the fallback for what the native secure-FS reader cannot open: the run layer
// of a HW-mode instance, whose auto key is bound to this machine's SGX (spec 4.4). It needs FUSE,
// an existing empty mount point, a built instance nobody is running, SGX for HW instances, and
// the same --sign-key/--sign-tool/--image-key as the build. All of that is checked first, with
// the fix for each, because the CLI itself fails late and cryptically (e.g. `fuse: device not found`).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { instanceState } from '../../detect/instance-state.ts';
import { SGX_DEVICES } from '../../detect/machine.ts';
import { readBuildKeys } from './build-keys.ts';
import { callEnv } from './cli.ts';
import { MAX_SMALL_FILE_BYTES, readGeneratedText } from '../../instance/safe-read.ts';
import { instancePaths } from '../../instance/layout.ts';

export interface MountRequest {
  dir: string;
  mountPoint: string;
  /** Defaults: the keys recorded by the studio's last build of this instance. */
  signKey?: string;
  signTool?: string;
  imageKey?: string;
}

export interface MountPlan {
  args: string[];
  problems: string[];
}

/** Which image layers need `occlum mount` at all: only the run layer of HW(-like) instances. */
export function needsOcclumMount(dir: string): boolean {
  let mode = 'HW';
  try {
    mode = readGeneratedText(instancePaths(dir).sgxMode, '.sgx_mode', MAX_SMALL_FILE_BYTES).trim();
  } catch {
    /* unbuilt: HW is Occlum's default */
  }
  return mode === 'HW' || mode === 'HYPER';
}

export function planMount(req: MountRequest, devices = { fuse: '/dev/fuse', ...SGX_DEVICES }): MountPlan {
  const problems: string[] = [];
  const dir = resolve(req.dir);
  const s = instanceState(dir);
  if (s.status === 'uninitialized') problems.push(`${dir} is not an Occlum instance`);
  else if (s.status === 'initialized' || s.status === 'built-stale')
    problems.push('the instance is not built (run/mount/__ROOT is missing): build it first');
  if (s.status === 'running' || s.status === 'serving' || s.status === 'debugging') {
    problems.push(
      'the instance is in use (occlum run/start): stop it first; mounting its file system while the enclave writes to it is not supported',
    );
  }
  const mnt = resolve(req.mountPoint);
  if (!existsSync(mnt)) problems.push(`mount point ${mnt} does not exist: create an empty directory`);
  else if (!statSync(mnt).isDirectory()) problems.push(`mount point ${mnt} is not a directory`);
  else if (readdirSync(mnt).length > 0) problems.push(`mount point ${mnt} is not empty`);
  if (!existsSync(devices.fuse)) {
    problems.push(
      `${devices.fuse} is missing: load FUSE (modprobe fuse); in Docker add --device /dev/fuse --cap-add SYS_ADMIN`,
    );
  }
  const mode = s.sgxMode ?? 'HW';
  if (mode === 'HW' && !existsSync(devices.enclave) && !existsSync(devices.legacy)) {
    problems.push(
      'this HW-mode instance can only be mounted with SGX (the mount tool runs in an enclave): no SGX device here',
    );
  }
  const rec = readBuildKeys(dir);
  const signKey = req.signKey ?? rec?.signKey.path;
  const signTool = req.signTool ?? rec?.signTool?.path;
  const imageKey = req.imageKey ?? rec?.imageKey?.path;
  let encrypted = false;
  try {
    encrypted =
      JSON.parse(readGeneratedText(instancePaths(dir).imageConfig, 'build/image_config.json')).image_type ===
      'encrypted';
  } catch {
    /* no image config: integrity-only */
  }
  if (encrypted && !imageKey) problems.push('the image is encrypted: give the --image-key file the build used');
  if (!rec && !req.signKey) {
    problems.push(
      'no record of the signing key the build used: pass it (the run layer key derives from MRSIGNER, so it must match)',
    );
  }
  for (const [name, p] of [
    ['sign key', signKey],
    ['sign tool', signTool],
    ['image key', imageKey],
  ] as const) {
    if (p && !existsSync(p)) problems.push(`${name} ${p} does not exist`);
  }
  const args = ['mount'];
  if (signKey) args.push('--sign-key', signKey);
  if (signTool) args.push('--sign-tool', signTool);
  if (imageKey) args.push('--image-key', imageKey);
  args.push(mnt);
  return { args, problems };
}

export interface MountHandle {
  child: ChildProcess;
  mountPoint: string;
  /** Output so far (the CLI's progress lines, then sefs-cli's). */
  output(): string;
  /** Ends when `occlum mount` returns (after unmount, or on failure). */
  exited: Promise<number>;
  unmount(): Promise<number>;
}

/** Starts `occlum mount` (which blocks until unmounted) after the plan has no problems. */
export function startMount(
  bin: string,
  req: MountRequest,
  plan: MountPlan,
  env: NodeJS.ProcessEnv = process.env,
): MountHandle {
  const dir = resolve(req.dir);
  const child = spawn(bin, plan.args, { cwd: dir, env: callEnv(dir, env), stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.on('data', (c: Buffer) => (text += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (text += c.toString('utf8')));
  const exited = new Promise<number>((res) => child.on('exit', (code, sig) => res(code ?? (sig ? 128 : 1))));
  const mountPoint = resolve(req.mountPoint);
  return {
    child,
    mountPoint,
    output: () => text,
    exited,
    async unmount() {
      // The documented way out is `umount <mnt>` (or Ctrl-C); fusermount -u works unprivileged.
      const u = spawnSync('fusermount', ['-u', mountPoint], { encoding: 'utf8' });
      if (u.status !== 0) spawnSync('umount', [mountPoint], { encoding: 'utf8' });
      const t = setTimeout(() => child.kill('SIGINT'), 3000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}
