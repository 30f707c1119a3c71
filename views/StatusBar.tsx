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
  return (
    <Box height={1} width="100%">
      <Box flexShrink={0}>
        <Text inverse wrap="truncate-end">{left}</Text>
      </Box>
      <Box flexGrow={1} paddingLeft={1} overflow="hidden">
        {s.flash ? (
          <Text color={s.flash.kind === 'error' ? theme.error : theme.ok} bold={s.flash.kind === 'error'} wrap="truncate-end">
            {s.flash.text}
          </Text>
        ) : null}
      </Box>
      <Box flexShrink={0}>
        <Text color={theme.muted} wrap="truncate-end"> ? help  : commands  q quit</Text>
      </Box>
    </Box>
  );
}
