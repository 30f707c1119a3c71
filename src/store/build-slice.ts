// Build state: the instance's dev loop (core/watch: watcher + build queue) and what the Build
// pane shows of it: live state, the history of build records, the selected record's output,
// the auto-build / auto-rerun toggles. The DevLoop itself is a mutable object kept outside
// zustand; the state carries plain copies of its records.
//
// After a good build with auto-rerun on, the last program started from the Run pane (run or
// exec) is started again in its tab; the queue has already stopped it, and the exec server with
// it (Occlum must not build under a running instance), so an exec starts the server first.
import type { StateCreator } from 'zustand/vanilla';
import { openWatchBackend } from '../core/watch/select.ts';
import { DevLoop, progressLine } from '../core/watch/loop.ts';
import { SourcesTooBigError } from '../core/watch/scope.ts';
import { WatchBudgetError } from '../core/watch/watcher.ts';
import { loadSettings, SettingsError, type StudioSettings } from '../core/watch/settings.ts';
import type { BuildRecord, GuardNotice, WatchBackend } from '../core/watch/types.ts';
import type { ConfirmedSettings, QueueState } from '../core/watch/queue.ts';
import { summaryLines } from '../core/bom/summary.ts';
import type { StudioState, StudioStore } from './index.ts';
import { isBuilt, refreshInstanceStatus } from './instance-status.ts';

const watchesSources = (s: StudioSettings) => s.watch.length > 0 || s.bom.length > 0;

export type LoopStatus = 'off' | 'starting' | 'watching' | 'unavailable' | 'error';

export interface BuildState {
  loop: LoopStatus;
  /** What the queue does now. */
  phase: QueueState;
  /** Why the loop is not watching (bad settings file, unsupported backend, watcher error). */
  problem: string | null;
  /** Why every run is checked in full (the backend's build guard is off); null while it is on. */
  guard: GuardNotice | null;
  /** What a long step is at (the start's scan, a build's counts; sanitized), or null. */
  activity: string | null;
  history: BuildRecord[];
  /** Id of the selected record; null follows the newest. */
  selected: number | null;
  /** First output line shown; null follows the end of the output. */
  outputTop: number | null;
  /** What the lower part shows of the selected build: its output, or its bom copies as a plan. */
  view: 'output' | 'bom';
  autoBuild: boolean;
  autoRerun: boolean;
  /** Keep run/ across the loop's rebuilds. */
  keepRun: boolean;
  prebuild: string | null;
  /** Whether the loop also watches sources of the settings (`watch` globs, the boms' sources). */
  watchesSources: boolean;
  /** Changes held while auto-build is off. */
  pending: number;
  /** Bumped on every change of a record (the output of a running build grows in place). */
  version: number;
  /** Output lines the pane shows at once (set by the pane; scrolling clamps to it). */
  viewHeight: number;
}

export interface BuildSlice {
  build: BuildState;
  /** Starts the dev loop on the open instance (called when an instance opens). */
  buildStartWatching(): Promise<void>;
  buildStopWatching(): Promise<void>;
  /** Builds now, including changes held while auto-build is off. */
  buildNow(): void;
  buildToggleAutoBuild(): void;
  /** A program of the instance was launched: its check may have found the build guard off (or on again). */
  buildRefreshGuard(): void;
  buildToggleAutoRerun(): void;
  buildToggleKeepRun(): void;
  /** Selects an older (+1) or newer (-1) record. */
  buildSelect(step: number): void;
  buildSelectLatest(): void;
  /** Scrolls the selected record's output (or bom plan); 'end' follows the output again. */
  buildScroll(delta: number | 'start' | 'end'): void;
  buildSetViewHeight(lines: number): void;
  /** Switches the lower part between the output and the bom plan. */
  buildToggleView(): void;
  /** The lines of the current view of the selected record (output lines, or the bom plan's). */
  buildViewLines(): number;
  /** Opens the failure cause's Occlum.json field in the Config pane. */
  buildOpenCause(): void;
  /** The selected record (or the newest). */
  buildSelected(): BuildRecord | undefined;
  /**
   * The dev loop of `dir` may run these prebuild and boms on a change before any b (the demo
   * compiled its program itself, as its prebuild does); other settings still wait for b.
   */
  buildConfirm(dir: string, ran: ConfirmedSettings): void;
  /** Replace how the dev loop builds and runs (tests). Null restores the host backend. */
  buildSetBackend(factory: ((instanceDir: string) => WatchBackend) | null): void;
}

