// Loads the Rust addon native/occlum_studio.node (built by scripts/build-native.mjs) and gives it
// a typed shape. The addon exposes two functions: call (sync) and callAsync (libuv thread pool,
// optional Float64Array(3) progress [done, total, bytes] updated in place).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeAddon {
  call(op: string, args: string[]): string | Buffer;
  callAsync(op: string, args: string[], progress?: Float64Array): Promise<string | Buffer>;
}

/** Error from the engine: `code` says what went wrong (EWRONGKEY, ECORRUPT, ESTOCKINTEL, …). */
export interface NativeError extends Error {
  code: string;
  node?: number;
}

let addon: NativeAddon | undefined;

function findAddon(): string | undefined {
  const override = process.env.OCCLUM_STUDIO_NATIVE;
  if (override) return existsSync(override) ? resolve(override) : undefined;
  // Works from src/core/securefs/ (tsx) and from dist/ (bundled CLI): walk up to the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'native', 'occlum_studio.node');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return undefined;
}

export function loadNative(): NativeAddon {
  if (addon) return addon;
  const path = findAddon();
  if (!path) {
    throw new Error(
      'the secure-FS engine native/occlum_studio.node is missing: run `npm install` (or `npm run build:native`; needs cargo)',
    );
  }
  const require = createRequire(import.meta.url);
  try {
    addon = require(path) as NativeAddon;
  } catch (err) {
    throw new Error(`cannot load the secure-FS engine ${path}: ${(err as Error).message}; rebuild it with \`npm run build:native\``);
  }
  return addon;
}

export function callJson<T>(op: string, args: string[]): T {
  return JSON.parse(loadNative().call(op, args) as string) as T;
}

export function callBytes(op: string, args: string[]): Buffer {
  return loadNative().call(op, args) as Buffer;
}

/** Runs a heavy operation off the main thread, polling its progress every `everyMs`. */
export async function callAsync(
  op: string,
  args: string[],
  onProgress?: (p: { done: number; total: number; bytes: number }) => void,
  everyMs = 100,
): Promise<string | Buffer> {
  const progress = new Float64Array(3);
  const timer = onProgress
    ? setInterval(() => onProgress({ done: progress[0]!, total: progress[1]!, bytes: progress[2]! }), everyMs)
    : undefined;
  try {
    const r = await loadNative().callAsync(op, args, progress);
    onProgress?.({ done: progress[0]!, total: progress[1]!, bytes: progress[2]! });
    return r;
  } finally {
    if (timer) clearInterval(timer);
  }
}
