// The config files of a host build: Occlum.json with the image MAC filled in plus the host
// section, its integrity-only protected copy, the pin of that copy's MAC, and image_config.json.
// Written by the staged build (into its temp dir) and by the in-place build and its recovery
// (atomically, pin last: until then a run sees the previous pin and refuses the new config).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../instance/atomic.ts';
import { encodeIntegrityOnly } from './protected-file.ts';

/** Occlum.json with the image MAC filled in, plus the host section (see docs/backends.md). */
function sysConfig(
  userJson: Record<string, unknown>,
  rootMac: string,
  host: Record<string, unknown>,
): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(userJson)) as Record<string, unknown>;
  const mounts = Array.isArray(copy.mount) ? (copy.mount as Record<string, unknown>[]) : [];
  for (const m of mounts) {
    if (m?.target !== '/' || typeof m.options !== 'object' || m.options === null) continue;
    const layers = (m.options as { layers?: Record<string, unknown>[] }).layers ?? [];
    for (const l of layers) {
      if (l && typeof l.options === 'object' && l.options !== null && 'MAC' in l.options)
        (l.options as Record<string, unknown>).MAC = rootMac;
    }
  }
  copy.host = host;
  return copy;
}

/** Writes the config files of a build into `buildDir` (host files into `hostDir`): the pinned MAC and the config. */
export function writeBuildConfig(
  buildDir: string,
  hostDir: string,
  configText: string,
  rootMac: string,
  /** MAC of the image-layer manifest's files (base ‖ delta, deltas.ts). */
  manifestMac: string,
  imageType: 'encrypted' | 'integrity-only',
  secureImage: boolean,
  atomic: boolean,
): { mac: string; sysText: string } {
  const write = atomic
    ? (file: string, data: string | Uint8Array) => writeFileAtomic(file, data, 0o644, false)
    : writeFileSync;
  const sys = sysConfig(JSON.parse(configText) as Record<string, unknown>, rootMac, {
    manifest_sha256: manifestMac,
    image_type: imageType,
    secure_image: secureImage,
  });
  const sysText = JSON.stringify(sys, null, 4) + '\n';
  write(join(buildDir, '.Occlum_sys.json'), sysText);
  // An integrity-only protected file, as occlum-protect-integrity writes it; its MAC is pinned
  // where Occlum patches it into the LibOS (.builtin_config).
  const prot = encodeIntegrityOnly(Buffer.from(sysText), '.Occlum_sys.json.protected');
  write(join(buildDir, '.Occlum_sys.json.protected'), prot.bytes);
  write(join(buildDir, 'image_config.json'), JSON.stringify({ image_type: imageType }) + '\n');
  write(join(hostDir, 'builtin_config'), prot.mac);
  return { mac: prot.mac, sysText };
}
