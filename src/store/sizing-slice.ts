// Sizing state: measure a program on the host backend (core/sizing), keep the recommendation,
// and write it into the Config pane's text as one undoable edit. Started from the Run pane
// ("size this program"), from a Logs or Run hint about a sizing field, or the palette.
import type { StateCreator } from 'zustand/vanilla';
import { HostBackend } from '../core/backend/host/index.ts';
import { errorMessage } from '../core/errors.ts';
import { formatPath, formatSize, type JsonPath } from '../core/config/index.ts';
import { LATEST } from '../core/config/versions.ts';
import {
  applyRecommendation,
  sizeProgram,
  SizingStopped,
  recommend,
  type Measurement,
  type Recommendation,
} from '../core/sizing/index.ts';
import { sanitizeForTerminal } from '../core/text/sanitize.ts';
import type { SliceHooks, StudioState, StudioStore } from './index.ts';
import { formatWords } from '../core/pty/command-line.ts';

export interface SizingState {
  status: 'idle' | 'measuring' | 'done' | 'failed';
  command: string[] | null;
  measurement: Measurement | null;
  recommendation: Recommendation | null;
  /** The field a hint pointed at: shown first, and selected in the Config pane after the run. */
  focus: JsonPath | null;
  error: string | null;
}

export interface SizingSlice {
  sizing: SizingState;
  /** Measures `path args` on the host backend and recommends sizes for the open config. */
  sizingMeasure(path: string, args: string[], focus?: JsonPath | null): Promise<void>;
  /** Writes the last recommendation into the Config pane's text (undoable; w saves). */
  sizingApply(): void;
  /** Stops a sizing run that measures (its program first, then its sandbox); resolves when it ended. */
  sizingStop(): Promise<void>;
}

const IDLE: SizingState = {
  status: 'idle',
  command: null,
  measurement: null,
  recommendation: null,
  focus: null,
  error: null,
};

export const createSizingSlice: StateCreator<StudioState, [], [], SizingSlice> = (set, get) => {
  const patch = (p: Partial<SizingState>) => set((s) => ({ sizing: { ...s.sizing, ...p } }));
  const version = () => get().config.result?.version ?? LATEST;
  /** The run that measures now: its stop switch and its end. */
  let running: { stop: AbortController; ended: Promise<void> } | null = null;
  return {
    sizing: IDLE,
    async sizingMeasure(path, args, focus = null) {
      const s = get();
      if (!s.instanceDir) return;
      if (s.sizing.status === 'measuring') {
        s.setFlash('a sizing run is already measuring', 'error');
        return;
      }
      const command = [path, ...args];
      const shown = sanitizeForTerminal(formatWords(command));
      patch({ ...IDLE, status: 'measuring', command, focus });
      s.setFlash(`sizing ${shown}: running it on the host backend without limits… (z or esc stops)`);
      const stop = new AbortController();
      let ended!: () => void;
      running = { stop, ended: new Promise<void>((r) => (ended = r)) };
      const backend = new HostBackend(s.instanceDir, { log: (r) => get().appendLogChunk?.('runtime', r.line + '\n') });
      try {
        const m = await sizeProgram(backend, path, args, get().config.text, version(), {
          stdio: 'ignore',
          signal: stop.signal,
          onJvmRetry: (failed, status, next) =>
            get().setFlash(
              `sizing ${shown}: the JVM failed (${status}) with its ${formatSize(failed)} heap in Occlum now; ` +
                `measuring again with ${formatSize(next)}, its heap under the recommendation…`,
            ),
        });
        const rec = recommend(m, get().config.text, version());
        patch({ status: 'done', measurement: m, recommendation: rec });
        const changes = rec.fields.filter((f) => f.change).length;
        const bad = rec.fields.filter((f) => f.verdict === 'too-small').map((f) => formatPath(f.path));
        const note = m.stoppedBy
          ? ` (stopped after ${(m.runMs / 1000).toFixed(1)} s: figures cover what it did until then)`
          : m.status === 0
            ? ''
            : ` (it exited with ${m.status}: figures cover only what it did)`;
        get().setFlash(
          `sized ${shown}${note}: ${changes} field(s) to change${bad.length ? `, too small: ${bad.join(', ')}` : ''}` +
            ' — z in the Config pane applies (u undoes)',
          bad.length || (m.status !== 0 && !m.stoppedBy) ? 'error' : 'info',
        );
        if (focus) get().focusConfigPath(focus);
      } catch (err) {
        if (err instanceof SizingStopped) {
          patch({ ...IDLE });
          get().setFlash(`stopped sizing ${shown} before a sample of its program: nothing measured`);
          return;
        }
        // With the occlum backend, b builds for it: a sizing run needs the host build too.
        const hostBuild = /not built/.test(errorMessage(err)) && get().backend !== 'host';
        const msg = `${errorMessage(err)}${hostBuild ? ' — sizing runs on the host backend: build with it' : ''}`;
        patch({ status: 'failed', error: msg });
        get().setFlash(`sizing failed: ${sanitizeForTerminal(msg)}`, 'error');
      } finally {
        running = null;
        ended();
      }
    },
    async sizingStop() {
      const run = running;
      if (!run) return;
      if (!run.stop.signal.aborted) {
        run.stop.abort();
        const shown = sanitizeForTerminal(formatWords(get().sizing.command ?? []));
        get().setFlash(`stopping the sizing run of ${shown}…`);
      }
      await run.ended;
    },
    sizingApply() {
      const s = get();
      const m = s.sizing.measurement;
      if (s.sizing.status === 'measuring') {
        const shown = sanitizeForTerminal(formatWords(s.sizing.command ?? []));
        s.setFlash(
          `sizing ${shown} still measures: its result shows here when it ends (z/esc in the Run pane stops it)`,
        );
        return;
      }
      if (!m) {
        s.setFlash('no sizing result yet: size a program from the Run pane (z) first', 'error');
        return;
      }
      // Recomputed on the current text, so edits made since the measurement are respected.
      const rec = recommend(m, s.config.text, version());
      const next = applyRecommendation(s.config.text, rec);
      patch({ recommendation: rec });
      if (next === s.config.text) {
        s.setFlash('Occlum.json already has the recommended sizes');
        return;
      }
      s.configSetText(next);
      const n = rec.fields.filter((f) => f.change).length;
      const shown = sanitizeForTerminal(formatWords(m.command));
      get().setFlash(`applied the sizing of ${shown}: ${n} field(s) (u undoes, w saves, then build)`);
    },
  };
};

/** A measurement belongs to its instance: opening another one starts over; quitting during one asks. */
export const sizingHooks: SliceHooks = {
  async onOpen(store: StudioStore) {
    await store.getState().sizingStop();
    store.setState({ sizing: IDLE });
  },
  close: (store: StudioStore) => store.getState().sizingStop(),
  unsaved(state: StudioState): string | null {
    const { status, command } = state.sizing;
    if (status !== 'measuring') return null;
    return `sizing ${sanitizeForTerminal(formatWords(command ?? []))} is running (quitting stops it)`;
  },
};
