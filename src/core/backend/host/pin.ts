// The config pin: Occlum patches the MAC of .Occlum_sys.json.protected into the signed LibOS,
// so MRENCLAVE covers the config, which covers the image MAC. The host backend has no
// enclave; it keeps the same chain with the pin in build/host/builtin_config. Without a
// secret this proves consistency, not tamper-evidence against a deliberate attacker (as for
// Occlum's own integrity-only images, securefs-format.md 4.5).
import { createHash } from 'node:crypto';

/** 16 bytes as Occlum prints MACs: "xx-xx-…-xx" (47 chars). */
export function macString(bytes: Uint8Array): string {
  return [...bytes.subarray(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('-');
}

export function contentMac(data: Uint8Array | string): string {
  return macString(createHash('sha256').update(data).digest());
}
