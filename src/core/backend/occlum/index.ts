// The occlum backend: public surface.
import type { BackendEvents } from '../types.ts';
import { findOcclum } from '../../detect/occlum-install.ts';
import { BackendError } from '../types.ts';
import { OcclumBackend, type OcclumBackendOptions } from './backend.ts';

export { OcclumBackend, STOP_CLI_WAIT_MS, type OcclumBuildOptions, type OcclumBackendOptions } from './backend.ts';
export { type OcclumBuildFlags, type SgxMode, checkProgramPath, OcclumArgError } from './args.ts';
export { planMount, startMount, needsOcclumMount, type MountRequest, type MountHandle } from './mount.ts';
export { stateError, buildFailureCauses } from './messages.ts';
export { readBuildKeys } from './build-keys.ts';
export type { OcclumLaunch } from './launch.ts';
export { OcclumWatchBackend } from './watch-adapter.ts';
export { openInstanceFs, imageKeyMode, SecureFsError, type FsLayer, type OpenFsOptions } from './secure-fs.ts';

/** An occlum backend for `dir` using the Occlum found on this machine (PATH, /opt/occlum, or the override root). */
export function createOcclumBackend(
  dir: string,
  events: BackendEvents = {},
  opts: Partial<OcclumBackendOptions> = {},
): OcclumBackend {
  const install = opts.install ?? findOcclum(opts.env ?? process.env).install;
  if (!install)
    throw new BackendError('Occlum is not installed here (see `occlum-studio doctor`); use the host backend', 1);
  return new OcclumBackend(dir, events, { ...opts, install });
}
