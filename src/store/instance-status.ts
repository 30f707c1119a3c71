// The status bar's instance status (and a stamp of its last build, which the Files pane follows)
// track the instance, whoever changes it: the studio's own builds, runs and servers, and
// `occlum build`, `occlum start` or `occlum stop` (or another studio) in another terminal. Read once a second from the backend's own status check, as the
// config's file is polled (config-slice.ts): a few small reads, and it sees process ends too.
import { statSync } from 'node:fs';
import { openBackend } from '../core/backend/select.ts';
import { instancePaths } from '../core/instance/layout.ts';
import type { LiveStatus } from '../core/backend/types.ts';
import type { SliceHooks, StudioStore } from './index.ts';

const POLL_MS = 1000;
const pollers = new WeakMap<StudioStore, NodeJS.Timeout>();
const readers = new WeakMap<StudioStore, () => Promise<void>>();

/** Reads the status now rather than at the next tick: after the studio's own build, run or stop. */
export function refreshInstanceStatus(store: StudioStore): Promise<void> {
  return readers.get(store)?.() ?? Promise.resolve();
}

/** A status with a runnable build: the dev loop watches such an instance. */
export function isBuilt(status: string | null): boolean {
  return status === 'built' || status === 'running' || status === 'serving';
}

/** The secure image's MAC file as it is now: every build (Occlum's `sefs-cli zip` too) writes a new one. */
function buildStamp(dir: string): string | null {
  try {
    const st = statSync(instancePaths(dir).rootMac, { bigint: true });
    return `${st.ino}:${st.mtimeNs}:${st.size}`;
  } catch {
    return null;
  }
}

function stopPolling(store: StudioStore): void {
  clearInterval(pollers.get(store));
  pollers.delete(store);
  readers.delete(store);
}

export const statusHooks: SliceHooks = {
  async onOpen(store, dir) {
    stopPolling(store);
    let status: () => Promise<LiveStatus>;
    try {
      const { backend } = openBackend(dir, { backend: store.getState().backend });
      status = () => backend.status();
    } catch {
      return; // no backend to ask (an occlum backend without its install): the file's word stays
    }
    let busy = false;
    let again = false; // asked while a read was under way: that read may predate the change
    const tick = async (): Promise<void> => {
      if (store.getState().instanceDir !== dir) return;
      if (busy) return void (again = true);
      busy = true;
      try {
        const now = await status();
        const stamp = buildStamp(dir);
        const s = store.getState();
        if (s.instanceDir === dir && (s.instanceStatus !== now || s.instanceBuildStamp !== stamp)) {
          store.setState({ instanceStatus: now, instanceBuildStamp: stamp });
        }
      } catch {
        // A status that cannot be read now (a build renaming build/) is read again next tick.
      } finally {
        busy = false;
      }
      if (again) {
        again = false;
        return tick();
      }
    };
    readers.set(store, tick);
    await tick(); // before the other slices open: the build slice decides on it whether to watch
    const timer = setInterval(() => void tick(), POLL_MS);
    timer.unref();
    pollers.set(store, timer);
  },
  async close(store) {
    stopPolling(store);
  },
};
