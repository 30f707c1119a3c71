// `?` help, generated from the keymap that dispatches keys (so it cannot drift from it).
// Long lists scroll (j/k, up/down, pageup/pagedown) inside the height the shell gives it.
import React from 'react';
import { Box, Text } from 'ink';
import { activeBindings, type Binding } from './keymap.ts';
import { useStudio, useStudioStore } from './store-context.tsx';
import { theme } from './theme.ts';

type Line = { kind: 'heading'; text: string } | { kind: 'binding'; b: Binding };

function lines(bindings: Binding[]): Line[] {
  const local = bindings.filter((b) => b.scope !== 'global');
  const global = bindings.filter((b) => b.scope === 'global');
  return [
    ...(local.length > 0 ? [{ kind: 'heading', text: 'This pane' } as const] : []),
    ...local.map((b) => ({ kind: 'binding', b }) as const),
    { kind: 'heading', text: 'Everywhere' } as const,
    ...global.map((b) => ({ kind: 'binding', b }) as const),
  ];
}

export function HelpOverlay({ height, scroll }: { height: number; scroll: number }) {
  const store = useStudioStore();
  useStudio((s) => [s.pane, s.instanceDir]);
  const all = lines(activeBindings(store));
  // Border (2) and title (1) take three rows.
  const room = Math.max(1, height - 3);
  const top = Math.min(scroll, Math.max(0, all.length - room));
  const shown = all.slice(top, top + room);
  const more = all.length > room ? `  (${top + 1}–${top + shown.length} of ${all.length}, j/k scroll)` : '';
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <Text bold>
        Keys (? or escape closes)<Text color={theme.muted}>{more}</Text>
      </Text>
      {shown.map((l, i) =>
        l.kind === 'heading' ? (
          <Text key={`h${i}`} bold color={theme.accent}>
            {l.text}
          </Text>
        ) : (
          <Box key={l.b.scope + l.b.keys.join()}>
            <Box width={22} flexShrink={0}>
              <Text color={theme.key}>{l.b.keys.join(' / ')}</Text>
            </Box>
            <Text wrap="truncate-end">{l.b.description}</Text>
          </Box>
        ),
      )}
    </Box>
  );
}
