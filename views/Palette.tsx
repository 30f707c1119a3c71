// `:` command palette: every keymap binding with a command name, from every pane, filtered as
// you type; it fits the terminal (rows and columns) whatever its size.
import React, { useState } from 'react';
import { Box, Text, useInput } from 'ink';
import { paletteEntries, runPaletteEntry, type PaletteEntry } from './keymap.ts';
import { consumeKey, keyName } from './keys.ts';
import { LineEditor } from './widgets/LineEditor.tsx';
import { useStudioStore } from './store-context.tsx';
import { theme } from './theme.ts';
import { useTerminalSize } from './terminal-size.ts';
import { panes } from './panes/registry.ts';
import type { Hint } from './hint-line.ts';
import { HintLine } from './widgets/HintLine.tsx';
import { useClick } from './clickable.ts';

/** The palette has the keyboard (`?` filters): its own keys only. */
const PALETTE_HINTS: Hint[] = [
  { key: '↑/↓', label: 'choose', priority: 2 },
  { key: 'enter', label: 'runs it', short: 'run', priority: 1 },
  { key: 'esc', label: 'closes', short: 'close', priority: 1 },
  { key: '', label: 'type to filter', priority: 3 },
];

/** A command of the list: a click selects it (enter runs it). */
function PaletteRow({ onClick, children }: { onClick(): void; children: React.ReactNode }) {
  const ref = useClick(onClick, { whileTyping: true });
  return <Box ref={ref}>{children}</Box>;
}

export function Palette({ exit }: { exit(): void }) {
  const store = useStudioStore();
  const [query, setQuery] = useState('');
  const [index, setIndex] = useState(0);
  const { columns, rows } = useTerminalSize();
  const entries = paletteEntries(store);
  const filter = (q: string) => entries.filter(({ binding: b }) => `${b.command} ${b.description}`.includes(q.trim()));
  const matches = filter(query);
  const close = () => store.getState().setOverlay('none');

  useInput((input, key) => {
    consumeKey();
    const k = keyName(input, key);
    if (k === 'down' || k === 'ctrl+n') setIndex((i) => Math.min(i + 1, matches.length - 1));
    if (k === 'up' || k === 'ctrl+p') setIndex((i) => Math.max(i - 1, 0));
  });

  // The submitted text, not the last rendered query: a paste can type and submit in one event.
  const submit = (value: string) => {
    const found = filter(value);
    const chosen = found[value === query ? Math.min(index, found.length - 1) : 0];
    close();
    if (!chosen) {
      store.getState().setFlash(`no command matches "${value}"`, 'error');
      return;
    }
    runPaletteEntry(chosen, { store, exit });
  };
  // Tab bar, status bar, the border, the prompt and the hint line take 6 rows; the list scrolls
  // with the selection.
  const visible = Math.max(1, rows - 6);
  const first = Math.max(0, Math.min(index - visible + 1, matches.length - visible));
  const paneTitle = (e: PaletteEntry) =>
    e.pane && e.pane !== store.getState().pane ? `${panes.find((p) => p.id === e.pane)?.title ?? e.pane}: ` : '';

  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1} width={columns} flexShrink={0}>
      <LineEditor
        prompt=":"
        onSubmit={submit}
        onCancel={close}
        onChange={(v) => {
          setQuery(v);
          setIndex(0);
        }}
      />
      {matches.slice(first, first + visible).map((e, i) => (
        <PaletteRow key={`${e.pane}:${e.binding.command}`} onClick={() => setIndex(first + i)}>
          <Text wrap="truncate-end">
            <Text inverse={first + i === index}>{(e.binding.command ?? '').padEnd(20)}</Text>
            <Text color={theme.muted}>
              {' '}
              {paneTitle(e)}
              {e.binding.description} [{e.binding.keys[0]}]
            </Text>
          </Text>
        </PaletteRow>
      ))}
      {/* Border and padding take four columns. */}
      <HintLine hints={PALETTE_HINTS} width={columns - 4} help={false} />
    </Box>
  );
}
