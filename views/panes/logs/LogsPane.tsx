// The Logs pane: the filtered records of the log buffer, virtualised (only the rows that fit are
// rendered), level-coloured, search matches highlighted, config hints under matching records.
// Keys are in bindings.ts (the one keymap); this renders, plus the line editor while a search,
// filter, export path or log file is typed.
import React, { useRef } from 'react';
import { Box, Text, useStdout } from 'ink';
import { LEVELS, recordParts, type Level, type LogRecord } from '../../../src/core/logs/index.ts';
import { isSizingHint } from '../../../src/core/sizing/fields.ts';
import type { LogsMode } from '../../../src/store/logs-slice.ts';
import type { StudioStore } from '../../../src/store/index.ts';
import { LineEditor } from '../../widgets/LineEditor.tsx';
import { HintLine } from '../../widgets/HintLine.tsx';
import { useClick } from '../../clickable.ts';
import { bindingHints } from '../../hint-line.ts';
import { sizingMeasuring } from '../../sizing-stop.ts';
import { hostLevelScope } from '../../../src/core/backend/host/log.ts';
import { logsBindings } from './bindings.ts';
import { useStudio, useStudioStore } from '../../store-context.tsx';
import { theme } from '../../theme.ts';
import { sanitizeForTerminal } from '../../../src/core/text/sanitize.ts';
import { highlight, recordHeight, visibleWindow, type VisibleRecord } from './layout.ts';

/** Tab bar, status bar, the pane's two header lines and its footer line. */
const CHROME = 5;

const LEVEL_COLOR: Record<Level, string | undefined> = {
  error: theme.error,
  warn: theme.warning,
  info: theme.ok,
  debug: theme.accent,
  trace: theme.muted,
};

const PROMPTS: Record<Exclude<LogsMode, 'list'>, string> = {
  search: 'search: ',
  filter: 'filter: ',
  export: 'export filtered view to: ',
  open: 'open log file: ',
};

export function LogsPane() {
  const store = useStudioStore();
  const { stdout } = useStdout();
  const l = useStudio((s) => s.logs);
  const instanceDir = useStudio((s) => s.instanceDir);
  useStudio(sizingMeasuring); // the hint line offers to stop a sizing run
  const topRef = useRef(0);
  const width = stdout.columns || 80;
  const host = useStudio((s) => s.backend === 'host');
  const height = Math.max(3, (stdout.rows || 24) - CHROME - (host ? 1 : 0));
  const buffer = store.getState().logsBuffer();

  const measure = (r: LogRecord, hints: number) => {
    const p = recordParts(r, { timestamps: l.timestamps });
    return recordHeight(p.body.split('\n'), p.time.length + 6, width, l.wrap, hints);
  };
  const { top, rows } = visibleWindow({
    buffer,
    cursor: l.cursor,
    top: topRef.current,
    height,
    follow: l.follow,
    measure,
  });
  topRef.current = top;

  return (
    <Box flexDirection="column">
      <Header store={store} />
      <FilterLine />
      {host ? <HostLevelLine /> : null}
      <Box flexDirection="column" height={height} overflow="hidden">
        {l.total === 0 ? (
          <Text color={theme.muted}>
            No log records yet. Run a program with OCCLUM_LOG_LEVEL set (L picks the level for the next run), or press o
            to open a saved log.
          </Text>
        ) : rows.length === 0 ? (
          <Text color={theme.muted}>No record passes the filter ({l.size} held). c clears the filters.</Text>
        ) : (
          rows.map((v) => (
            // The wrap mode is part of the key: Ink does not re-measure a mounted Text whose
            // content is unchanged, so rows are remounted when wrapping is toggled.
            <RecordRow
              key={`${v.id}:${l.wrap ? 'w' : 't'}`}
              v={v}
              selected={v.index === l.cursor}
              timestamps={l.timestamps}
              wrap={l.wrap}
              search={l.search}
              regex={l.regex}
              width={width}
            />
          ))
        )}
      </Box>
      {l.mode !== 'list' ? (
        <LineEditor
          prompt={PROMPTS[l.mode]}
          initial={initialFor(l.mode, l, instanceDir)}
          onSubmit={(v) => submit(store, l.mode, v)}
          onCancel={() => store.getState().logsSetMode('list')}
        />
      ) : (
        <HintLine hints={bindingHints(logsBindings, store)} width={width} />
      )}
    </Box>
  );
}

function initialFor(mode: LogsMode, l: { search: string; filter: { text: string } }, dir: string | null): string {
  if (mode === 'search') return l.search;
  if (mode === 'filter') return l.filter.text;
  if (mode === 'export')
    return `${dir ?? process.cwd()}/occlum-studio-logs-${new Date().toISOString().replace(/[:.]/g, '-')}.log`;
  return '';
}

function submit(store: StudioStore, mode: LogsMode, value: string): void {
  const s = store.getState();
  s.logsSetMode('list');
  if (mode === 'search') s.logsSetSearch(value);
  else if (mode === 'filter') s.logsSetFilter({ text: value, regex: s.logs.regex });
  else if (mode === 'export' && value.trim()) s.logsExport(value.trim());
  else if (mode === 'open' && value.trim()) void s.loadLogFile(value.trim());
}

