// `?` help, generated from the keymap that dispatches keys (so it cannot drift from it).
import React from 'react';
import { Box, Text } from 'ink';
import { activeBindings, type Binding } from './keymap.ts';
import { useStudio, useStudioStore } from './store-context.tsx';
import { theme } from './theme.ts';

function Row({ b }: { b: Binding }) {
  return (
    <Box>
      <Box width={22}>
        <Text color={theme.key}>{b.keys.join(' / ')}</Text>
      </Box>
      <Text>{b.description}</Text>
    </Box>
  );
}

export function HelpOverlay() {
  const store = useStudioStore();
  useStudio((s) => [s.pane, s.instanceDir]);
  const bindings = activeBindings(store);
  const local = bindings.filter((b) => b.scope !== 'global');
  const global = bindings.filter((b) => b.scope === 'global');
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <Text bold>Keys (? or escape closes)</Text>
      {local.length > 0 && <Text bold color={theme.accent}>This pane</Text>}
      {local.map((b) => <Row key={b.keys.join()} b={b} />)}
      <Text bold color={theme.accent}>Everywhere</Text>
      {global.map((b) => <Row key={b.keys.join()} b={b} />)}
    </Box>
  );
}
