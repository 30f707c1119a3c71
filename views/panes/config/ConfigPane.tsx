// The Config pane: Occlum.json as a navigable tree with values and diagnostics beside them, key
// help and the problems list. Keys are in bindings.ts (the one keymap); this only renders, plus
// the line editor while a value, a new item or a search is being typed.
import React from 'react';
import { Box, Text, useStdout } from 'ink';
import { formatPath, helpFor, type Diagnostic } from '../../../src/core/config/index.ts';
import { formatField } from '../../../src/core/sizing/apply.ts';
import type { SizingState } from '../../../src/store/sizing-slice.ts';
import { sanitizeForTerminal } from '../../../src/core/text/sanitize.ts';
import { LineEditor } from '../../widgets/LineEditor.tsx';
import { HintLine } from '../../widgets/HintLine.tsx';
import { useClick } from '../../clickable.ts';
import { bindingHints, type Hint } from '../../hint-line.ts';
import { configBindings } from './bindings.ts';
import { useStudio, useStudioStore } from '../../store-context.tsx';
import { severityColor, theme } from '../../theme.ts';
import * as act from './actions.ts';
import { formatWords } from '../../../src/core/pty/command-line.ts';

const MARK = { error: '✖', warning: '⚠', info: 'ℹ' } as const;
/** Rows used by the tab bar, status bar, the pane header and its hint line. */
const CHROME = 4;

/** The first clause of a message, to sit beside the value in the tree. */
function brief(message: string): string {
  const first = message.split(/: |; /)[0]!;
  return first.length > 70 ? first.slice(0, 69) + '…' : first;
}

/** While a value, a new item or a search is typed, the field has the keys. */
const EDITING_HINTS: Hint[] = [
  { key: 'enter', label: 'applies', priority: 1 },
  { key: 'esc', label: 'cancels', priority: 1 },
];

function plural(n: number, w: string) {
  return `${n} ${w}${n === 1 ? '' : 's'}`;
}

export function ConfigPane() {
  const store = useStudioStore();
  const { stdout } = useStdout();
  const c = useStudio((s) => s.config);
  const sizing = useStudio((s) => s.sizing);
  const screenRows = stdout.rows || 24;
  // Problems list: title + up to 5 lines (3 on small screens).
  const problemLines = screenRows < 30 ? 4 : 6;
  const sizingRows = sizingLines(sizing, screenRows < 30 ? 4 : 10);
  const height = Math.max(4, screenRows - CHROME - problemLines - sizingRows.length - (c.conflict ? 1 : 0));
  const width = stdout.columns || 80;

  if (!c.file) return <Text>No Occlum.json in this instance (run `occlum-studio init` to create one).</Text>;
  if (c.loadError) return <Text color={theme.error}>{sanitizeForTerminal(c.loadError)}</Text>;

  const { rows, index, row } = act.selectedRow(store);
  const diags = c.result?.diagnostics ?? [];
  const counts = c.result?.counts ?? { error: 0, warning: 0, info: 0 };
  const dirty = c.text !== c.savedText;
  const version = c.result
    ? `${c.result.rules} (${c.result.explicitVersion ? 'set' : `detected: ${c.result.detection.range}`})`
    : '';

  // Keep the selection inside the visible window.
  const start = Math.max(0, Math.min(index - Math.floor(height / 2), rows.length - height));
  const visible = rows.slice(start, start + height);
  const treeWidth = Math.max(30, Math.floor(width * 0.58));

  const submitEdit = (v: string) => act.commitEdit(store, v);
  const cancel = () => store.getState().configSetMode('tree');

  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        <Text bold>Occlum.json</Text>
        {dirty ? ' [modified]' : ''} ·{' '}
        <Text color={counts.error ? theme.error : theme.ok}>{plural(counts.error, 'error')}</Text>,{' '}
        <Text color={counts.warning ? theme.warning : undefined}>{plural(counts.warning, 'warning')}</Text> · {version}
      </Text>
      {c.conflict ? (
        <Text color={theme.error} bold wrap="truncate-end">
          {c.conflict.diskText === null
            ? 'Occlum.json was deleted on disk.'
            : 'Occlum.json changed on disk while you have unsaved edits.'}{' '}
          R reload (edits stay undoable) · ctrl+o overwrite
        </Text>
      ) : null}
      <Box height={height} overflow="hidden">
        <Box flexDirection="column" width={treeWidth}>
          {rows.length === 0 ? (
            <Text color={theme.muted}>(nothing to show: the file is not a JSON object — see the problems below)</Text>
          ) : null}
          {visible.map((r, i) => {
            const selected = start + i === index;
            const mark = r.severity ? MARK[r.severity] : ' ';
            const opener = r.kind === 'object' || r.kind === 'array' ? (r.collapsed ? '▸ ' : '▾ ') : '  ';
            const editing = selected && c.mode === 'edit';
            return (
              <ClickRow key={JSON.stringify(r.path)} onClick={() => act.selectFromClick(store, r.path)}>
                <Box width={2} flexShrink={0}>
                  <Text color={r.severity ? severityColor(r.severity) : undefined}>{mark}</Text>
                </Box>
                <Text inverse={selected && c.mode !== 'problems' && !editing} wrap="truncate-end">
                  {'  '.repeat(r.depth)}
                  {opener}
                  {/* Keys and values are the user's: a control character in one must not act or break the row. */}
                  <Text color={theme.accent}>{sanitizeForTerminal(r.label)}</Text>
                  {editing ? ': ' : `: ${sanitizeForTerminal(r.value)}`}
                  {!editing && r.diagnostics[0] ? (
                    <Text color={severityColor(r.severity!)}>
                      {`  ${MARK[r.diagnostics[0].severity]} ${sanitizeForTerminal(brief(r.diagnostics[0].message))}`}
                    </Text>
                  ) : null}
                </Text>
                {editing ? (
                  <LineEditor initial={act.editInitial(r, c.text)} onSubmit={submitEdit} onCancel={cancel} />
                ) : null}
              </ClickRow>
            );
          })}
          {c.mode === 'insert' ? (
            <LineEditor
              prompt={sanitizeForTerminal(act.insertPrompt(store))}
              onSubmit={(v) => act.commitInsert(store, v)}
              onCancel={cancel}
            />
          ) : null}
          {c.mode === 'search' ? (
            <LineEditor prompt="/" onSubmit={(v) => act.commitSearch(store, v)} onCancel={cancel} />
          ) : null}
        </Box>
        <Box flexDirection="column" width={width - treeWidth - 1} paddingLeft={1}>
          {row ? <Help path={row.path} diagnostics={row.diagnostics} /> : null}
        </Box>
      </Box>
      {sizingRows.map((l, i) => (
        <Text key={`z${i}`} color={sizingColor(l, i)} wrap="truncate-end">
          {l}
        </Text>
      ))}
      <Problems diagnostics={diags} focused={c.mode === 'problems'} selected={c.problemIndex} lines={problemLines} />
      {c.mode === 'tree' || c.mode === 'problems' ? (
        <HintLine hints={bindingHints(configBindings, store)} width={width} />
      ) : (
        <HintLine hints={EDITING_HINTS} width={width} help={false} />
      )}
    </Box>
  );
}

