// The one application store (zustand vanilla). Each area contributes a slice; views subscribe
// with useStore + useShallow and call the actions, which delegate to src/core.
import { createStore } from 'zustand/vanilla';
import { createAppSlice, type AppSlice } from './app-slice.ts';

export type StudioState = AppSlice;

export function createStudioStore() {
  return createStore<StudioState>()((...a) => ({
    ...createAppSlice(...a),
  }));
}

export type StudioStore = ReturnType<typeof createStudioStore>;