const INITIAL: BuildState = {
  loop: 'off',
  phase: 'idle',
  problem: null,
  guard: null,
  activity: null,
  history: [],
  selected: null,
  outputTop: null,
  view: 'output',
  autoBuild: true,
  autoRerun: true,
  keepRun: false,
  prebuild: null,
  watchesSources: false,
  pending: 0,
  version: 0,
  viewHeight: 10,
};

export function createBuildSlice(): StateCreator<StudioState, [], [], BuildSlice> {
  return (set, get, api) => {
    let loop: DevLoop | null = null;
    // Bumped by every start and stop: a start whose loop opens after a later stop (or start) closes it.
    let generation = 0;
    let buildWhenReady = false;
    let factory: ((instanceDir: string) => WatchBackend) | null = null;
    let confirmed: { dir: string; ran: ConfirmedSettings } | null = null;
    const patch = (p: Partial<BuildState>) => set({ build: { ...get().build, ...p } });
    // Finished records never change again: copied once. A running one is copied on every sync
    // (the queue mutates it in place), so views see a new object when its output grows.
    let finished = new Map<number, BuildRecord>();
    const copyOf = (r: BuildRecord): BuildRecord => {
      const done = finished.get(r.id);
      if (done) return done;
      const copy = { ...r, output: r.output.slice(), stages: { ...r.stages }, boms: r.boms?.slice() };
      if (r.outcome !== 'running') finished.set(r.id, copy);
      return copy;
    };
    const sync = () => {
      if (!loop) return;
      const q = loop.queue;
      const history = q.history.map(copyOf);
      if (finished.size > history.length * 2)
        finished = new Map(history.filter((r) => r.outcome !== 'running').map((r) => [r.id, r]));
      patch({
        history,
        phase: q.state,
        pending: q.pendingChanges.length,
        autoBuild: q.settings.autoBuild,
        autoRerun: q.settings.autoRerun,
        keepRun: q.settings.keepRun,
        prebuild: q.settings.prebuild,
        watchesSources: watchesSources(q.settings),
        guard: q.guardNotice,
        version: get().build.version + 1,
      });
    };
    // Output can arrive by the thousand lines a second: coalesce store updates per tick.
    let syncQueued = false;
    const syncSoon = () => {
      if (syncQueued) return;
      syncQueued = true;
      setTimeout(() => {
        syncQueued = false;
        sync();
      }, 30);
    };

    const rerunInRunPane = async () => {
      const s = get();
      const last = [...(s.run?.tabs ?? [])].sort((a, b) => b.startedAt - a.startedAt)[0];
      if (!last || !s.runStart) return;
      // The build stopped the exec server with everything else: an exec needs it started again.
      if (last.kind === 'exec') await s.runServer('start');
      void s.runStart(last.kind, last.path, last.args, last.id);
    };

    const stopLoop = async () => {
      const l = loop;
      loop = null;
      buildWhenReady = false;
      if (l) await l.close();
      patch({ loop: 'off', phase: 'idle', activity: null });
      await get().runDropPrepared?.();
    };

    return {
      build: INITIAL,
      async buildStartWatching() {
        const mine = ++generation;
        await stopLoop();
        if (generation !== mine) return; // stopped or started again meanwhile
        const dir = get().instanceDir;
        if (!dir) return;
        let backend: WatchBackend;
        try {
          backend = factory ? factory(dir) : openWatchBackend(get().backend).backend;
        } catch (err) {
          patch({ loop: 'unavailable', problem: (err as Error).message });
          return;
        }
        let settings;
        try {
          settings = loadSettings(dir);
        } catch (err) {
          patch({ loop: 'error', problem: err instanceof SettingsError ? err.message : String(err) });
          return;
        }
        patch({
          ...INITIAL,
          viewHeight: get().build.viewHeight,
          loop: 'starting',
          autoBuild: settings.settings.autoBuild,
          autoRerun: settings.settings.autoRerun,
          keepRun: settings.settings.keepRun,
          prebuild: settings.settings.prebuild,
          watchesSources: watchesSources(settings.settings),
        });
        // An opened instance's prebuild runs first on b (docs/security.md: opening runs nothing).
        let l: DevLoop;
        try {
          l = await DevLoop.open(
            { instanceDir: dir, backend, settings, persistent: false, confirmPrebuild: true },
            (opening) =>
              opening.on('progress', (p) => {
                if (generation === mine) patch({ activity: p.end ? null : progressLine(p) });
              }),
          );
        } catch (err) {
          if (!(err instanceof SourcesTooBigError) && !(err instanceof WatchBudgetError)) throw err;
          patch({ loop: 'error', problem: err.message });
          return;
        }
        if (get().instanceDir !== dir || generation !== mine) {
          await l.close();
          return;
        }
        loop = l;
        if (confirmed?.dir === dir) l.queue.confirm(confirmed.ran);
        finished = new Map(); // a new queue numbers its builds from 1 again
        const q = l.queue;
        q.on('build-start', sync);
        q.on('build-output', syncSoon);
        q.on('build-end', (r) => {
          patch({ activity: null });
          sync();
          void refreshInstanceStatus(api);
          // Follow the newest record unless the user picked an older one.
          if (get().build.selected === null) patch({ outputTop: null });
          if (r.outcome === 'ok' && q.settings.autoRerun) void rerunInRunPane();
        });
        q.on('deferred', sync);
        q.on('guard', sync);
        q.on('settings', () => {
          sync();
          if (!q.settings.autoRerun) void get().runDropPrepared?.();
        });
        q.on('error', (err) => patch({ problem: err.message }));
        // Past the inotify budget the watcher has stopped: not watching any more.
        l.on('watch-error', (err) =>
          patch({ problem: err.message, ...(err instanceof WatchBudgetError ? { loop: 'error' } : {}) }),
        );
        patch({ loop: 'watching', problem: null });
        get().runPrepareNext?.(); // a rerun will come: its sandbox can wait ready
        if (buildWhenReady) {
          buildWhenReady = false;
          get().buildNow();
        }
      },
      async buildStopWatching() {
        generation++;
        await stopLoop();
      },
      buildNow() {
        if (!loop) {
          // Asked while the watcher's first scan runs (slow on a big tree or a busy machine): build
          // as soon as it is ready instead of refusing.
          if (get().build.loop === 'starting') {
            buildWhenReady = true;
            get().setFlash('the dev loop is starting: the build follows once it is ready', 'info');
            return;
          }
          if (get().build.loop !== 'off') {
            get().setFlash(get().build.problem ?? 'the dev loop is not running', 'error');
            return;
          }
          // Not watching yet (never built): start the loop, then build.
          void get()
            .buildStartWatching()
            .then(() => {
              if (loop) {
                loop.queue.buildNow('initial');
                sync();
              }
            });
          return;
        }
        loop.queue.buildNow('manual');
        sync();
      },
      buildToggleAutoBuild() {
        if (!loop) return;
        loop.queue.setAutoBuild(!loop.queue.settings.autoBuild);
        sync();
      },
      buildRefreshGuard() {
        loop?.queue.refreshGuard();
      },
      buildToggleAutoRerun() {
        if (!loop) return;
        loop.queue.setAutoRerun(!loop.queue.settings.autoRerun);
        sync();
        if (loop.queue.settings.autoRerun) get().runPrepareNext?.();
        else void get().runDropPrepared?.();
      },
      buildToggleKeepRun() {
        if (!loop) return;
        loop.queue.setKeepRun(!loop.queue.settings.keepRun);
        sync();
      },
      buildSelect(step) {
        const { history, selected } = get().build;
        if (history.length === 0) return;
        const ids = history.map((r) => r.id).reverse(); // newest first
        const i = selected === null ? 0 : Math.max(0, ids.indexOf(selected));
        const j = Math.max(0, Math.min(ids.length - 1, i + step));
        patch({ selected: j === 0 ? null : ids[j]!, outputTop: null });
      },
      buildSelectLatest() {
        patch({ selected: null, outputTop: null });
      },
      buildScroll(delta) {
        const total = get().buildViewLines();
        const bottom = Math.max(0, total - get().build.viewHeight);
        // Null follows the end of a build's output; the bom plan reads from its start (null).
        const plan = get().build.view === 'bom';
        if (delta === 'end') return patch({ outputTop: plan ? bottom : null });
        if (delta === 'start') return patch({ outputTop: plan ? null : 0 });
        const top = get().build.outputTop ?? (plan ? 0 : bottom);
        const next = Math.max(0, Math.min(bottom, top + delta));
        if (plan) return patch({ outputTop: next === 0 ? null : next });
        patch({ outputTop: next >= bottom ? null : next });
      },
      buildToggleView() {
        patch({ view: get().build.view === 'output' ? 'bom' : 'output', outputTop: null });
      },
      buildViewLines() {
        const rec = get().buildSelected();
        if (get().build.view === 'bom') return summaryLines(rec?.boms ?? []).length;
        return rec?.output.length ?? 0;
      },
      buildSetViewHeight(lines) {
        if (lines !== get().build.viewHeight) patch({ viewHeight: Math.max(1, lines) });
      },
      buildOpenCause() {
        const rec = get().buildSelected();
        const path = rec?.cause?.configPath;
        if (!path) {
          get().setFlash(
            rec?.cause ? 'this failure is not about an Occlum.json field' : 'the selected build has no failure cause',
            'error',
          );
          return;
        }
        get().focusConfigPath(path);
      },
      buildSelected() {
        const { history, selected } = get().build;
        if (selected === null) return history.at(-1);
        return history.find((r) => r.id === selected) ?? history.at(-1);
      },
      buildConfirm(dir, ran) {
        confirmed = { dir, ran };
        if (loop && get().instanceDir === dir) loop.queue.confirm(ran);
      },
      buildSetBackend(f) {
        factory = f;
      },
    };
  };
}

