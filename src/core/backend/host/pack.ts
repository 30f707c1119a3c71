// Packing image/ into Occlum's secure-FS format (build/mount/__ROOT + .ROOT_MAC) with the native
// engine (src/core/securefs), and checking it before runs. The sandbox itself runs from the
// plain image layer (build/host/rootfs, pinned by its manifest); the packed image is what an
// Occlum enclave would mount, verified here so a tampered build is refused either way.
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { yielder } from './yield.ts';
import type { KeyMode, Progress, VerifyReport } from '../../securefs/types.ts';

export interface PackRequest {
  src: string;
  outRoot: string;
  macFile: string;
  /** __ROOT of the last good build, reused for unchanged files (incremental). */
  previousRoot: string | null;
  imageKeyFile: string | null;
  onProgress?: (p: Progress) => void;
}

export type PackOutcome =
  | { ok: true; rootMac: string; filesPacked: number; filesReused: number; ms: number }
  | { ok: false; note: string };

/**
 * Hard-links every file of the previous image into the new build (the packer never writes in
 * place). One link per file, no stat (the directory entry says it is a file); yields to the
 * event loop every few ms.
 */
async function seedFromPrevious(prev: string, out: string): Promise<void> {
  mkdirSync(out, { recursive: true });
  const pause = yielder();
  for (const d of readdirSync(prev, { withFileTypes: true })) {
    if (!d.isFile()) continue;
    const s = join(prev, d.name);
    try {
      linkSync(s, join(out, d.name));
    } catch {
      copyFileSync(s, join(out, d.name));
    }
    const w = pause();
    if (w) await w;
  }
}

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
    if (req.previousRoot && existsSync(join(req.previousRoot, 'metadata'))) await seedFromPrevious(req.previousRoot, req.outRoot);
    const r = await fs.packImage({ src: req.src, outRoot: req.outRoot, macFile: req.macFile, key, incremental: true, onProgress: req.onProgress });
    return { ok: true, rootMac: r.rootMac, filesPacked: r.filesPacked, filesReused: r.filesReused, ms: r.ms };
  } catch (err) {
    return { ok: false, note: `secure image not packed (${(err as Error).message}); runs are pinned by the image-layer manifest only` };
  }
}

/** Keeps the image key with the build (like `--buildin-image-key`), so runs can verify the image. */
export function storeImageKey(keyFile: string, dest: string): void {
  copyFileSync(keyFile, dest);
  chmodSync(dest, 0o600);
}

export async function verifySecureImage(root: string, expectedMac: string, keyFile: string | null): Promise<VerifyReport> {
  const fs = await engine();
  return fs.verifyImage(root, await keyFromFile(keyFile), expectedMac);
}
