// The full-screen shell: tab bar, focused pane (or the start screen), status bar, overlays.
// One useInput here dispatches through the keymap; panes and overlays that take text own the
// keyboard while they do (store.capture / overlay).
import React, { useEffect, useState } from 'react';
import { Box, Text, useApp, useInput, useStdout } from 'ink';
import { dispatchKey } from './keymap.ts';
import { keyName } from './keys.ts';
import { panes } from './panes/registry.ts';
import { HelpOverlay } from './HelpOverlay.tsx';
import { Palette } from './Palette.tsx';
import { StartScreen } from './StartScreen.tsx';
import { StatusBar } from './StatusBar.tsx';
import { TabBar } from './TabBar.tsx';
import { useStudio, useStudioStore } from './store-context.tsx';

function useTerminalSize(): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = () => ({ columns: stdout.columns || 80, rows: stdout.rows || 24 });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = () => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return size;
}

export function App() {
  const store = useStudioStore();
  const { exit } = useApp();
  const { columns, rows } = useTerminalSize();
  const { instanceDir, pane, overlay, capture } = useStudio((s) => ({
    instanceDir: s.instanceDir,
    pane: s.pane,
    overlay: s.overlay,
    capture: s.capture,
  }));

  useInput((input, key) => {
    const name = keyName(input, key);
    if (overlay === 'help' && (name === 'escape' || name === '?' || name === 'q')) {
      store.getState().setOverlay('none');
      return;
    }
    if (overlay === 'palette') return; // the palette reads its own keys
    if (capture === 'terminal') return; // the Run pane forwards every key, ctrl+c included
    if (capture && name !== 'ctrl+c') return;
    dispatchKey(name, { store, exit });
  });

  const Pane = panes.find((p) => p.id === pane)?.component;
  let body: React.ReactNode;
  if (instanceDir === null) body = <StartScreen />;
  else if (Pane) body = <Pane />;
  else body = <Text>No pane is available yet for this instance.</Text>;

  return (
    <Box flexDirection="column" width={columns} height={rows}>
      <TabBar />
      <Box flexGrow={1} flexDirection="column" overflow="hidden">
        {overlay === 'help' ? <HelpOverlay /> : overlay === 'palette' ? <Palette exit={exit} /> : body}
      </Box>
      <StatusBar />
    </Box>
  );
}
