// The full-screen shell: tab bar, focused pane (or the start screen), status bar, overlays.
// One useInput here dispatches through the keymap; panes and overlays that take text own the
// keyboard while they do (store.capture / overlay).
import React, { useEffect, useState } from 'react';
import { Box, Text, useApp, useInput } from 'ink';
import { dispatchKey, reviewArmed } from './keymap.ts';
import { isConsumed, keyName } from './keys.ts';
import { panes } from './panes/registry.ts';
import { HelpOverlay } from './HelpOverlay.tsx';
import { Palette } from './Palette.tsx';
import { StartScreen } from './StartScreen.tsx';
import { StatusBar } from './StatusBar.tsx';
import { TabBar, tabLayout } from './TabBar.tsx';
import { mouse, type MouseEvent } from './mouse.ts';
import { clickAt } from './clickable.ts';
import { useTerminalSize } from './terminal-size.ts';
import { useStudio, useStudioStore } from './store-context.tsx';

/** The smallest terminal every pane and overlay is laid out for (tested at 40x10 and up). */
export const MIN_COLUMNS = 40;
export const MIN_ROWS = 10;

const WHEEL_LINES = 3;
const stdoutColumns = () => process.stdout.columns || 80;

export function App() {
  const store = useStudioStore();
  const { exit } = useApp();
  const { columns, rows } = useTerminalSize();
  const { instanceDir, pane, overlay } = useStudio((s) => ({
    instanceDir: s.instanceDir,
    pane: s.pane,
    overlay: s.overlay,
  }));
  const [helpScroll, setHelpScroll] = useState(0);
  useEffect(() => setHelpScroll(0), [overlay]);

  // Mouse: the wheel scrolls what the arrows scroll, a click on the tab bar focuses that pane and
  // a click on a list row selects it (views/clickable.ts), unless a text field has the keys.
  useEffect(() => {
    const onMouse = (e: MouseEvent) => {
      const s = store.getState();
      if (e.kind === 'press') {
        if (s.overlay === 'help' || s.capture === 'terminal') return;
        const typing = s.capture === true || s.overlay === 'palette';
        if (e.y !== 1) return void clickAt(e.x, e.y, typing);
        if (typing || s.instanceDir === null) return;
        const tab = tabLayout(stdoutColumns(), s.pane).tabs.find((t) => e.x >= t.from && e.x <= t.to);
        if (tab) s.setPane(tab.id);
        return;
      }
      const up = e.kind === 'wheelup';
      if (s.overlay === 'help') return setHelpScroll((n) => Math.max(0, n + (up ? -WHEEL_LINES : WHEEL_LINES)));
      if (s.capture === 'terminal') return s.runScroll(up ? WHEEL_LINES : -WHEEL_LINES);
      if (s.overlay !== 'none' || s.capture) return;
      for (let i = 0; i < WHEEL_LINES; i++) dispatchKey(up ? 'up' : 'down', { store, exit });
    };
    mouse.on('event', onMouse);
    return () => {
      mouse.off('event', onMouse);
    };
  }, [store, exit]);

  // A "press q again" notice must not outlive what it warns about (undo back to the saved text).
  useEffect(() => store.subscribe(() => reviewArmed(store)), [store]);

  useInput((input, key) => {
    if (isConsumed()) return; // a text field or the palette already took this press
    // Live state, not the render closure: the previous key may have just changed it.
    const s = store.getState();
    const name = keyName(input, key);
    if (s.overlay === 'help') {
      if (name === 'escape' || name === '?' || name === 'q') s.setOverlay('none');
      else if (name === 'down' || name === 'j') setHelpScroll((n) => n + 1);
      else if (name === 'up' || name === 'k') setHelpScroll((n) => Math.max(0, n - 1));
      else if (name === 'pagedown' || name === ' ') setHelpScroll((n) => n + rows - 4);
      else if (name === 'pageup') setHelpScroll((n) => Math.max(0, n - (rows - 4)));
      return;
    }
    if (s.overlay === 'palette') return; // the palette reads its own keys
    if (s.capture === 'terminal') return; // the Run pane forwards every key, ctrl+c included
    if (s.capture && name !== 'ctrl+c') return;
    // A pty can merge fast keystrokes into one chunk ("jj"): dispatch them one by one.
    const names = name === input && input.length > 1 && !key.ctrl && !key.meta ? [...input] : [name];
    for (const n of names) dispatchKey(n, { store, exit });
  });

  if (columns < MIN_COLUMNS || rows < MIN_ROWS) {
    // Below this no pane can keep its frame; the keys still work (q quits, a resize redraws).
    return (
      <Box flexDirection="column">
        <Text wrap="truncate-end">
          terminal too small: {columns}x{rows} {'<'} {MIN_COLUMNS}x{MIN_ROWS}
        </Text>
        <Text wrap="truncate-end">q quits</Text>
      </Box>
    );
  }
  const Pane = panes.find((p) => p.id === pane)?.component;
  let body: React.ReactNode;
  if (instanceDir === null) body = <StartScreen />;
  else if (Pane) body = <Pane />;
  else body = <Text>No pane is available yet for this instance.</Text>;

  return (
    <Box flexDirection="column" width={columns} height={rows}>
      <TabBar />
      <Box flexGrow={1} flexDirection="column" overflow="hidden">
        {overlay === 'help' ? (
          <HelpOverlay height={rows - 2} scroll={helpScroll} />
        ) : overlay === 'palette' ? (
          <Palette exit={exit} />
        ) : (
          body
        )}
      </Box>
      <StatusBar />
    </Box>
  );
}
