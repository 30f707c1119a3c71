// The parts of Occlum.json the runtime acts on (entry points, env, mounts, limits), read
// defensively: the full validation is core/config's job; this only refuses what it cannot run.
import { parseSize } from '../config/sizes.ts';

export interface MountEntry {
  type: string;
  target: string;
  source?: string;
  options: Record<string, unknown>;
}

export interface RuntimeConfig {
  entryPoints: string[];
  envDefault: string[];
  envUntrusted: string[];
  mounts: MountEntry[];
  /** Bytes; null when absent or unparsable. */
  process: { stackSize: number | null; heapSize: number | null; mmapSize: number | null };
  limits: { userSpace: number | null; kernelHeap: number | null; maxThreads: number | null };
  debuggable: boolean;
  disableLog: boolean | undefined;
}

export class RuntimeConfigError extends Error {}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] | null =>
  Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null;

function size(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const r = parseSize(v);
  return r.ok ? r.bytes : null;
}

export function readRuntimeConfig(text: string, file = 'Occlum.json'): RuntimeConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new RuntimeConfigError(
      `${file} is not valid JSON (${(err as Error).message}); Occlum needs strict JSON: no comments, no trailing commas`,
    );
  }
  if (!isObj(json)) throw new RuntimeConfigError(`${file}: the top level must be an object`);
  const entryPoints = strings(json.entry_points);
  if (!entryPoints)
    throw new RuntimeConfigError(`${file}: entry_points must be an array of absolute paths, e.g. ["/bin"]`);
  for (const ep of entryPoints) {
    if (!ep.startsWith('/')) throw new RuntimeConfigError(`${file}: entry point "${ep}" must be an absolute path`);
  }
  const env = json.env;
  if (!isObj(env)) throw new RuntimeConfigError(`${file}: env must be an object with "default" and "untrusted" arrays`);
  const envDefault = strings(env.default);
  const envUntrusted = strings(env.untrusted);
  if (!envDefault || !envUntrusted)
    throw new RuntimeConfigError(`${file}: env.default and env.untrusted must both be arrays of strings`);
  if (!Array.isArray(json.mount)) throw new RuntimeConfigError(`${file}: mount must be an array of mount entries`);
  const mounts: MountEntry[] = json.mount.map((m, i) => {
    if (!isObj(m) || typeof m.type !== 'string' || typeof m.target !== 'string') {
      throw new RuntimeConfigError(`${file}: mount[${i}] needs string "type" and "target"`);
    }
    if (m.source !== undefined && typeof m.source !== 'string')
      throw new RuntimeConfigError(`${file}: mount[${i}].source must be a string`);
    return {
      type: m.type,
      target: m.target,
      source: m.source as string | undefined,
      options: isObj(m.options) ? m.options : {},
    };
  });
  const proc = isObj(json.process) ? json.process : {};
  const rl = isObj(json.resource_limits) ? json.resource_limits : {};
  const md = isObj(json.metadata) ? json.metadata : {};
  return {
    entryPoints,
    envDefault,
    envUntrusted,
    mounts,
    process: {
      stackSize: size(proc.default_stack_size),
      heapSize: size(proc.default_heap_size),
      mmapSize: size(proc.default_mmap_size),
    },
    limits: {
      userSpace: size(rl.user_space_max_size) ?? size(rl.user_space_size),
      kernelHeap: size(rl.kernel_space_heap_max_size) ?? size(rl.kernel_space_heap_size),
      maxThreads: typeof rl.max_num_of_threads === 'number' ? rl.max_num_of_threads : null,
    },
    debuggable: md.debuggable !== false,
    disableLog: typeof md.disable_log === 'boolean' ? md.disable_log : undefined,
  };
}
