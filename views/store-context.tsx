// Gives views the one studio store. Components select state with useStudio(selector); actions
// are read from the store the same way (they are stable functions).
import React, { createContext, useContext } from 'react';
import { useStore } from 'zustand';
import { useShallow } from 'zustand/react/shallow';
import type { StudioState, StudioStore } from '../src/store/index.ts';

const StoreContext = createContext<StudioStore | null>(null);

export function StoreProvider({ store, children }: { store: StudioStore; children: React.ReactNode }) {
  return <StoreContext.Provider value={store}>{children}</StoreContext.Provider>;
}

export function useStudioStore(): StudioStore {
  const store = useContext(StoreContext);
  if (!store) throw new Error('useStudioStore outside StoreProvider');
  return store;
}

/** Select from the store; objects/arrays returned by the selector are compared shallowly. */
export function useStudio<T>(selector: (s: StudioState) => T): T {
  return useStore(useStudioStore(), useShallow(selector));
}