function Header({ store }: { store: StudioStore }) {
  const l = useStudio((s) => s.logs);
  const eff = store.getState().logsEffectiveRunLevel();
  const shown = l.matching === l.size ? `${l.size} records` : `${l.matching} of ${l.size} records`;
  const dropped =
    l.total > l.size ? ` (${l.total - l.size} dropped${l.kept ? `, ${l.kept} errors/warnings kept` : ''})` : '';
  // One Text, truncated at the end as a whole: on a narrow terminal the tail goes, not letters
  // from the middle of each part.
  return (
    <Text wrap="truncate-end">
      <Text bold>Logs</Text>
      {' · '}
      <Text color={l.follow ? theme.ok : theme.muted} bold={l.follow}>
        {l.follow ? 'FOLLOW' : 'paused'}
      </Text>
      {` · ${shown}${dropped}`}
      {` · next run OCCLUM_LOG_LEVEL=${l.runLevel}`}
      {eff.level !== l.runLevel ? ` (effective: ${eff.level}${eff.reason ? `, ${eff.reason}` : ''})` : ''}
      {l.sources.length ? ` · ${sanitizeForTerminal(l.sources.join(', '))}` : ''}
    </Text>
  );
}

/** The host backend has no LibOS: what OCCLUM_LOG_LEVEL (L) shows there instead. */
function HostLevelLine() {
  const level = useStudio((s) => s.logs.runLevel);
  return (
    <Text color={theme.muted} wrap="truncate-end">
      host backend: no LibOS logs · {hostLevelScope(level)}
    </Text>
  );
}

function FilterLine() {
  const l = useStudio((s) => s.logs);
  const f = l.filter;
  const levels = LEVELS.filter((x) => LEVELS.indexOf(x) <= LEVELS.indexOf(f.minLevel) && !f.hiddenLevels.includes(x));
  const parts: string[] = [`levels: ${levels.length === LEVELS.length ? 'all' : levels.join(',') || 'none'}`];
  if (f.thread !== null) parts.push(`thread T${f.thread}`);
  if (f.syscall !== null) parts.push(`syscall ${f.syscall}`);
  if (f.module !== null) parts.push(`module ${f.module}`);
  if (f.text) parts.push(`${f.inverse ? 'NOT ' : ''}${f.regex ? 'regex' : 'text'} "${f.text}"`);
  parts.push(f.includeRaw ? 'program output shown' : 'program output hidden');
  if (l.search) parts.push(`search ${l.regex ? 'regex' : ''}"${l.search}"`);
  if (l.regex && !l.search && !f.text) parts.push('regex mode');
  if (l.wrap) parts.push('wrap');
  return (
    <Text color={l.filterError ? theme.error : theme.muted} wrap="truncate-end">
      {sanitizeForTerminal(l.filterError ?? parts.join(' · '))}
    </Text>
  );
}

interface RowProps {
  v: VisibleRecord;
  selected: boolean;
  timestamps: boolean;
  wrap: boolean;
  search: string;
  regex: boolean;
  width: number;
}

/** Without wrapping, text past the right edge is never shown: cut it before Ink measures it. */
function clip(line: string, max: number, wrap: boolean): string {
  return wrap || line.length <= max ? line : line.slice(0, max);
}

// Records never change once parsed: a row re-renders only when it is (de)selected or a display
// setting changes, so following a flood renders just the rows that scrolled in.
const RecordRow = React.memo(
  function RecordRow({ v, selected, timestamps, wrap: wrapOn, search, regex, width }: RowProps) {
    const store = useStudioStore();
    const ref = useClick(() => {
      const s = store.getState();
      s.logsMove(v.index - s.logs.cursor);
    });
    const r = v.record;
    const p = recordParts(r, { timestamps });
    const lines = p.body.split('\n');
    // One character beyond the edge keeps Ink's end-of-line ellipsis.
    const first = clip(lines[0] ?? '', Math.max(1, width - p.time.length - 6 + 1), wrapOn);
    const rest = lines.slice(1).map((l) => clip(l, width + 1, wrapOn));
    const wrap = wrapOn ? 'wrap' : 'truncate-end';
    const color = r.level ? LEVEL_COLOR[r.level] : theme.muted;
    return (
      // flexShrink 0: when rows overflow the list, Ink hides the last ones instead of squeezing
      // wrapped rows to one line each.
      <Box ref={ref} flexDirection="column" flexShrink={0}>
        <Text wrap={wrap} inverse={selected}>
          <Text color={theme.muted}>{p.time}</Text>
          <Text color={color} bold={r.level === 'error'}>
            {p.label}
          </Text>{' '}
          <Body line={first} search={search} regex={regex} raw={r.level === null} />
        </Text>
        {rest.map((line, i) => (
          <Text key={i} wrap={wrap} inverse={selected}>
            <Body line={line} search={search} regex={regex} raw={r.level === null} />
          </Text>
        ))}
        {v.hints.map((h, i) => (
          <Text key={`h${i}`} color={theme.warning} wrap="truncate-end">
            {'      ↳ '}
            {selected && h.configPath ? `[enter: Config ${h.configPath.join('.')}] ` : 'hint: '}
            {sanitizeForTerminal(h.suggestion)}
            {selected && isSizingHint(h) ? ' · z: size the last program run' : ''}
            {!selected && h.configPath ? ` (Occlum.json ${h.configPath.join('.')})` : ''}
          </Text>
        ))}
      </Box>
    );
  },
  (a, b) =>
    a.v.record === b.v.record &&
    a.selected === b.selected &&
    a.timestamps === b.timestamps &&
    a.wrap === b.wrap &&
    a.search === b.search &&
    a.regex === b.regex &&
    a.width === b.width,
);

function Body({ line, search, regex, raw }: { line: string; search: string; regex: boolean; raw: boolean }) {
  const segs = highlight(line, search, regex);
  return (
    <>
      {segs.map((s, i) =>
        s.hit ? (
          <Text
            key={i}
            inverse={theme.noColor}
            backgroundColor={theme.noColor ? undefined : 'yellow'}
            color={theme.noColor ? undefined : 'black'}
          >
            {s.text}
          </Text>
        ) : (
          <Text key={i} color={raw ? theme.muted : undefined}>
            {s.text}
          </Text>
        ),
      )}
    </>
  );
}