/** A row that a click selects. */
function ClickRow({ onClick, children }: { onClick(): void; children: React.ReactNode }) {
  const ref = useClick(onClick);
  return <Box ref={ref}>{children}</Box>;
}

function sizingColor(line: string, i: number): string | undefined {
  if (i === 0) return theme.accent;
  return line.startsWith('!') ? theme.error : line.startsWith('~') ? theme.warning : undefined;
}

/** The sizing result under the tree: a title, then the fields to change first (at most `max` lines). */
function sizingLines(z: SizingState, max: number): string[] {
  const cmd = sanitizeForTerminal(formatWords(z.command ?? []));
  if (z.status === 'idle') return [];
  if (z.status === 'measuring')
    return [`Sizing: measuring ${cmd} on the host backend… (z/esc in the Run pane stops it)`];
  if (z.status === 'failed') return [`Sizing failed: ${sanitizeForTerminal(z.error ?? '')}`];
  const fields = [...(z.recommendation?.fields ?? [])].sort((a, b) => Number(b.change) - Number(a.change));
  const lines = fields.map((f) => sanitizeForTerminal(formatField(f)));
  return [`Sizing of ${cmd} — z applies (u undoes, w saves, then build)`, ...lines].slice(0, max);
}

function Help({ path, diagnostics }: { path: (string | number)[]; diagnostics: Diagnostic[] }) {
  const spec = helpFor(path);
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        {sanitizeForTerminal(formatPath(path))}
      </Text>
      {spec ? <Text color={theme.muted}>{spec.help}</Text> : <Text color={theme.muted}>Not a key Occlum knows.</Text>}
      {diagnostics.map((d, i) => (
        <Box key={i} flexDirection="column">
          <Text color={severityColor(d.severity)}>
            {MARK[d.severity]} {sanitizeForTerminal(d.message)}
          </Text>
          {d.fix ? <Text color={theme.key}> f: {sanitizeForTerminal(d.fix.title)}</Text> : null}
        </Box>
      ))}
    </Box>
  );
}

function Problems({
  diagnostics,
  focused,
  selected,
  lines,
}: {
  diagnostics: Diagnostic[];
  focused: boolean;
  selected: number;
  lines: number;
}) {
  const store = useStudioStore();
  const shown = lines - 1;
  const start = Math.max(0, Math.min(selected - Math.floor(shown / 2), diagnostics.length - shown));
  return (
    <Box flexDirection="column" height={lines} overflow="hidden">
      <Text bold color={focused ? theme.accent : undefined} wrap="truncate-end">
        Problems ({diagnostics.length}){focused ? ' (focused)' : ''}
      </Text>
      {diagnostics.length === 0 ? <Text color={theme.ok}>none</Text> : null}
      {diagnostics.slice(start, start + shown).map((d, i) => (
        <ClickRow key={start + i} onClick={() => act.selectProblem(store, start + i)}>
          <Text inverse={focused && start + i === selected} color={severityColor(d.severity)} wrap="truncate-end">
            {MARK[d.severity]} {d.line}:{d.column} {sanitizeForTerminal(d.message)}
            {d.fix ? ` [f: ${sanitizeForTerminal(d.fix.title)}]` : ''}
          </Text>
        </ClickRow>
      ))}
    </Box>
  );
}
