// The Build pane: the dev loop's state and toggles (header), the history of builds (newest
// first, the selected one highlighted), the selected build's trigger, result and failure cause,
// and its full output, scrollable. Keys are in bindings.ts.
import React, { useEffect } from 'react';
import { Box, Text, useStdout } from 'ink';
import type { BuildRecord, GuardNotice } from '../../../src/core/watch/types.ts';
import { displayLine } from '../../../src/core/text/output-line.ts';
import type { BuildState } from '../../../src/store/build-slice.ts';
import { useStudio, useStudioStore } from '../../store-context.tsx';
import { isBuilt } from '../../../src/store/instance-status.ts';
import { theme } from '../../theme.ts';
import { sanitizeForTerminal } from '../../../src/core/text/sanitize.ts';
import { BomPlan } from './BomPlan.tsx';
import { HintLine } from '../../widgets/HintLine.tsx';
import { useClick } from '../../clickable.ts';
import { bindingHints } from '../../hint-line.ts';
import { buildBindings } from './bindings.ts';
import { fullCheckLine } from '../../../src/core/backend/host/guard.ts';
import { causeField, changeLabel, formatMs, HISTORY_HEADER, historyRow, OUTCOME_LABEL } from './format.ts';

/** Tab bar and status bar around the pane, and its hint line. */
const CHROME = 3;
const HISTORY_ROWS = 6;

const PHASE_TEXT: Record<BuildState['phase'], string> = {
  idle: 'idle',
  prebuild: 'running the prebuild',
  bom: 'copying the boms',
  building: 'building',
  stopping: 'stopping the program',
  launching: 'starting the program',
};

export function BuildPane() {
  const store = useStudioStore();
  const { stdout } = useStdout();
  const b = useStudio((s) => s.build);
  const rows = stdout.rows || 24;
  const cols = stdout.columns || 80;
  const selected =
    b.selected === null ? b.history.at(-1) : (b.history.find((r) => r.id === b.selected) ?? b.history.at(-1));
  // header 1, history title+header+rows, details 3–5, output title 1
  const historyHeight = Math.min(HISTORY_ROWS, Math.max(1, b.history.length));
  // The cause and its fix wrap (they are the point of a failed build); the output gets the rest.
  const wrapped = (text: string) => Math.max(1, Math.ceil(text.length / Math.max(20, cols)));
  const causeLines = selected?.cause
    ? wrapped(`cause (${selected.cause.stage}): ${selected.cause.message}`) +
      wrapped(
        `field ${selected.cause.configPath?.join('.') ?? ''} (enter: open in Config) · fix: ${selected.cause.hint ?? ''}`,
      )
    : 0;
  const detailsHeight = selected ? 3 + causeLines : 0;
  // The header's problem and activity rows, when shown, and the guard's wrapped line.
  const headerExtra = (b.problem ? 1 : 0) + (b.activity ? 1 : 0);
  const guardLines = b.guard ? wrapped(guardText(b.guard)) : 0; // runs checked in full, why, the fix
  const outputHeight = Math.max(
    3,
    rows - CHROME - 1 - headerExtra - guardLines - (2 + historyHeight) - detailsHeight - 1,
  );

  useEffect(() => {
    store.getState().buildSetViewHeight(outputHeight);
  }, [outputHeight, store]);

  return (
    <Box flexDirection="column" width={cols} height={rows - 2}>
      <Header b={b} />
      <History b={b} selected={selected} height={historyHeight} />
      {selected ? <Details r={selected} /> : null}
      {selected && b.view === 'bom' ? <BomPlan r={selected} top={b.outputTop} height={outputHeight} /> : null}
      {selected && b.view === 'output' ? <Output r={selected} top={b.outputTop} height={outputHeight} /> : null}
      {selected ? null : <Box flexGrow={1} />}
      <HintLine hints={bindingHints(buildBindings, store)} width={cols} />
    </Box>
  );
}

function Toggle({ label, on, k }: { label: string; on: boolean; k: string }) {
  return (
    <Text>
      {label}:{' '}
      <Text color={on ? theme.ok : theme.muted} bold={on}>
        {on ? 'on' : 'off'}
      </Text>
      <Text color={theme.muted}> ({k})</Text>
    </Text>
  );
}

const guardText = (n: GuardNotice) => `${fullCheckLine(n)}; fix: ${n.fix}`;

function Header({ b }: { b: BuildState }) {
  let state: React.ReactNode;
  if (b.loop === 'watching') {
    const busy = b.phase !== 'idle';
    state = <Text color={busy ? theme.warning : theme.ok}>{busy ? PHASE_TEXT[b.phase] : 'watching'}</Text>;
  } else if (b.loop === 'starting') state = <Text color={theme.muted}>starting the watcher…</Text>;
  else state = <Text color={theme.error}>not watching</Text>;
  return (
    <Box flexDirection="column">
      {/* One row: the fixed items never shrink (a long prebuild once split the title in two);
          the prebuild command takes what is left and is cut. */}
      <Box gap={2} height={1}>
        <Box flexShrink={0} gap={2}>
          <Text bold>Build</Text>
          {state}
          <Toggle label="auto-build" on={b.autoBuild} k="a" />
          <Toggle label="auto-rerun" on={b.autoRerun} k="r" />
          {/* Off is the default and the row is full: shown only when on (p toggles, ? lists it). */}
          {b.keepRun ? <Toggle label="keep run/" on k="p" /> : null}
          {b.pending > 0 ? <Text color={theme.warning}>{b.pending} changes waiting (b builds)</Text> : null}
        </Box>
        {b.prebuild ? (
          <Box flexShrink={1} minWidth={0}>
            <Text color={theme.muted} wrap="truncate-end">
              prebuild: {displayLine(b.prebuild)}
            </Text>
          </Box>
        ) : null}
      </Box>
      {b.problem ? (
        <Text color={theme.error} wrap="truncate-end">
          {displayLine(b.problem)}
        </Text>
      ) : null}
      {b.guard ? (
        <Text color={theme.warning} wrap="wrap">
          {displayLine(guardText(b.guard))}
        </Text>
      ) : null}
      {b.activity ? (
        <Text color={theme.muted} wrap="truncate-end">
          {displayLine(b.activity)}…
        </Text>
      ) : null}
    </Box>
  );
}

