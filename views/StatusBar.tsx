import React from 'react';
import { Box, Text } from 'ink';
import { useStudio } from './store-context.tsx';
import { theme } from './theme.ts';
import { statusLine } from './status-line.ts';
import { useTerminalSize } from './terminal-size.ts';

/** Bottom line: instance · backend · targeted Occlum version · build state · message or help hint. */
export function StatusBar() {
  const s = useStudio((s) => ({
    dir: s.instanceDir,
    backend: s.backend,
    version: s.occlumVersion,
    status: s.instanceStatus,
    flash: s.flash,
  }));
  const { columns } = useTerminalSize();
  const { left, right } = statusLine(s, s.flash?.text ?? null, columns);
  // One Text so Ink truncates the whole line at the terminal width instead of wrapping it (a
  // wrapped status bar would push the frame one row past the screen).
  return (
    <Box height={1} width="100%">
      <Text wrap="truncate-end">
        <Text inverse>{left}</Text>
        {s.flash ? (
          <Text color={s.flash.kind === 'error' ? theme.error : theme.ok} bold={s.flash.kind === 'error'}>
            {right}
          </Text>
        ) : (
          <Text color={theme.muted}>{right}</Text>
        )}
      </Text>
    </Box>
  );
}
