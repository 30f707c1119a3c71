// Reading a real instance's secure FS with the native reader (src/core/securefs): build/mount
// (the image, integrity-only or with the image key), build/initfs, and the run layer where its key
// can be derived here — the image key, or the SGX-simulation auto key of a SIM-mode instance. The
// HW run layer is sealed with this machine's SGX: only `occlum mount` (mount.ts) can open it.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { openImage, openUnion, readImageKeyFile, sgxSimKey, type FsView, type KeyMode } from '../../securefs/index.ts';
import { readBuildKeys } from './build-keys.ts';
import { MAX_SMALL_FILE_BYTES, readGeneratedText } from '../../instance/safe-read.ts';
import { instancePaths } from '../../instance/layout.ts';
import { readInstanceMetadata } from '../../config/metadata.ts';
import { imageAbsence, incompleteImageMessage } from '../../securefs/absence.ts';
import { BUILTIN_KEY_PATH, builtinImageKey, encryptedByHeader } from '../../securefs/builtin-key.ts';

export type FsLayer = 'image' | 'initfs' | 'merged';

export class SecureFsError extends Error {}

export interface OpenFsOptions {
  layer?: FsLayer;
  /** Image key file; default: the one recorded by the studio's last build. */
  imageKey?: string;
  /**
   * Signing key of the build (SIM auto key); default: the recorded one, else Occlum's published
   * default key (the backend passes its install's etc/template/Enclave.pem instead).
   */
  signKey?: string;
}

function imageType(dir: string): 'encrypted' | 'integrity-only' {
  // The header first: build/image_config.json is missing from packaged instances and stale after
  // a key change built without -f.
  const header = encryptedByHeader(instancePaths(dir).buildRoot);
  if (header !== undefined) return header ? 'encrypted' : 'integrity-only';
  try {
    return JSON.parse(readGeneratedText(instancePaths(dir).imageConfig, 'build/image_config.json')).image_type ===
      'encrypted'
      ? 'encrypted'
      : 'integrity-only';
  } catch {
    return 'integrity-only';
  }
}

/** The key of build/mount. */
export function imageKeyMode(dir: string, imageKey?: string): KeyMode {
  if (imageType(dir) !== 'encrypted') return { kind: 'integrity-only' };
  const file = imageKey ?? readBuildKeys(dir)?.imageKey?.path;
  if (!file) {
    let builtin: KeyMode | null = null;
    try {
      builtin = builtinImageKey(instancePaths(dir).buildInitfsRoot);
    } catch {
      // Unreadable: as if absent; the message below names the way out.
    }
    if (builtin) return builtin;
    throw new SecureFsError(
      `the image is encrypted: give the image key file the build used (it was not built in: the initfs has no ${BUILTIN_KEY_PATH})`,
    );
  }
  if (!existsSync(file)) throw new SecureFsError(`image key file ${file} does not exist`);
  return readImageKeyFile(resolve(dir, file));
}

function metadataOf(dir: string): { productId: number; isvSvn: number; debuggable: boolean } {
  const m = readInstanceMetadata(dir);
  return { productId: Number(m.productId ?? 0), isvSvn: Number(m.isvSvn ?? 0), debuggable: m.debuggable !== false };
}

export function openInstanceFs(dir: string, opts: OpenFsOptions = {}): FsView {
  const layer = opts.layer ?? 'merged';
  const p = instancePaths(dir);
  const imageRoot = p.buildRoot;
  if (layer === 'initfs') return openImage(p.buildInitfsRoot);
  const absence = imageAbsence(imageRoot);
  if (absence.kind === 'incomplete') throw new SecureFsError(incompleteImageMessage(imageRoot, absence.hostFiles));
  if (absence.kind === 'not-built')
    throw new SecureFsError('build/mount/__ROOT has no image: build the instance first');
  const key = imageKeyMode(dir, opts.imageKey);
  const runRoot = p.runRoot;
  if (layer === 'image') return openImage(imageRoot, key);
  const run = imageAbsence(runRoot);
  if (run.kind === 'incomplete') throw new SecureFsError(incompleteImageMessage(runRoot, run.hostFiles, true));
  if (run.kind === 'not-built') return openImage(imageRoot, key);
  if (key.kind === 'image-key') return openUnion(imageRoot, runRoot, { imageKey: key });
  let mode = 'HW';
  try {
    mode = readGeneratedText(p.sgxMode, '.sgx_mode', MAX_SMALL_FILE_BYTES).trim();
  } catch {
    /* HW is the default */
  }
  if (mode === 'HW' || mode === 'HYPER') {
    throw new SecureFsError(
      `the run layer of this ${mode}-mode instance is sealed with this machine's SGX key: open the image layer alone, or use occlum mount (needs SGX and FUSE)`,
    );
  }
  const signKey = opts.signKey ?? readBuildKeys(dir)?.signKey.path;
  const md = metadataOf(dir);
  let runKey: KeyMode;
  try {
    runKey = sgxSimKey({ ...(signKey && existsSync(signKey) ? { signKeyPath: signKey } : {}), ...md });
  } catch {
    // Not an RSA key: Occlum's published default development key.
    runKey = sgxSimKey(md);
  }
  return openUnion(imageRoot, runRoot, { imageKey: key, runKey });
}
