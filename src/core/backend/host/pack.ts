// Packing image/ into Occlum's secure-FS format (build/mount/__ROOT + .ROOT_MAC) through
// src/core/securefs. Reports plainly when the engine is not available, and the build says so.
import type { Progress } from '../../securefs/types.ts';

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

export async function packSecureImage(_req: PackRequest): Promise<PackOutcome> {
  return {
    ok: false,
    note: 'secure image not packed: the secure-FS engine (src/core/securefs) is not wired in yet; runs are pinned by the image-layer manifest only',
  };
}
