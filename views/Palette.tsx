// `:` command palette: every keymap binding with a command name, filtered as you type.
import React, { useState } from 'react';
import { Box, Text, useInput } from 'ink';
import { activeBindings, type KeyContext } from './keymap.ts';
import { consumeKey, keyName } from './keys.ts';
import { LineEditor } from './widgets/LineEditor.tsx';
import { useStudioStore } from './store-context.tsx';
import { theme } from './theme.ts';

export function Palette({ exit }: { exit(): void }) {
  const store = useStudioStore();
  const [query, setQuery] = useState('');
  const [index, setIndex] = useState(0);
  const commands = activeBindings(store).filter((b) => b.command);
  const filter = (q: string) => commands.filter((b) => `${b.command} ${b.description}`.includes(q.trim()));
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
    const ctx: KeyContext = { store, exit };
    chosen.run(ctx);
  };

  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <LineEditor prompt=":" onSubmit={submit} onCancel={close} onChange={(v) => { setQuery(v); setIndex(0); }} />
      {matches.slice(0, 12).map((b, i) => (
        <Box key={b.command}>
          <Text inverse={i === index}>{(b.command ?? '').padEnd(20)}</Text>
          <Text color={theme.muted}> {b.description}  [{b.keys[0]}]</Text>
        </Box>
      ))}
    </Box>
  );
}
