// The stand-in's "enclave boot", done by occlum-run and the exec server before any program runs,
// with the files the build produced and in Occlum's order (boot_flow.md): the signed enclave and
// its SGX mode (which PAL the build linked), the protected config checked against the MAC
// patched into the LibOS's .builtin_config, the init FS against its MAC (image_config.json and,
// for an encrypted image, the built-in image key), the root image against its MAC and key. Then
// the image is materialised for the host sandbox (a plain copy per image MAC) and the mount plan
// is made from the *built* config. Failures print what Occlum prints and exit like occlum-run.
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { decodeIntegrityOnly } from '../../src/core/backend/host/protected-file.ts';
import { RuntimeLog } from '../../src/core/backend/host/log.ts';
import { extract, openImage, parseDashed16, type KeyMode } from '../../src/core/securefs/index.ts';
import { missingMountPoints, planMounts, type MountPlan } from '../../src/core/sandbox/mounts.ts';
import { readRuntimeConfig, type RuntimeConfig } from '../../src/core/sandbox/runtime-config.ts';
import { readElfSection } from './elf-section.ts';
import { readSigstruct } from './sgx-sign.ts';
import { fail } from './cli.ts';

export interface Booted {
  dir: string;
  cfg: RuntimeConfig;
  plan: MountPlan;
  imageMac: string;
  /** Key of the run layer: the image key, or the SGX-simulation auto key of this enclave. */
  runKey: KeyMode;
  log: RuntimeLog;
}

const PAL_ERROR = (what: string, file: string) => `[ERROR] occlum-pal: ${what} (line 1, file ${file})`;

/** The LibOS log on this process's stderr, as occlum-run and the exec server print it. */
export function stderrLog(): RuntimeLog {
  return new RuntimeLog(process.env.OCCLUM_LOG_LEVEL, (r) => process.stderr.write(`${r.line}\n`));
}

/** An enclave panic at boot: Occlum's process dies of SIGILL (spec 1.3.1). */
function enclavePanic(log: RuntimeLog, why: string): never {
  log.error('config', `failed to load config: ${why}`);
  process.stderr.write("thread '<unnamed>' panicked at 'explicit panic', src/config.rs:24:17\n");
  process.kill(process.pid, 'SIGILL');
  return fail('', 132);
}

/** The init stage failing (Occlum's /bin/init exits 1): the PAL says so, occlum-run exits 1. */
function initFailed(reason: string): never {
  process.stderr.write(`Error: ${reason}\n`);
  return fail(PAL_ERROR('The init process exit with code: 1', 'src/pal_api.c'), 1);
}

const NOT_FOUND = 'Os { code: 2, kind: NotFound, message: "No such file or directory" }';

function sgxMode(dir: string): string {
  try {
    const pal = readlinkSync(join(dir, 'build', 'lib', 'libocclum-pal.so.0'));
    return pal.includes('_sim') ? 'SIM' : pal.includes('_hyper') ? 'HYPER' : 'HW';
  } catch {
    return fail(
      `${dir}/build/bin/occlum-run: error while loading shared libraries: libocclum-pal.so.0: cannot open shared object file: No such file or directory`,
      127,
    );
  }
}

