import React from 'react';
import { Box, Text } from 'ink';
import { basename } from 'node:path';
import { useStudio } from './store-context.tsx';
import { theme } from './theme.ts';

/** Bottom line: instance · backend · targeted Occlum version · build state · message · help hint. */
export function StatusBar() {
  const s = useStudio((s) => ({
    dir: s.instanceDir,
    backend: s.backend,
    version: s.occlumVersion,
    status: s.instanceStatus,
    flash: s.flash,
  }));
  const backend = s.backend === 'host' ? 'host backend (no enclave)' : 'occlum';
  const left = s.dir
    ? ` ${basename(s.dir)} │ ${backend} │ Occlum ${s.version ?? '?'} │ ${s.status ?? 'no status'} `
    : ` no instance │ ${backend} `;
  // One Text so Ink truncates the whole line at the terminal width instead of wrapping it (a
  // wrapped status bar would push the frame one row past the screen).
  return (
    <Box height={1} width="100%">
      <Text wrap="truncate-end">
        <Text inverse>{left}</Text>
        {s.flash ? (
          <Text color={s.flash.kind === 'error' ? theme.error : theme.ok} bold={s.flash.kind === 'error'}>
            {' '}
            {s.flash.text}
          </Text>
        ) : (
          <Text color={theme.muted}> ? help  : commands  q quit</Text>
        )}
      </Text>
    </Box>
  );
}
