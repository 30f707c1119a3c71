// Argument lists for the `occlum` subcommands, built from typed options and checked before
// anything runs: every value the script would reject (or, for `init`, hang on) is refused here
// with a message that says what to change. Pure functions.
import { isAbsolute } from 'node:path';

export class OcclumArgError extends Error {}

/**
 * `occlum init` / `occlum new <path>` options. Occlum's init loop never shifts past an argument it
 * does not know, so `occlum init foo` spins forever: only `--init-ra <known value>` is ever passed.
 */
export function initArgs(opts: { initRa?: string } = {}): string[] {
  if (opts.initRa === undefined) return [];
  if (opts.initRa !== 'grpc_ratls' && opts.initRa !== 'aecs') {
    throw new OcclumArgError(
      `--init-ra must be grpc_ratls or aecs, got "${opts.initRa}" (Occlum would silently use the default initfs)`,
    );
  }
  return ['--init-ra', opts.initRa];
}

export type SgxMode = 'HW' | 'SIM' | 'HYPER';

export interface OcclumBuildFlags {
  sgxMode?: SgxMode;
  signKey?: string;
  signTool?: string;
  imageKey?: string;
  buildinImageKey?: boolean;
  /** EDMM (HW only); Occlum treats any value but "N" as yes. */
  enableEdmm?: boolean;
  force?: boolean;
}

function nonEmpty(name: string, v: string | undefined): void {
  if (v !== undefined && v.trim() === '')
    throw new OcclumArgError(`${name} is empty: give a file path or leave the option out`);
}

export function buildArgs(f: OcclumBuildFlags): string[] {
  const a: string[] = [];
  if (f.sgxMode !== undefined) {
    if (!['HW', 'SIM', 'HYPER'].includes(f.sgxMode)) {
      throw new OcclumArgError(
        `SGX mode must be HW, SIM or HYPER, got "${f.sgxMode}" (Occlum would record any other value verbatim and build for simulation)`,
      );
    }
    a.push('--sgx-mode', f.sgxMode);
  }
  nonEmpty('--sign-key', f.signKey);
  nonEmpty('--sign-tool', f.signTool);
  nonEmpty('--image-key', f.imageKey);
  if (f.signKey) a.push('--sign-key', f.signKey);
  if (f.signTool) a.push('--sign-tool', f.signTool);
  if (f.imageKey) a.push('--image-key', f.imageKey);
  if (f.buildinImageKey) {
    if (!f.imageKey)
      throw new OcclumArgError('--buildin-image-key needs --image-key: there is no key to build into initfs');
    a.push('--buildin-image-key');
  }
  if (f.enableEdmm !== undefined) a.push('--enable-edmm', f.enableEdmm ? 'Y' : 'N');
  if (f.force) a.push('-f');
  return a;
}

/**
 * The environment for `occlum build` so the flags mean what they say (spec 1.3, 1.6): an inherited
 * SGX_MODE=SIM survives `--sgx-mode HW`, an inherited ENABLE_EDMM survives `--enable-edmm N`, and
 * the HYPER sign tool is the default only when SGX_MODE=HYPER is in the environment.
 */
export function buildEnv(f: OcclumBuildFlags, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  if (f.sgxMode === 'HW') delete out.SGX_MODE;
  else if (f.sgxMode !== undefined) out.SGX_MODE = f.sgxMode;
  if (f.enableEdmm === false) delete out.ENABLE_EDMM;
  return out;
}

/**
 * The program path rules Occlum applies at launch (spec 5.1), checked up front so the user gets
 * the reason instead of exit 127: absolute, no "..", under an entry point.
 */
export function checkProgramPath(path: string, entryPoints?: string[]): string | null {
  if (!path) return 'no program given: pass the path inside the image, e.g. /bin/hello';
  if (!isAbsolute(path))
    return `program path "${path}" must be absolute inside the image (e.g. /bin/${path.replace(/^\.?\/?/, '')})`;
  if (path.split('/').includes('..')) return `program path "${path}" must not contain ".."`;
  if (entryPoints && entryPoints.length > 0) {
    const ok = entryPoints.some((ep) => {
      const p = ep.replace(/\/+$/, '');
      return p === '' || path === p || path.startsWith(p + '/');
    });
    if (!ok)
      return `program path "${path}" is not under an entry point of Occlum.json (entry_points: ${entryPoints.join(', ')}); add its directory to entry_points and rebuild`;
  }
  return null;
}

export function runArgs(path: string, args: string[], opts: { configId?: string; configSvn?: number } = {}): string[] {
  const a = ['run'];
  if (opts.configId !== undefined) a.push('--config-id', opts.configId);
  if (opts.configSvn !== undefined) {
    if (!Number.isInteger(opts.configSvn) || opts.configSvn < 0 || opts.configSvn > 0xffff) {
      throw new OcclumArgError(`config SVN must be an integer 0..65535, got ${opts.configSvn}`);
    }
    a.push('--config-svn', String(opts.configSvn));
  }
  // Options are only parsed before the program path, so a path starting with "--" would be taken as one.
  if (path.startsWith('--')) throw new OcclumArgError(`program path "${path}" looks like an option`);
  return [...a, path, ...args];
}

export function packageArgs(opts: { name?: string; debug?: boolean } = {}): string[] {
  const a = ['package'];
  if (opts.debug) a.push('--debug');
  if (opts.name !== undefined) {
    if (!opts.name || opts.name.startsWith('-') || opts.name.includes('/')) {
      throw new OcclumArgError(
        `package name "${opts.name}" must be a plain file name (it is written into the instance directory)`,
      );
    }
    a.push(opts.name);
  }
  return a;
}

export function printArgs(what: string): string[] {
  if (what !== 'mrenclave' && what !== 'mrsigner')
    throw new OcclumArgError(`can print mrenclave or mrsigner, not "${what}"`);
  return ['print', what];
}
