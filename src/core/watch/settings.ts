// The studio settings file of an instance, `<instance>/.occlum-studio.json` (JSON with comments):
//
//   { "prebuild": "make", "watch": ["src/**/*.c"], "autoBuild": true, "autoRerun": true,
//     "debounceMs": 100 }
//
// Every key is optional; the file itself is optional. Mistakes are reported with file:line:col,
// what is wrong and how to fix it, because a silently ignored typo ("autorerun") would leave the
// user wondering why the loop does not rerun.
import { dirname, join } from 'node:path';
import { parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import { LineIndex } from '../config/location.ts';
import { bomWatchPaths } from '../bom/watch-paths.ts';
import { effectiveIncludeDirs } from '../bom/run.ts';
import { compileGlob, exactFile, wholeTree, type SourceGlob } from './glob.ts';
import { SETTINGS_FILE } from './scope.ts';
import { resolveVersion } from '../config/versions.ts';
import { readConfigText } from '../instance/safe-read.ts';

export interface StudioSettings {
  /** Shell command run in the instance dir (sh -c) before a build when sources changed. */
  prebuild: string | null;
  /** Source globs, relative to the instance dir (may point outside it, e.g. ../app/*.c). */
  watch: string[];
  autoBuild: boolean;
  autoRerun: boolean;
  /** Quiet time after the last file event before a change set is built (writes are done). */
  debounceMs: number;
  /** Occlum version the config is checked against (read by src/core/config/settings.ts). */
  occlumVersion: string | null;
  /** Bom files (relative to the instance dir) copied into image/ before each build, in order. */
  bom: string[];
  /** Include dirs for the boms (copy_bom's --include-dir), relative to the instance dir. */
  bomIncludeDirs: string[];
  /** Keep run/ (the program's writable layer) across dev-loop rebuilds. */
  keepRun: boolean;
}

export const DEFAULT_SETTINGS: StudioSettings = {
  prebuild: null,
  watch: [],
  autoBuild: true,
  autoRerun: true,
  debounceMs: 100,
  occlumVersion: null,
  bom: [],
  bomIncludeDirs: [],
  keepRun: false,
};

export const DEBOUNCE_RANGE = { min: 10, max: 10_000 };

export class SettingsError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}:${column}: ${detail}`);
  }
}

export interface LoadedSettings {
  settings: StudioSettings;
  sources: SourceGlob[];
  /** Absolute path of the settings file, or null when the instance has none. */
  file: string | null;
}

export function settingsPath(instanceDir: string): string {
  return join(instanceDir, SETTINGS_FILE);
}

/** Reads and validates the settings of an instance. Throws SettingsError on a malformed file. */
export function loadSettings(instanceDir: string): LoadedSettings {
  const file = settingsPath(instanceDir);
  let text: string;
  try {
    text = readConfigText(file, SETTINGS_FILE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      return { settings: { ...DEFAULT_SETTINGS }, sources: [], file: null };
    throw new SettingsError(file, 1, 1, `cannot read the settings file: ${(err as Error).message}`);
  }
  const settings = parseSettings(text, file);
  return { settings, sources: sourcesOf(settings, instanceDir), file };
}

/**
 * The watched sources: the `watch` globs, and for each bom the bom files, the files and the
 * directories it copies (read from the boms as they are now; recomputed after every copy).
 */
/** Watching it would walk the whole file system or a kernel one (and use up inotify watches). */
export function tooWide(base: string): boolean {
  return base === '/' || /^\/(proc|sys|dev)(\/|$)/.test(base);
}

export function sourcesOf(settings: StudioSettings, instanceDir: string, env = process.env): SourceGlob[] {
  const out = settings.watch.map((p) => compileGlob(p, instanceDir));
  const includeDirs = effectiveIncludeDirs(settings.bomIncludeDirs, env);
  for (const bom of settings.bom) {
    const paths = bomWatchPaths(bom, 'image', includeDirs, instanceDir, env);
    out.push(...paths.files.map(exactFile), ...paths.dirs.map(wholeTree));
  }
  // A bom copying "/" or /proc is copied, not watched (the copy reports what it reads).
  return out.filter((g) => !tooWide(g.base));
}

const KEYS: Record<keyof StudioSettings, string> = {
  prebuild: 'a shell command string such as "make", or null',
  watch: 'an array of glob strings such as ["src/**/*.c"]',
  autoBuild: 'true or false',
  autoRerun: 'true or false',
  debounceMs: `an integer number of milliseconds, ${DEBOUNCE_RANGE.min}..${DEBOUNCE_RANGE.max}`,
  occlumVersion: 'an Occlum version string such as "0.31.0"',
  bom: 'an array of bom files such as ["../app.yaml"] (copied into image/ before each build)',
  bomIncludeDirs: 'an array of directories such as ["/opt/occlum/etc/template"]',
  keepRun: 'true or false',
};

export function parseSettings(text: string, file: string): StudioSettings {
  const lines = new LineIndex(text);
  const fail = (offset: number, detail: string): never => {
    const { line, column } = lines.position(offset);
    throw new SettingsError(file, line, column, detail);
  };
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0) {
    const e = errors[0]!;
    fail(
      e.offset,
      `not valid JSON (${printParseErrorCode(e.error)}); fix the syntax or delete the file to use the defaults`,
    );
  }
  if (!root || root.type !== 'object') {
    return fail(
      root?.offset ?? 0,
      'the settings must be a JSON object, e.g. { "prebuild": "make", "watch": ["src/**/*.c"] }',
    );
  }
  const out: StudioSettings = { ...DEFAULT_SETTINGS, watch: [], bom: [], bomIncludeDirs: [] };
  const seen = new Set<string>();
  for (const prop of root.children ?? []) {
    const [keyNode, value] = prop.children as [Node, Node | undefined];
    const key = String(keyNode.value);
    if (!(key in KEYS)) {
      const near = Object.keys(KEYS).find((k) => k.toLowerCase() === key.toLowerCase());
      fail(
        keyNode.offset,
        `unknown key "${key}"${near ? `; did you mean "${near}"?` : ''} (known keys: ${Object.keys(KEYS).join(', ')})`,
      );
    }
    if (seen.has(key)) fail(keyNode.offset, `duplicate key "${key}"; keep one`);
    seen.add(key);
    if (!value) continue;
    const expect = () =>
      fail(value.offset, `"${key}" must be ${KEYS[key as keyof StudioSettings]}, not ${describe(value)}`);
    switch (key as keyof StudioSettings) {
      case 'prebuild':
        if (value.type === 'null') out.prebuild = null;
        else if (value.type === 'string' && String(value.value).trim() !== '') out.prebuild = String(value.value);
        else expect();
        break;
      case 'watch':
        if (value.type !== 'array') expect();
        for (const item of value.children ?? []) {
          if (item.type !== 'string' || String(item.value).trim() === '') {
            fail(
              item.offset,
              `each "watch" entry must be a non-empty glob string such as "src/**/*.c", not ${describe(item)}`,
            );
          }
          const pattern = String(item.value);
          let glob: SourceGlob | undefined;
          try {
            glob = compileGlob(pattern, dirname(file));
          } catch (err) {
            fail(item.offset, `${(err as Error).message}; fix the pattern`);
          }
          if (glob && tooWide(glob.base))
            fail(
              item.offset,
              `"watch" entry "${pattern}" would watch everything below ${glob.base} ` +
                "(inotify watches run out for every program of the user); name the project's source directory",
            );
          out.watch.push(pattern);
        }
        break;
      case 'bom':
      case 'bomIncludeDirs':
        if (value.type !== 'array') expect();
        for (const item of value.children ?? []) {
          if (item.type !== 'string' || String(item.value).trim() === '') {
            fail(item.offset, `each "${key}" entry must be a non-empty path, not ${describe(item)}`);
          }
          out[key as 'bom' | 'bomIncludeDirs'].push(String(item.value));
        }
        break;
      case 'autoBuild':
      case 'autoRerun':
      case 'keepRun':
        if (value.type !== 'boolean') expect();
        out[key as 'autoBuild' | 'autoRerun' | 'keepRun'] = Boolean(value.value);
        break;
      case 'debounceMs': {
        const n = value.value;
        if (value.type !== 'number' || !Number.isInteger(n) || n < DEBOUNCE_RANGE.min || n > DEBOUNCE_RANGE.max)
          expect();
        out.debounceMs = n as number;
        break;
      }
      case 'occlumVersion': {
        if (value.type !== 'string') expect();
        const r = resolveVersion(String(value.value));
        if (!r.ok) fail(value.offset, `"occlumVersion": ${r.message}`);
        out.occlumVersion = String(value.value);
        break;
      }
    }
  }
  if (out.watch.length > 0 && out.prebuild === null && out.bom.length === 0) {
    const at = root.children?.find((p) => p.children?.[0]?.value === 'watch')?.offset ?? 0;
    fail(
      at,
      '"watch" lists sources but there is no "prebuild" command (nor "bom") to turn them into image files; ' +
        'add e.g. "prebuild": "make"',
    );
  }
  return out;
}

function describe(node: Node): string {
  switch (node.type) {
    case 'string':
      return `the string ${JSON.stringify(node.value)}`;
    case 'array':
      return 'an array';
    case 'object':
      return 'an object';
    case 'null':
      return 'null';
    default:
      return `${node.type} ${String(node.value)}`;
  }
}
