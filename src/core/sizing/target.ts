// The Occlum version a recommendation is for: given, else the instance's settings, else the
// version the config's shape shows (as `check` decides).
import { parseTree } from 'jsonc-parser';
import { readSettings } from '../config/settings.ts';
import { detectVersion, resolveVersion, type VersionId } from '../config/versions.ts';

export function targetVersion(
  text: string,
  instanceDir: string,
  given?: string,
): { version: VersionId; problems: string[] } {
  if (given !== undefined) {
    const r = resolveVersion(given);
    if (r.ok) return { version: r.id, problems: [] };
    return { version: detectVersion(parseTree(text)).version, problems: [`--occlum-version: ${r.message}`] };
  }
  const s = readSettings(instanceDir);
  if (s.occlumVersion) return { version: s.occlumVersion, problems: s.problems };
  return { version: detectVersion(parseTree(text)).version, problems: s.problems };
}