export async function bootInstance(dir: string): Promise<Booted> {
  const log = stderrLog();
  const mode = sgxMode(dir);
  if (mode !== 'SIM') {
    // HW and HYPER need SGX (the HW run layer is sealed by the CPU): the stand-in stops where
    // Occlum stops on a machine without SGX.
    fail(
      PAL_ERROR(
        'Failed to create enclave with error code 0x2006: Invalid SGX device. Please make sure SGX module is enabled in the BIOS, and install SGX driver afterwards. (occlum stand-in: only SIM instances run)',
        'src/pal_enclave.c',
      ),
      1,
    );
  }
  const signed = join(dir, 'build', 'lib', 'libocclum-libos.signed.so');
  const sig = existsSync(signed) ? readSigstruct(signed) : null;
  if (!sig)
    fail(
      PAL_ERROR("Failed to create enclave with error code 0x200f: Can't open enclave file.", 'src/pal_enclave.c'),
      1,
    );
  log.debug('entry', `occlum stand-in: SIM enclave ${sig.mrenclave} (no SGX; programs run in the host sandbox)`);
  // Config: the protected file must be intact and be the one whose MAC the build patched in.
  const builtin = readElfSection(signed, '.builtin_config')?.toString('latin1').replace(/\0.*$/s, '').trim() ?? '';
  let sysText: string;
  try {
    const pf = decodeIntegrityOnly(
      readFileSync(join(dir, 'build', '.Occlum_sys.json.protected')),
      '.Occlum_sys.json.protected',
    );
    if (pf.mac !== builtin)
      enclavePanic(
        log,
        `EINVAL (#22, Invalid argument): unexpected file MAC (config ${pf.mac}, enclave ${builtin || 'none'})`,
      );
    sysText = pf.data.toString('utf8');
  } catch (e) {
    return enclavePanic(log, `EINVAL (#22, Invalid argument): ${(e as Error).message}`);
  }
  let sys: {
    env?: unknown;
    process?: unknown;
    resource_limits?: { user_space_max_size?: string };
    app?: { stage: string; entry_points: unknown; mount: unknown[] }[];
  };
  try {
    sys = JSON.parse(sysText);
  } catch (e) {
    return enclavePanic(log, (e as Error).message);
  }
  const init = sys.app?.find((a) => a.stage === 'init');
  const app = sys.app?.find((a) => a.stage === 'app');
  if (!init || !app) return enclavePanic(log, 'the internal config has no init or app stage');
  const layerMac = (stage: { mount: unknown[] }) =>
    ((stage.mount[0] as { options?: { layers?: { options?: { MAC?: string } }[] } })?.options?.layers ?? []).find(
      (l) => l.options?.MAC !== undefined,
    )?.options?.MAC ?? '';
  // Init stage: its FS must match the MAC in the config.
  const initMac = layerMac(init);
  let initFs;
  try {
    initFs = openImage(join(dir, 'build', 'initfs', '__ROOT'), { kind: 'integrity-only' }, initMac);
    if (initFs.rootMac !== initMac) throw new Error(`root MAC ${initFs.rootMac} is not the configured ${initMac}`);
  } catch (e) {
    log.error('fs', `the init FS cannot be mounted: ${(e as Error).message}`);
    return fail(
      `failed to boot up LibOS: EACCES (#13, Permission denied): ${(e as Error).message}\n${PAL_ERROR('Failed to run the init process: EACCES', 'src/pal_api.c')}`,
      1,
    );
  }
  let imageType = 'integrity-only';
  try {
    imageType = JSON.parse(initFs.readFile('/etc/image_config.json').toString('utf8')).image_type ?? imageType;
  } catch {
    initFailed(NOT_FOUND);
  }
  let imageKey: KeyMode = { kind: 'integrity-only' };
  if (imageType === 'encrypted') {
    let keyText: string;
    try {
      keyText = initFs.readFile('/etc/image_key').toString('utf8');
    } catch {
      return initFailed(NOT_FOUND);
    }
    const key = parseDashed16(keyText);
    if (!key) return initFailed('"invalid key"');
    imageKey = { kind: 'image-key', key };
  }
  // Root image: MAC from the config, opened with the key init got.
  const rootMount = (app.mount as { target?: string; type?: string }[]).find(
    (m) => m.target === '/' && m.type === 'unionfs',
  );
  const imageMac = rootMount ? layerMac({ mount: [rootMount] }) : '';
  const imageRoot = join(dir, 'build', 'mount', '__ROOT');
  let view;
  try {
    view = openImage(imageRoot, imageKey, imageMac);
    if (view.rootMac !== imageMac) throw new Error(`root MAC ${view.rootMac} is not the configured ${imageMac}`);
  } catch (e) {
    log.error('fs', `mount_rootfs: ${(e as Error).message}`);
    return initFailed(`"mount rootfs failed: ${(e as Error).message}"`);
  }
  // The image as plain files for the sandbox, once per image MAC (build/ is rewritten by every build).
  const cache = join(dir, 'build', '.standin');
  const lower = join(cache, `rootfs-${imageMac}`);
  if (!existsSync(lower)) {
    mkdirSync(cache, { recursive: true });
    for (const old of readdirSync(cache)) rmSync(join(cache, old), { recursive: true, force: true });
    const tmp = `${lower}.tmp-${process.pid}`;
    await extract(view, '/', tmp);
    renameSync(tmp, lower);
  }
  const cfg = readRuntimeConfig(
    JSON.stringify({
      entry_points: app.entry_points,
      env: sys.env,
      mount: app.mount,
      process: sys.process,
      resource_limits: { user_space_size: sys.resource_limits?.user_space_max_size },
      metadata: { debuggable: sig.debuggable },
    }),
    'build/.Occlum_sys.json.protected',
  );
  const state = join(dir, 'run', '.standin');
  const plan = planMounts(cfg, dir, {
    lower,
    upper: join(state, 'upper'),
    work: join(state, 'work'),
    merged: join(state, 'merged'),
    ramfs: join(state, 'ramfs'),
    sefs: join(state, 'sefs'),
  });
  const missing = missingMountPoints(plan);
  if (missing.length) {
    fail(
      `failed to boot up LibOS: ENOENT (#2, No such file or directory): mount point ${missing.join(', ')} does not exist\n${PAL_ERROR('Failed to run the init process: ENOENT', 'src/pal_api.c')}`,
      1,
    );
  }
  for (const d of Object.values(plan.layers)) mkdirSync(d, { recursive: true });
  for (const m of plan.mounts) {
    if (m.kind === 'tmpfs') mkdirSync(m.staging, { recursive: true });
    if (m.kind === 'bind' && m.source.startsWith(plan.layers.sefs)) mkdirSync(m.source, { recursive: true });
  }
  const runKey: KeyMode =
    imageKey.kind === 'image-key'
      ? imageKey
      : {
          kind: 'sgx-sim',
          mrsigner: Uint8Array.from(Buffer.from(sig.mrsigner, 'hex')),
          productId: sig.prodId,
          isvSvn: sig.isvSvn,
          debuggable: sig.debuggable,
        };
  log.info('entry', `LibOS booted (occlum stand-in, SIM mode): image ${imageMac}, ${imageType}`);
  return { dir, cfg, plan, imageMac, runKey, log };
}
