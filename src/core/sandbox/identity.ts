// Who a sandboxed program is on the host. A program in Occlum sees itself as root; here it is
// uid 0 of its own user namespace, mapped to an unprivileged host uid, so the kernel never gives
// it host-root powers (DAC on host-owned files, /proc/sys, which checks the global uid).
//   - studio as a normal user: that user (unshare --map-root-user), who owns the instance;
//   - studio as root: SANDBOX_UID, through idmapped mounts of the layers (native stager) on
//     which root-owned files appear owned by it, so the program still owns its file system.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot } from '../detect/project-root.ts';

/** Host uid and gid of programs when the studio runs as root; no user or file has them. */
export const SANDBOX_UID = 65533;

export interface SandboxIdentity {
  /** The studio runs as root: the launcher stages idmapped layers and drops to `uid`. */
  privileged: boolean;
  /** Host ids the program runs as (uid 0 inside its user namespace). */
  uid: number;
  gid: number;
}

export function sandboxIdentity(): SandboxIdentity {
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return { privileged: true, uid: SANDBOX_UID, gid: SANDBOX_UID };
  return { privileged: false, uid, gid: process.getgid?.() ?? uid };
}

/**
 * The stager binary (native/src/bin/occlum-studio-stage.rs), built by `npm run build:native`:
 * in the project's native/, or in a native/ beside this module when it is bundled elsewhere (the
 * stand-in Occlum install carries its own copy, as it does the addon).
 */
export function stagerPath(): string | null {
  return nativeBinary('occlum-studio-stage');
}

/** The fork shim (native/src/bin/occlum-studio-forkshim.rs), found as the stager is. */
export function forkShimPath(): string | null {
  return nativeBinary('occlum-studio-forkshim');
}

function nativeBinary(name: string): string | null {
  const root = projectRoot();
  const candidates = [
    ...(root ? [join(root, 'native', name)] : []),
    join(dirname(fileURLToPath(import.meta.url)), 'native', name),
  ];
  return candidates.find((p) => existsSync(p)) ?? null;
}
