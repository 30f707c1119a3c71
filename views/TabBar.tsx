import React from 'react';
import { Box, Text } from 'ink';
import { panes } from './panes/registry.ts';
import { useStudio } from './store-context.tsx';
import { theme } from './theme.ts';
import { useTerminalSize } from './terminal-size.ts';

const BRAND = 'occlum-studio ';

/** One row at any width: the brand goes first, then the titles of the panes not focused. */
export function TabBar() {
  const { pane, open } = useStudio((s) => ({ pane: s.pane, open: s.instanceDir !== null }));
  const { columns } = useTerminalSize();
  const full = panes.reduce((n, p) => n + p.title.length + 4, 0);
  const brand = !open || BRAND.length + full <= columns;
  const titles = full <= columns;
  return (
    <Box height={1} overflow="hidden">
      {brand ? <Text bold color={theme.accent}>{BRAND}</Text> : null}
      {open &&
        panes.map((p) => (
          <Text key={p.id} inverse={p.id === pane} bold={p.id === pane}>
            {' '}
            {p.key}
            {titles || p.id === pane ? ` ${p.title}` : ''}{' '}
          </Text>
        ))}
    </Box>
  );
}