/** Per store: stops waiting for an outside first build (see onOpen). */
const waitingForBuild = new WeakMap<StudioStore, () => void>();

export const buildHooks = {
  onOpen(store: StudioStore, dir: string) {
    waitingForBuild.get(store)?.();
    const s = store.getState();
    // An instance that was never built is not rebuilt behind the user's back: the first build is
    // theirs (b in the Build pane, or `occlum build` in another terminal); watching starts with it.
    if (!isBuilt(s.instanceStatus)) {
      void s.buildStopWatching().then(() =>
        store.setState({
          build: {
            ...store.getState().build,
            problem: 'not built yet: press b to build; the dev loop watches from then on',
          },
        }),
      );
      const unsubscribe = store.subscribe((now) => {
        if (now.instanceDir !== dir) return unsubscribe();
        if (!isBuilt(now.instanceStatus)) return;
        unsubscribe();
        // Built outside the studio (b starts the loop itself).
        if (now.build.loop === 'off') void now.buildStartWatching();
      });
      waitingForBuild.set(store, unsubscribe);
      return;
    }
    // Not awaited: the first chokidar scan must not delay the first frame of the instance.
    void s.buildStartWatching();
  },
  /** On quit: stops the watcher and the running build or prebuild (the queue kills it). */
  close: (store: StudioStore) => {
    waitingForBuild.get(store)?.();
    return store.getState().buildStopWatching();
  },
};
