import React from 'react';
import { Box, Text } from 'ink';
import { panes } from './panes/registry.ts';
import { useStudio } from './store-context.tsx';
import { theme } from './theme.ts';
import type { PaneId } from '../src/store/app-slice.ts';
import { useTerminalSize } from './terminal-size.ts';

const BRAND = 'occlum-studio ';

interface TabLayout {
  brand: boolean;
  tabs: { id: PaneId; label: string; from: number; to: number }[];
}

/**
 * One row at any width: the brand goes first, then the titles of the panes not focused. The
 * columns each tab covers (1-based, as mouse reports count) are where a click focuses it.
 */
export function tabLayout(columns: number, focused: PaneId): TabLayout {
  const full = panes.reduce((n, p) => n + p.title.length + 4, 0);
  const brand = BRAND.length + full <= columns;
  const titles = full <= columns;
  let at = brand ? BRAND.length + 1 : 1;
  const tabs = panes.map((p) => {
    const label = ` ${p.key}${titles || p.id === focused ? ` ${p.title}` : ''} `;
    const tab = { id: p.id, label, from: at, to: at + label.length - 1 };
    at += label.length;
    return tab;
  });
  return { brand, tabs };
}

export function TabBar() {
  const { pane, open } = useStudio((s) => ({ pane: s.pane, open: s.instanceDir !== null }));
  const { columns } = useTerminalSize();
  const layout = tabLayout(columns, pane);
  return (
    <Box height={1} overflow="hidden">
      {!open || layout.brand ? (
        <Text bold color={theme.accent}>
          {BRAND}
        </Text>
      ) : null}
      {open &&
        layout.tabs.map((t) => (
          <Text key={t.id} inverse={t.id === pane} bold={t.id === pane}>
            {t.label}
          </Text>
        ))}
    </Box>
  );
}
