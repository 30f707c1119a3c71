// The entry-point picker: a command line to type (path inside the image, then arguments), with
// the run history and the executables found under the entry points to choose from.
import React, { useState } from 'react';
import { Box, Text, useInput } from 'ink';
import { formatCommandLine } from '../../../src/core/pty/command-line.ts';
import { LineEditor } from '../../widgets/LineEditor.tsx';
import { HintLine } from '../../widgets/HintLine.tsx';
import type { Hint } from '../../hint-line.ts';
import { useTerminalSize } from '../../terminal-size.ts';
import { useClick } from '../../clickable.ts';
import { keyName } from '../../keys.ts';
import { useStudio, useStudioStore } from '../../store-context.tsx';
import { theme } from '../../theme.ts';
import { sanitizeForTerminal } from '../../../src/core/text/sanitize.ts';

interface Choice {
  line: string;
  from: 'history' | 'image';
}

export function choicesFor(
  kind: 'run' | 'exec',
  history: { kind: string; path: string; args: string[] }[],
  candidates: string[],
  filter: string,
): Choice[] {
  const seen = new Set<string>();
  const out: Choice[] = [];
  for (const h of history) {
    if (h.kind !== kind) continue;
    const line = formatCommandLine(h);
    if (!seen.has(line)) out.push({ line, from: 'history' });
    seen.add(line);
  }
  for (const c of candidates) if (!seen.has(c)) out.push({ line: c, from: 'image' });
  const f = filter.trim().toLowerCase();
  return f ? out.filter((c) => c.line.toLowerCase().includes(f)) : out;
}

/** The picker's keys (it has the keyboard, so `?` types: not offered). */
const PICKER_HINTS: Hint[] = [
  { key: '↑/↓', label: 'choose', priority: 2 },
  { key: 'tab', label: 'copies the choice', short: 'copy', priority: 3 },
  { key: 'enter', label: 'runs the line (empty: the choice)', short: 'run', priority: 1 },
  { key: 'esc', label: 'cancels', short: 'cancel', priority: 1 },
];

/** A choice: a click selects it (enter with an empty line runs it). */
function ChoiceRow({ onClick, children }: { onClick(): void; children: React.ReactNode }) {
  const ref = useClick(onClick, { whileTyping: true });
  return <Box ref={ref}>{children}</Box>;
}

export function Picker({ height }: { height: number }) {
  const store = useStudioStore();
  const { columns } = useTerminalSize();
  const { picker, history } = useStudio((s) => ({ picker: s.run.picker, history: s.run.history }));
  const [text, setText] = useState(picker?.initial ?? '');
  const [selected, setSelected] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const kind = picker?.kind ?? 'run';
  const choices = choicesFor(kind, history, picker?.candidates ?? [], text);
  const sel = Math.min(selected, Math.max(0, choices.length - 1));

  useInput((input, key) => {
    const k = keyName(input, key);
    if (k === 'up') setSelected(Math.max(0, sel - 1));
    else if (k === 'down') setSelected(Math.min(choices.length - 1, sel + 1));
  });

  const submit = async (value: string) => {
    if (busy) return;
    // An empty line runs the highlighted choice.
    const line = value.trim() === '' ? (choices[sel]?.line ?? '') : value;
    setBusy(true);
    const problem = await store.getState().runStartLine(kind, line);
    setBusy(false);
    if (problem) setError(problem);
  };

  const listRows = Math.max(1, height - 5);
  const first = Math.max(0, Math.min(sel - Math.floor(listRows / 2), choices.length - listRows));
  const shown = choices.slice(first, first + listRows);
  return (
    <Box flexDirection="column" height={height} flexShrink={0} overflow="hidden">
      <Text bold wrap="truncate-end">
        {kind === 'run' ? 'Run a program' : 'Exec a program in the server (occlum exec)'}
        <Text color={theme.muted}>: its path inside the image, then arguments</Text>
      </Text>
      <HintLine hints={PICKER_HINTS} width={columns} help={false} />
      <LineEditor
        initial={picker?.initial ?? ''}
        prompt={kind === 'run' ? 'run> ' : 'exec> '}
        onChange={(v) => {
          setText(v);
          setSelected(0);
          setError(null);
        }}
        onSubmit={(v) => void submit(v)}
        onTab={() => (choices[sel] ? choices[sel].line + ' ' : undefined)}
        onCancel={() => store.getState().runClosePicker()}
      />
      <Text color={theme.error} wrap="truncate-end">
        {sanitizeForTerminal(error ?? ' ')}
      </Text>
      {choices.length === 0 ? (
        <Text color={theme.muted} wrap="truncate-end">
          {text.trim()
            ? 'no match in the history or the image: enter runs the line as typed'
            : 'no executables under the entry points of Occlum.json yet, and no history: type a path'}
        </Text>
      ) : (
        shown.map((c, i) => {
          const isSel = first + i === sel;
          return (
            <ChoiceRow key={c.from + c.line} onClick={() => setSelected(first + i)}>
              <Text inverse={isSel} wrap="truncate-end">
                {isSel ? '▸ ' : '  '}
                {sanitizeForTerminal(c.line)}
                <Text color={theme.muted}>{c.from === 'history' ? '  (history)' : ''}</Text>
              </Text>
            </ChoiceRow>
          );
        })
      )}
    </Box>
  );
}
