// Shell state: which instance is open, which pane has focus, transient messages.
import type { StateCreator } from 'zustand/vanilla';
import type { StudioState } from './index.ts';

export type PaneId = 'config' | 'build' | 'run' | 'files' | 'logs';

export interface AppSlice {
  /** Absolute path of the open instance, or null on the start screen. */
  instanceDir: string | null;
  /** Directory the studio was launched in (start screen lists instances below it). */
  launchDir: string;
  backend: 'host' | 'occlum';
  pane: PaneId;
  /** An overlay on top of the panes (help, command palette), or none. */
  overlay: 'none' | 'help' | 'palette';
  /** One-line message in the status bar (errors in red). */
  flash: { text: string; kind: 'info' | 'error' } | null;
  setPane(pane: PaneId): void;
  setOverlay(overlay: AppSlice['overlay']): void;
  setFlash(text: string, kind?: 'info' | 'error'): void;
  openInstance(dir: string): void;
}

export const createAppSlice: StateCreator<StudioState, [], [], AppSlice> = (set) => ({
  instanceDir: null,
  launchDir: process.cwd(),
  backend: 'host',
  pane: 'config',
  overlay: 'none',
  flash: null,
  setPane: (pane) => set({ pane, overlay: 'none' }),
  setOverlay: (overlay) => set({ overlay }),
  setFlash: (text, kind = 'info') => set({ flash: { text, kind } }),
  openInstance: (dir) => set({ instanceDir: dir }),
});
