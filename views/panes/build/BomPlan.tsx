// The Build pane's bom view (v): the selected build's bom copies as a plan: what comes from
// where, each program's libraries (found, missing), warnings, errors and the files no entry
// produces. Every path comes from user data: sanitized before it reaches the terminal.
import React from 'react';
import { Box, Text } from 'ink';
import { summaryLines, type SummaryTone } from '../../../src/core/bom/summary.ts';
import type { BuildRecord } from '../../../src/core/watch/types.ts';
import { sanitizeForTerminal } from '../../../src/core/text/sanitize.ts';
import { theme } from '../../theme.ts';

const TONE: Record<SummaryTone, { color?: string; bold?: boolean }> = {
  title: { bold: true },
  normal: {},
  muted: { color: theme.muted },
  warning: { color: theme.warning },
  error: { color: theme.error },
};

export function BomPlan({ r, top, height }: { r: BuildRecord; top: number | null; height: number }) {
  const lines = summaryLines(r.boms ?? []);
  const bottom = Math.max(0, lines.length - height);
  const first = top === null ? 0 : Math.min(top, bottom);
  const shown = lines.slice(first, first + height);
  return (
    <Box flexDirection="column">
      <Text color={theme.muted} wrap="truncate-end">
        ── bom plan of #{r.id}: lines {lines.length ? first + 1 : 0}–{first + shown.length} of {lines.length} ──
      </Text>
      <Box flexDirection="column" height={height} overflow="hidden">
        {lines.length === 0 ? (
          <Text color={theme.muted}>
            No bom copy in this build (the settings name no bom, or their sources did not change).
          </Text>
        ) : null}
        {shown.map((l, i) => (
          <Text key={first + i} {...TONE[l.tone]} wrap="truncate-end">
            {sanitizeForTerminal(l.text) || ' '}
          </Text>
        ))}
      </Box>
    </Box>
  );
}
