// Which backend drives an instance: occlum when an install is found, else the host backend;
// `--backend occlum|host` overrides (asking for occlum where there is none is an error).
import type { BackendKind } from '../backend/types.ts';
import { findOcclum, ROOT_ENV, type OcclumInstall } from './occlum-install.ts';

export type BackendChoice =
  { kind: 'occlum'; install: OcclumInstall; reason: string } | { kind: 'host'; reason: string };

export class BackendChoiceError extends Error {}

export function parseBackendKind(value: string | undefined): BackendKind | undefined {
  if (value === undefined || value === '' || value === 'auto') return undefined;
  if (value === 'occlum' || value === 'host') return value;
  throw new BackendChoiceError(
    `unknown backend "${value}": use --backend occlum, --backend host, or leave it out to choose automatically`,
  );
}

export function chooseBackend(requested?: string, env: NodeJS.ProcessEnv = process.env): BackendChoice {
  const kind = parseBackendKind(requested);
  if (kind === 'host') return { kind: 'host', reason: 'requested with --backend host' };
  const { install, tried } = findOcclum(env);
  if (kind === 'occlum') {
    if (!install) {
      throw new BackendChoiceError(
        `--backend occlum was requested but Occlum is not installed here (${tried.join('; ')}). ` +
          `Install it (apt-get install occlum from https://occlum.io/occlum-package-repos/debian, or use the occlum/occlum Docker image), ` +
          `put its build/bin on PATH, or set ${ROOT_ENV} to the install root; or use --backend host.`,
      );
    }
    return { kind: 'occlum', install, reason: 'requested with --backend occlum' };
  }
  if (install)
    return {
      kind: 'occlum',
      install,
      reason: `Occlum ${install.version ?? '(unknown version)'} found at ${install.bin}`,
    };
  return { kind: 'host', reason: `Occlum not found (${tried.join('; ')})` };
}
