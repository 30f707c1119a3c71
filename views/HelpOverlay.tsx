// `?` help, generated from the keymap that dispatches keys (so it cannot drift from it).
// Long lists scroll (j/k, up/down, pageup/pagedown) inside the height the shell gives it.
import React from 'react';
import { Box, Text } from 'ink';
import { activeBindings, type Binding } from './keymap.ts';
import { useStudio, useStudioStore } from './store-context.tsx';
import { theme } from './theme.ts';
import type { Hint } from './hint-line.ts';
import { HintLine } from './widgets/HintLine.tsx';
import { useTerminalSize } from './terminal-size.ts';

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
  const { columns } = useTerminalSize();
  const all = lines(activeBindings(store));
  // Border (2) and title (1) take three rows.
  const room = Math.max(1, height - 3);
  const top = Math.min(scroll, Math.max(0, all.length - room));
  const shown = all.slice(top, top + room);
  const more: Hint[] =
    all.length > room
      ? [
          { key: 'j/k', label: 'scroll', short: '', priority: 1 },
          { key: '', label: `${top + 1}–${top + shown.length} of ${all.length}`, priority: 2 },
        ]
      : [];
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      {/* Border and padding take four columns. */}
      <HintLine title="Keys (? or escape closes)" hints={more} width={columns - 4} help={false} />
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
