// Per-instance studio settings (.occlum-studio.json in the instance dir): the Occlum version
// to check against, overriding detection. Malformed settings are reported, never thrown.
import { join } from 'node:path';
import { parse, type ParseError } from 'jsonc-parser';
import { resolveVersion, type VersionId } from './versions.ts';
import { readConfigText, UnsafeFileError } from '../instance/safe-read.ts';

export const SETTINGS_FILE = '.occlum-studio.json';

export interface StudioSettings {
  occlumVersion?: VersionId;
  /** Problems with the settings file, for the caller to show. */
  problems: string[];
}

export function readSettings(instanceDir: string): StudioSettings {
  const file = join(instanceDir, SETTINGS_FILE);
  let text: string;
  try {
    text = readConfigText(file, SETTINGS_FILE);
  } catch (err) {
    // Absent: no settings. Not a regular file or too big: say so (reading it could block).
    return { problems: err instanceof UnsafeFileError ? [`${err.message}; ignored`] : [] };
  }
  const errors: ParseError[] = [];
  const value = parse(text, errors, { allowTrailingComma: true });
  if (errors.length > 0 || typeof value !== 'object' || value === null) {
    return { problems: [`${file}: not a JSON object; ignored`] };
  }
  const raw = (value as Record<string, unknown>).occlumVersion;
  if (raw === undefined) return { problems: [] };
  if (typeof raw !== 'string')
    return { problems: [`${file}: occlumVersion must be a string such as "0.31.0"; ignored`] };
  const r = resolveVersion(raw);
  if (!r.ok) return { problems: [`${file}: occlumVersion ${r.message}; ignored`] };
  return { occlumVersion: r.id, problems: [] };
}
