// The one renderer of pane tests: the studio's App over a store in ink-testing-library, its last
// frame as text, and keys typed one at a time with a pause after each (Ink reads a chunk of input
// as one key press only when the keys arrive apart).
import React from 'react';
import { render } from 'ink-testing-library';
import type { StudioStore } from '../../src/store/index.ts';
import { App } from '../../views/App.tsx';
import { StoreProvider } from '../../views/store-context.tsx';

export function renderStudio(store: StudioStore, keyGapMs = 20) {
  const ui = render(
    <StoreProvider store={store}>
      <App />
    </StoreProvider>,
  );
  const frame = () => ui.lastFrame() ?? '';
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      ui.stdin.write(k);
      await new Promise((r) => setTimeout(r, keyGapMs));
    }
  };
  return { ui, frame, press };
}
