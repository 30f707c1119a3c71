// Loads the Rust addon (native/occlum_studio.<target>.node, napi-rs naming: the package ships the
// linux-x64-gnu build, scripts/build-native.mjs builds one for other machines) and gives it a typed
// shape. The addon exposes two functions: call (sync) and callAsync (libuv thread pool, optional
// Float64Array(3) progress [done, total, bytes] updated in place).
// Without it, every feature that needs it fails with the one NativeUnavailableError below.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addonFileName, nativeTarget, PREBUILT_TARGET } from '../../../native/target.mjs';

export interface NativeAddon {
  call(op: string, args: string[]): string | Buffer;
  callAsync(op: string, args: string[], progress?: Float64Array): Promise<string | Buffer>;
}

/** Error from the engine: `code` says what went wrong (EWRONGKEY, ECORRUPT, ESTOCKINTEL, …). */
export interface NativeError extends Error {
  code: string;
  node?: number;
}

/** How to get the engine, wherever it is missing (one text for every feature and `doctor`). */
export const NATIVE_FIX =
  'install Rust (apt-get install cargo, or https://rustup.rs) and run `npm rebuild occlum-studio` ' +
  '(with -g for a global install; in a checkout: `npm run build:native`)';

/** The engine cannot load here: the features that need it say so with this error's message. */
export class NativeUnavailableError extends Error {
  readonly code = 'ENOENGINE';
  constructor(readonly reason: string) {
    super(`the secure-FS engine (native addon) is not available: ${reason}; fix: ${NATIVE_FIX}`);
  }
}

export type NativeStatus = { ok: true; path: string } | { ok: false; error: NativeUnavailableError };

let status: NativeStatus | undefined;
let addon: NativeAddon | undefined;

function findAddon(file: string): string | undefined {
  const override = process.env.OCCLUM_STUDIO_NATIVE;
  if (override) return existsSync(override) ? resolve(override) : undefined;
  // Works from src/core/securefs/ (tsx) and from dist/ (bundled CLI): walk up to the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'native', file);
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return undefined;
}

/** Loads the addon once; says why not instead of throwing. */
export function nativeStatus(): NativeStatus {
  if (status) return status;
  const target = nativeTarget();
  const file = addonFileName(target);
  const path = findAddon(file);
  if (!path) {
    const override = process.env.OCCLUM_STUDIO_NATIVE;
    const reason = override
      ? `OCCLUM_STUDIO_NATIVE=${override} does not exist`
      : target === PREBUILT_TARGET
        ? `native/${file} is missing (not built, or removed)`
        : `no prebuilt addon for ${target} (the package carries ${PREBUILT_TARGET}) and none was built from source`;
    return (status = { ok: false, error: new NativeUnavailableError(reason) });
  }
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
    return (status = { ok: true, path });
  } catch (err) {
    const why = (err as Error).message.split('\n')[0];
    return (status = { ok: false, error: new NativeUnavailableError(`${path} does not load (${why})`) });
  }
}

export function loadNative(): NativeAddon {
  const s = nativeStatus();
  if (!s.ok) throw s.error;
  return addon!;
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
