// Which WatchBackend drives the dev loop: the same choice as every other command (occlum when an
// install is found, else host; `--backend` overrides). Throws BackendChoiceError with the fix
// when occlum is asked for and not installed.
import { chooseBackend, type BackendChoice } from '../detect/backend-choice.ts';
import { OcclumWatchBackend } from '../backend/occlum/watch-adapter.ts';
import { HostWatchBackend } from './host-backend.ts';
import type { WatchBackend } from './types.ts';

export function openWatchBackend(
  requested: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): { backend: WatchBackend; choice: BackendChoice } {
  const choice = chooseBackend(requested, env);
  const backend =
    choice.kind === 'occlum' ? new OcclumWatchBackend({ install: choice.install, env }) : new HostWatchBackend();
  return { backend, choice };
}
