// Picks and constructs the backend for an instance: occlum when an install is found (PATH,
// /opt/occlum, or $OCCLUM_STUDIO_OCCLUM_ROOT), else host; `--backend occlum|host` overrides and
// asking for occlum where there is none is a BackendChoiceError with the fix.
import { chooseBackend, type BackendChoice } from '../detect/backend-choice.ts';
import { HostBackend } from './host/index.ts';
import { OcclumBackend, type OcclumBuildFlags } from './occlum/index.ts';
import type { Backend, BackendEvents } from './types.ts';

export interface OpenBackendOptions {
  /** The --backend value: 'occlum', 'host', 'auto' or undefined (auto). */
  backend?: string;
  events?: BackendEvents;
  env?: NodeJS.ProcessEnv;
  /** Occlum backend only: flags for every build (e.g. { sgxMode: 'SIM' }). */
  occlumBuild?: OcclumBuildFlags;
}

export function openBackend(dir: string, opts: OpenBackendOptions = {}): { backend: Backend; choice: BackendChoice } {
  const env = opts.env ?? process.env;
  const choice = chooseBackend(opts.backend, env);
  const backend =
    choice.kind === 'occlum'
      ? new OcclumBackend(dir, opts.events ?? {}, { install: choice.install, env, buildDefaults: opts.occlumBuild })
      : new HostBackend(dir, opts.events ?? {});
  return { backend, choice };
}
