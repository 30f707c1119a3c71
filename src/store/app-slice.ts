// Shell state: which instance is open, which pane has focus, overlays and messages.
import type { StateCreator } from 'zustand/vanilla';
import type { StudioState } from './index.ts';
import { findInstances, type FoundInstance } from '../core/instance/discover.ts';

export type PaneId = 'config' | 'build' | 'run' | 'files' | 'logs';

export interface AppSlice {
  /** Absolute path of the open instance, or null on the start screen. */
  instanceDir: string | null;
  /** Directory the studio was launched in (the start screen lists instances below it). */
  launchDir: string;
  backend: 'host' | 'occlum';
  /** Occlum version the config is checked against, once known (config slice or --occlum-version). */
  occlumVersion: string | null;
  /** The instance's live status (initialized, built, running, serving: instance-status.ts); at
   *  first the word in its .__occlum_status. */
  instanceStatus: string | null;
  /** Changes with every build of the instance, the studio's or another's (instance-status.ts). */
  instanceBuildStamp: string | null;
  pane: PaneId;
  overlay: 'none' | 'help' | 'palette';
  /** True while a pane's text field owns the keyboard: global keys are not dispatched.
   *  'terminal' while the Run pane forwards every key (ctrl+c too) to a program. */
  capture: boolean | 'terminal';
  /** One-line message in the status bar. */
  flash: { text: string; kind: 'info' | 'error' } | null;
  /** The command whose key was pressed once and asked for confirmation: pressing it again runs it. */
  armed: string | null;
  /** The start screen is asking for the path of a new instance (it owns the keyboard meanwhile). */
  startPrompt: 'new' | null;
  /** Instances found below launchDir (start screen) and the selected row. */
  startInstances: FoundInstance[];
  startIndex: number;
  setPane(pane: PaneId): void;
  setOverlay(overlay: AppSlice['overlay']): void;
  setCapture(capture: boolean | 'terminal'): void;
  setFlash(text: string | null, kind?: 'info' | 'error'): void;
  setArmed(armed: string | null): void;
  setStartPrompt(prompt: 'new' | null): void;
  scanInstances(): void;
  moveStartSelection(step: number): void;
  setOcclumVersion(version: string | null): void;
}

export const createAppSlice: StateCreator<StudioState, [], [], AppSlice> = (set, get) => ({
  instanceDir: null,
  launchDir: process.cwd(),
  backend: 'host',
  occlumVersion: null,
  instanceStatus: null,
  instanceBuildStamp: null,
  pane: 'config',
  overlay: 'none',
  capture: false,
  flash: null,
  armed: null,
  startPrompt: null,
  startInstances: [],
  startIndex: 0,
  setPane: (pane) => set({ pane, overlay: 'none' }),
  setOverlay: (overlay) => set({ overlay }),
  setCapture: (capture) => set({ capture }),
  setFlash: (text, kind = 'info') => set({ flash: text === null ? null : { text, kind } }),
  setArmed: (armed) => set({ armed }),
  setStartPrompt: (startPrompt) => set({ startPrompt, capture: startPrompt !== null }),
  scanInstances: () => set({ startInstances: findInstances(get().launchDir), startIndex: 0 }),
  moveStartSelection: (step) =>
    set({ startIndex: Math.max(0, Math.min(get().startInstances.length - 1, get().startIndex + step)) }),
  setOcclumVersion: (occlumVersion) => set({ occlumVersion }),
});
