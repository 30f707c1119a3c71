import React from 'react';
import { Box, Text } from 'ink';
import { panes } from './panes/registry.ts';
import { useStudio } from './store-context.tsx';
import { theme } from './theme.ts';

export function TabBar() {
  const { pane, open } = useStudio((s) => ({ pane: s.pane, open: s.instanceDir !== null }));
  return (
    <Box>
      <Text bold color={theme.accent}>occlum-studio </Text>
      {open && panes.map((p) => (
        <Text key={p.id} inverse={p.id === pane} bold={p.id === pane}>
          {' '}
          {p.key} {p.title}{' '}
        </Text>
      ))}
    </Box>
  );
}
