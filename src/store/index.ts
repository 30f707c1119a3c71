// The one application store (zustand vanilla). Each area contributes a slice; views subscribe
// with useStudio (views/store-context.tsx) and call the actions, which delegate to src/core.
import { readStatusFile } from '../core/instance/status.ts';
import { createStore } from 'zustand/vanilla';
import { createAppSlice, type AppSlice } from './app-slice.ts';
import { buildHooks, createBuildSlice, type BuildSlice } from './build-slice.ts';
import { configHooks, createConfigSlice, type ConfigSlice } from './config-slice.ts';
import { createFilesSlice, filesHooks, type FilesSlice } from './files-slice.ts';
import { createLogsSlice, type LogsSlice } from './logs-slice.ts';
import { createRunSlice, runHooks, type RunSlice } from './run-slice.ts';
import { createSizingSlice, sizingHooks, type SizingSlice } from './sizing-slice.ts';
import { statusHooks } from './instance-status.ts';

export type StudioState = AppSlice & ConfigSlice & LogsSlice & RunSlice & FilesSlice & BuildSlice & SizingSlice;

/** What a slice may do when an instance opens, and how it reports unsaved work. */
export interface SliceHooks {
  onOpen?(store: StudioStore, instanceDir: string): void | Promise<void>;
  /** A short description of unsaved work, or null. Quitting asks for confirmation when set. */
  unsaved?(state: StudioState): string | null;
  /** Stops every process and watcher the slice started (on quit). */
  close?(store: StudioStore): Promise<void>;
}

// The status first: the build slice decides on it whether the dev loop watches.
const sliceHooks: SliceHooks[] = [statusHooks, configHooks, runHooks, filesHooks, buildHooks, sizingHooks];

export interface StoreOptions {
  launchDir: string;
  backend?: 'host' | 'occlum';
  occlumVersion?: string;
}

export function createStudioStore(opts: StoreOptions = { launchDir: process.cwd() }) {
  const store = createStore<StudioState>()((...a) => ({
    ...createAppSlice(...a),
    ...createConfigSlice(...a),
    ...createLogsSlice()(...a),
    ...createRunSlice()(...a),
    ...createFilesSlice()(...a),
    ...createBuildSlice()(...a),
    ...createSizingSlice(...a),
  }));
  store.setState({
    launchDir: opts.launchDir,
    backend: opts.backend ?? 'host',
    occlumVersion: opts.occlumVersion ?? null,
  });
  return store;
}

export type StudioStore = ReturnType<typeof createStudioStore>;

/** Opens an instance: records it, reads its status and lets every slice load its part. */
export async function openInstance(store: StudioStore, dir: string): Promise<void> {
  store.setState({ instanceDir: dir, instanceStatus: readStatusFile(dir) || null, flash: null });
  for (const h of sliceHooks) await h.onOpen?.(store, dir);
}

export function unsavedWork(state: StudioState): string[] {
  return sliceHooks.map((h) => h.unsaved?.(state) ?? null).filter((x): x is string => x !== null);
}

/**
 * Stops everything the studio started — programs, the exec server it started, builds, watchers —
 * waiting at most `deadlineMs` for the slower ones (a server stop) so quitting stays prompt.
 */
export async function closeStudio(store: StudioStore, deadlineMs = 1500): Promise<void> {
  const closing = Promise.allSettled(sliceHooks.map((h) => h.close?.(store)));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)));
  await Promise.race([closing, deadline]);
  clearTimeout(timer);
}
