// Packing image/ into Occlum's secure-FS format (build/mount/__ROOT + .ROOT_MAC) with the native
// engine (src/core/securefs), and checking it before runs. The sandbox itself runs from the
// plain image layer (build/host/rootfs, pinned by its manifest); the packed image is what an
// Occlum enclave would mount, verified here so a tampered build is refused either way.
import { copyFileSync, existsSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyMode, Progress, VerifyReport } from '../../securefs/types.ts';

export interface PackRequest {
  src: string;
  outRoot: string;
  macFile: string;
  /** __ROOT of the last good build, reused for unchanged files (incremental). */
  previousRoot: string | null;
  imageKeyFile: string | null;
  /** Change-set hint for the engine's warm path (paths relative to src; see PackOptions.changed). */
  changed?: string[];
  /** With `changed`: no file of outRoot changed since this process's last pack (see PackOptions). */
  imageUnchanged?: boolean;
  onProgress?: (p: Progress) => void;
}

export type PackOutcome =
  | {
      ok: true;
      rootMac: string;
      filesPacked: number;
      filesReused: number;
      ms: number;
      hostFiles?: { written: string[]; removed: string[] };
    }
  | { ok: false; note: string };

async function engine() {
  return import('../../securefs/index.ts');
}

export async function keyFromFile(file: string | null): Promise<KeyMode> {
  if (!file) return { kind: 'integrity-only' };
  return (await engine()).readImageKeyFile(file);
}

export async function packSecureImage(req: PackRequest): Promise<PackOutcome> {
  try {
    const fs = await engine();
    const key = await keyFromFile(req.imageKeyFile);
    // The previous image's files are hard-linked into the new build by the engine, off the main
    // thread (which stages the image layer meanwhile).
    const seedFrom = req.previousRoot && existsSync(join(req.previousRoot, 'metadata')) ? req.previousRoot : undefined;
    const r = await fs.packImage({
      src: req.src,
      outRoot: req.outRoot,
      macFile: req.macFile,
      key,
      incremental: true,
      seedFrom,
      changed: req.changed,
      imageUnchanged: req.imageUnchanged,
      onProgress: req.onProgress,
    });
    return {
      ok: true,
      rootMac: r.rootMac,
      filesPacked: r.filesPacked,
      filesReused: r.filesReused,
      ms: r.ms,
      hostFiles: r.hostFiles,
    };
  } catch (err) {
    return {
      ok: false,
      note: `secure image not packed (${(err as Error).message}); runs are pinned by the image-layer manifest only`,
    };
  }
}

/** A staged build's image moved into place: the engine's warm state follows it (see packMoved). */
export async function securePackMoved(from: string, to: string): Promise<void> {
  (await engine()).packMoved(from, to);
}

/** Keeps the image key with the build (like `--buildin-image-key`), so runs can verify the image. */
export function storeImageKey(keyFile: string, dest: string): void {
  copyFileSync(keyFile, dest);
  chmodSync(dest, 0o600);
}

export async function verifySecureImage(
  root: string,
  expectedMac: string,
  keyFile: string | null,
): Promise<VerifyReport> {
  const fs = await engine();
  return fs.verifyImage(root, await keyFromFile(keyFile), expectedMac);
}
