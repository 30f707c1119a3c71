// How the headless lifecycle commands pick their backend: `--backend occlum|host` or automatic
// (occlum when an install is found), with a wrong choice reported as a usage error (exit 2) that
// carries the fix, and flags one backend cannot honour refused up front with the reason.
import { BackendChoiceError } from '../core/detect/backend-choice.ts';
import { openBackend, type OpenBackendOptions } from '../core/backend/select.ts';
import type { Backend, BackendKind } from '../core/backend/types.ts';
import type { BackendChoice } from '../core/detect/backend-choice.ts';
import { UsageError } from './command.ts';

export interface OpenedBackend {
  backend: Backend;
  choice: BackendChoice;
}

export function openCommandBackend(
  dir: string,
  requested: string | undefined,
  opts: Omit<OpenBackendOptions, 'backend'> = {},
): OpenedBackend {
  try {
    return openBackend(dir, { ...opts, backend: requested });
  } catch (e) {
    if (e instanceof BackendChoiceError) throw new UsageError(e.message);
    throw e;
  }
}

/** `--backend` value as given (undefined = automatic); checked early so a typo fails before any work. */
export function backendFlag(value: string | undefined): string | undefined {
  if (value === undefined || value === 'auto') return undefined;
  if (value !== 'occlum' && value !== 'host') {
    throw new UsageError(
      `unknown backend "${value}": use --backend occlum, --backend host, or leave it out to choose automatically`,
    );
  }
  return value;
}

/** A flag that only one backend can honour. */
export interface BackendOnlyFlag {
  flag: string;
  given: boolean;
  /** Why the other backend cannot honour it, and what to do instead. */
  why: string;
}

/** Refuses (exit 2) the first given flag that `kind` cannot honour, saying why the backend was chosen. */
export function refuseFlags(choice: BackendChoice, flags: BackendOnlyFlag[]): void {
  const bad = flags.find((f) => f.given);
  if (!bad) return;
  throw new UsageError(
    `${bad.flag} is not supported by the ${choice.kind} backend (chosen: ${choice.reason}): ${bad.why}`,
  );
}

export function backendLabel(kind: BackendKind): string {
  return kind === 'occlum' ? 'occlum backend' : 'host backend';
}