function History({ b, selected, height }: { b: BuildState; selected: BuildRecord | undefined; height: number }) {
  const built = useStudio((s) => isBuilt(s.instanceStatus));
  if (b.history.length === 0) {
    const save = `save ${b.watchesSources ? 'a watched source, ' : ''}a file under image/, initfs/ or Occlum.json`;
    return (
      <Box flexDirection="column" marginTop={1}>
        <Text color={theme.muted}>
          {built
            ? `No builds in this session: ${save}, or press b to rebuild now.`
            : `No builds yet: ${save}, or press b to build now.`}
        </Text>
      </Box>
    );
  }
  const newestFirst = b.history.slice().reverse();
  const at = Math.max(
    0,
    newestFirst.findIndex((r) => r === selected || r.id === selected?.id),
  );
  const top = Math.max(0, Math.min(at - Math.floor(height / 2), newestFirst.length - height));
  const shown = newestFirst.slice(top, top + height);
  return (
    <Box flexDirection="column" marginTop={1}>
      <Text color={theme.muted} wrap="truncate-end">
        {'  '}
        {HISTORY_HEADER}
      </Text>
      {shown.map((r) => (
        <HistoryRow key={r.id} r={r} selected={r.id === selected?.id} steps={newestFirst.indexOf(r) - at} />
      ))}
    </Box>
  );
}

/** One build of the history; a click selects it (`steps` from the selected one, newest first). */
function HistoryRow({ r, selected, steps }: { r: BuildRecord; selected: boolean; steps: number }) {
  const store = useStudioStore();
  const ref = useClick(() => store.getState().buildSelect(steps));
  const color = r.outcome === 'failed' ? theme.error : r.outcome === 'ok' ? undefined : theme.warning;
  return (
    <Box ref={ref}>
      <Text color={color} inverse={selected} wrap="truncate-end">
        {selected ? '> ' : '  '}
        {historyRow(r)}
      </Text>
    </Box>
  );
}

function Details({ r }: { r: BuildRecord }) {
  const field = causeField(r);
  const files = r.changes.map(changeLabel);
  const stages = [
    r.stages.prebuildMs !== null ? `prebuild ${formatMs(r.stages.prebuildMs)}` : null,
    r.stages.buildMs !== null ? `build ${formatMs(r.stages.buildMs)}` : null,
  ].filter(Boolean);
  return (
    <Box flexDirection="column" marginTop={1}>
      <Text wrap="truncate-end">
        <Text bold>#{r.id}</Text> {OUTCOME_LABEL[r.outcome]} · {r.trigger} ·{' '}
        {new Date(r.startedAt).toLocaleTimeString()} · {formatMs(r.durationMs)}
        {stages.length ? ` (${stages.join(', ')})` : ''}
        {r.repacked !== null ? ` · ${r.repacked} re-packed, ${r.reused ?? 0} reused` : ''}
        {r.imageMac ? ` · MAC ${r.imageMac}` : ''}
      </Text>
      <Text color={theme.muted} wrap="truncate-end">
        changed ({files.length}): {files.length ? files.join(' ') : '—'}
      </Text>
      {r.cause ? (
        <>
          <Text color={theme.error} wrap="wrap">
            cause ({r.cause.stage}): {sanitizeForTerminal(r.cause.message)}
          </Text>
          <Text wrap="wrap">
            {field ? (
              <Text>
                field <Text color={theme.accent}>{field}</Text>
                <Text color={theme.muted}> (enter: open in Config)</Text>
                {r.cause.hint ? ' · ' : ''}
              </Text>
            ) : null}
            {r.cause.hint ? <Text>fix: {sanitizeForTerminal(r.cause.hint)}</Text> : null}
          </Text>
        </>
      ) : null}
    </Box>
  );
}

function Output({ r, top, height }: { r: BuildRecord; top: number | null; height: number }) {
  const total = r.output.length;
  const bottom = Math.max(0, total - height);
  const first = top === null ? bottom : Math.min(top, bottom);
  const lines = r.output.slice(first, first + height);
  return (
    <Box flexDirection="column">
      <Text color={theme.muted} wrap="truncate-end">
        ── output of #{r.id}: lines {total ? first + 1 : 0}–{first + lines.length} of {total}
        {top === null ? ' (following)' : ''} ──
      </Text>
      <Box flexDirection="column" height={height} overflow="hidden">
        {lines.map((l, i) => (
          <Text
            key={first + i}
            color={
              l.stream === 'studio'
                ? theme.accent
                : l.stream === 'prebuild' || l.stream === 'bom'
                  ? theme.muted
                  : undefined
            }
            wrap="truncate-end"
          >
            {l.text === '' ? ' ' : displayLine(l.text)}
          </Text>
        ))}
      </Box>
    </Box>
  );
}
