// The Run pane: one tab per program (run, or exec into the server), the focused program's
// terminal drawn from screen snapshots, an exit banner, and the picker. Keys are in bindings.ts;
// while forwarding, raw keystrokes go to the program and only ctrl+] comes back to the studio.
import React, { useEffect } from 'react';
import { Box, Text, useStdin } from 'ink';
import { LEAVE_KEY, LEAVE_KEY_NAME } from '../../../src/core/pty/input.ts';
import { isSizingHint } from '../../../src/core/sizing/fields.ts';
import type { RunTab } from '../../../src/store/run-slice.ts';
import { useTerminalSize } from '../../terminal-size.ts';
import { useStudio, useStudioStore } from '../../store-context.tsx';
import { theme } from '../../theme.ts';
import { sanitizeForTerminal } from '../../../src/core/text/sanitize.ts';
import { formatCommandLine } from '../../../src/core/pty/command-line.ts';
import { Picker } from './Picker.tsx';
import { HintLine } from '../../widgets/HintLine.tsx';
import { useClick } from '../../clickable.ts';
import { bindingHints } from '../../hint-line.ts';
import { sizingMeasuring } from '../../sizing-stop.ts';
import { runBindings } from './bindings.ts';

/** Rows taken by the shell (tab bar, status bar) and this pane (tab line, banner, hint). */
export const RUN_CHROME = 5;

/** The terminal size the pane can give a program, from the studio's own terminal size. */
export function paneTerminalSize(columns: number, rows: number): { cols: number; rows: number } {
  return { cols: Math.max(10, columns), rows: Math.max(3, rows - RUN_CHROME) };
}

/** While forwarding, every raw keystroke goes to the program, except the leave key. */
function useForwarding(active: boolean) {
  const store = useStudioStore();
  const { internal_eventEmitter: events } = useStdin();
  useEffect(() => {
    if (!active || !events) return;
    const onInput = (raw: string) => {
      const at = raw.indexOf(LEAVE_KEY);
      if (at < 0) return store.getState().runWrite(raw);
      if (at > 0) store.getState().runWrite(raw.slice(0, at));
      store.getState().runSetForwarding(false);
    };
    events.on('input', onInput);
    return () => {
      events.off('input', onInput);
    };
  }, [active, events, store]);
}

function tabMark(t: RunTab): { text: string; color?: string } {
  if (t.state === 'starting') return { text: '…' };
  if (t.state === 'running') return { text: '●', color: theme.ok };
  if (t.state === 'refused') return { text: '✗ refused', color: theme.error };
  const ok = t.exit?.ok;
  return { text: `${ok ? '✓' : '✗'} ${t.exit?.status ?? '?'}`, color: ok ? theme.ok : theme.error };
}

/**
 * Which tabs fit in `width` columns: the focused one and its neighbours, alternating right and
 * left, so the focused tab is always visible. Returns the index range [first, last].
 */
export function tabWindow(widths: number[], focused: number, width: number): [number, number] {
  if (widths.length === 0) return [0, -1];
  const f = Math.max(0, Math.min(focused, widths.length - 1));
  let first = f;
  let last = f;
  let used = widths[f];
  // Room for the "‹ n" / "n ›" markers of hidden tabs.
  const budget = width - 8;
  for (let grew = true; grew;) {
    grew = false;
    if (last + 1 < widths.length && used + widths[last + 1] <= budget) {
      used += widths[++last];
      grew = true;
    }
    if (first > 0 && used + widths[first - 1] <= budget) {
      used += widths[--first];
      grew = true;
    }
  }
  return [first, last];
}

function tabLabel(t: RunTab): string {
  return ` ${t.kind === 'exec' ? 'exec ' : ''}${sanitizeForTerminal(t.title)} ${tabMark(t).text} `;
}

function TabLine({ width }: { width: number }) {
  const { tabs, active } = useStudio((s) => ({ tabs: s.run.tabs, active: s.run.active }));
  if (tabs.length === 0) return <Text color={theme.muted}>no programs yet</Text>;
  const [first, last] = tabWindow(
    tabs.map((t) => tabLabel(t).length),
    tabs.findIndex((t) => t.id === active),
    width,
  );
  return (
    <Box height={1} flexShrink={0} overflow="hidden">
      {first > 0 ? <Text color={theme.muted}>‹ {first} </Text> : null}
      {tabs.slice(first, last + 1).map((t) => (
        <RunTabLabel key={t.id} t={t} focused={t.id === active} />
      ))}
      {last < tabs.length - 1 ? <Text color={theme.muted}> {tabs.length - 1 - last} ›</Text> : null}
    </Box>
  );
}

/** One program's tab; a click focuses it. */
function RunTabLabel({ t, focused }: { t: RunTab; focused: boolean }) {
  const store = useStudioStore();
  const ref = useClick(() => store.getState().runFocusTabId(t.id));
  const mark = tabMark(t);
  return (
    <Box ref={ref} flexShrink={0}>
      <Text inverse={focused} bold={focused} wrap="truncate-end">
        {' '}
        {t.kind === 'exec' ? 'exec ' : ''}
        {/* Program names and arguments are the user's: shown escaped, never acted on. */}
        {sanitizeForTerminal(t.title)} <Text color={focused ? undefined : mark.color}>{mark.text}</Text>{' '}
      </Text>
    </Box>
  );
}

/** Lines under the banner for the explanation of a failed run (the screen gives them up).
 *  Every line of the pane's chrome truncates instead of wrapping: the layout has a fixed height,
 *  and a wrapped line would make Yoga shrink the terminal rows onto each other. */
export const DETAIL_LINES = 2;

function TerminalView({ rows }: { rows: number }) {
  const store = useStudioStore();
  useStudio((s) => s.run.version); // re-render on screen changes
  const snap = store.getState().runSnapshot();
  const tab = store.getState().run.tabs.find((t) => t.id === store.getState().run.active);
  if (!tab) {
    return (
      <Box flexDirection="column" height={rows} flexShrink={0} overflow="hidden">
        <Text>Nothing is running.</Text>
        <Text>
          Press <Text color={theme.key}>r</Text> to pick a program under the entry points (or from the history) and run
          it (occlum run). <Text color={theme.key}>s</Text> starts the instance as a server (occlum start),{' '}
          <Text color={theme.key}>x</Text> runs programs in it (occlum exec).
        </Text>
      </Box>
    );
  }
  if (!snap) {
    return (
      <Box flexDirection="column" height={rows} flexShrink={0} overflow="hidden">
        {tab.state === 'starting' ? <Text>starting {sanitizeForTerminal(tab.path)}…</Text> : null}
        {(tab.error ?? []).map((line, i) => (
          <Text key={i} color={theme.error} wrap="wrap">
            {sanitizeForTerminal(line)}
          </Text>
        ))}
        {tab.state === 'refused' && tab.kind === 'exec' ? (
          <Text color={theme.muted}>
            exec runs programs in the instance's server: <Text color={theme.key}>s</Text> starts it, then{' '}
            <Text color={theme.key}>R</Text> tries again.
          </Text>
        ) : null}
      </Box>
    );
  }
  // With fewer rows than the program's screen (the exit explanation took some), keep the rows
  // that end at the cursor: where the last output is, as a terminal scrolled for the banner.
  const first = rows >= snap.lines.length ? 0 : Math.max(0, Math.min(snap.cursor.y + 1, snap.lines.length) - rows);
  return (
    <Box flexDirection="column" height={rows} flexShrink={0} overflow="hidden">
      {snap.lines.slice(first, first + rows).map((line, i) => (
        <Text key={i} wrap="truncate-end">
          {line === '' ? ' ' : line}
        </Text>
      ))}
    </Box>
  );
}

/**
 * How the program was launched, where its timing is shown: in a prepared sandbox or cold, and why.
 * A cold launch is only news while the dev loop reruns (it would have prepared one): else nothing.
 */
export function launchNote(tab: RunTab, looping: boolean): string {
  const l = tab.launch;
  if (!l || (l.kind === 'cold' && !looping)) return '';
  const first = l.firstOutputMs === null ? '' : `, first output ${Math.round(l.firstOutputMs)} ms`;
  const why = l.kind === 'cold' && l.why ? ` (${sanitizeForTerminal(l.why)})` : '';
  return ` · ${l.kind === 'prepared' ? 'prepared sandbox' : 'cold launch'}${first}${why}`;
}

function Footer({ width }: { width: number }) {
  const store = useStudioStore();
  const { tab, forwarding, looping, activity } = useStudio((s) => ({
    tab: s.run.tabs.find((t) => t.id === s.run.active) ?? null,
    forwarding: s.run.forwarding,
    looping: s.build.loop === 'watching' && s.build.autoRerun,
    // What the dev loop is at during a long step (its start, a build): the rerun waits for it.
    activity: s.build.activity,
    measuring: sizingMeasuring(s), // the hint line offers to stop it
  }));
  let banner: React.ReactNode = <Text> </Text>;
  if (tab?.exit) {
    const path = sanitizeForTerminal(tab.path);
    const what = tab.state === 'refused' ? `${tab.kind} ${path} was refused` : `${path} ${tab.exit.summary}`;
    banner = (
      <Text wrap="truncate-end">
        <Text inverse bold color={tab.exit.ok ? theme.ok : theme.error}>
          {' '}
          {tab.exit.ok ? '✓' : '✗'} {what} · status {tab.exit.status}{' '}
        </Text>
        {tab.exitNote ? ` ${sanitizeForTerminal(tab.exitNote)}` : ''}
        <Text color={theme.muted}>{launchNote(tab, looping)}</Text>
        {activity ? <Text color={theme.muted}> · dev loop: {sanitizeForTerminal(activity)}…</Text> : null}
      </Text>
    );
  } else if (tab?.signalSent) {
    banner = (
      <Text color={theme.warning} wrap="truncate-end">
        {tab.signalSent} sent · K again sends SIGKILL
      </Text>
    );
  } else if (tab?.state === 'running') {
    banner = (
      <Text color={theme.muted} wrap="truncate-end">
        {/* Quoted as the picker takes it: an empty or spaced argument stays visible. */}
        running {sanitizeForTerminal(formatCommandLine(tab))}
        {launchNote(tab, looping)}
      </Text>
    );
  } else if (activity) {
    banner = (
      <Text color={theme.muted} wrap="truncate-end">
        dev loop: {sanitizeForTerminal(activity)}…
      </Text>
    );
  }
  const detail =
    tab?.exit && !tab.exit.ok ? (
      <Box height={DETAIL_LINES} overflow="hidden">
        <Text wrap="wrap">{sanitizeForTerminal(tab.exit.detail)}</Text>
      </Box>
    ) : null;
  const sizingHint = tab?.exit && !tab.exit.ok ? tab.hints.find(isSizingHint) : undefined;
  // Any other hint (fork attempts the sandbox counted, output it recognised), whatever the status.
  const otherHint = tab?.exit ? tab.hints.find((h) => !isSizingHint(h)) : undefined;
  const footHint = sizingHint ?? otherHint;
  let hint: React.ReactNode;
  if (forwarding) {
    // `?` would go to the program: the way back is the one key to show.
    hint = (
      <HintLine
        inverse
        help={false}
        color={theme.accent}
        width={width}
        hints={[
          { key: '', label: 'keys go to the program', short: 'keys go to it', priority: 2 },
          { key: LEAVE_KEY_NAME, label: 'gives them back to the studio', short: 'back', priority: 0 },
        ]}
      />
    );
  } else if (tab && tab.offset > 0) {
    hint = (
      <HintLine
        color={theme.warning}
        width={width}
        hints={[
          { key: '', label: `scrolled back ${tab.offset} lines`, short: `-${tab.offset} lines`, priority: 0 },
          { key: 'end', label: 'live screen', short: 'live', priority: 1 },
          { key: 'PgUp/PgDn', label: 'scroll', priority: 2 },
        ]}
      />
    );
  } else if (footHint) {
    hint = (
      <HintLine
        color={theme.warning}
        width={width}
        hints={[
          {
            key: '',
            label: `hint: ${sanitizeForTerminal(`${footHint.message}: ${footHint.suggestion}`)}`,
            short: `hint: ${sanitizeForTerminal(footHint.message)}`,
            priority: 3,
          },
          ...(footHint === sizingHint
            ? [{ key: 'z', label: 'size this program', short: 'size', priority: 1 as const }]
            : []),
          { key: 'R', label: 'rerun', priority: 1 },
        ]}
      />
    );
  } else {
    hint = <HintLine width={width} hints={bindingHints(runBindings, store)} />;
  }
  return (
    <Box flexDirection="column">
      {banner}
      {detail}
      {hint}
    </Box>
  );
}

export function RunPane() {
  const store = useStudioStore();
  const { columns, rows } = useTerminalSize();
  const { forwarding, picker, failed } = useStudio((s) => {
    const tab = s.run.tabs.find((t) => t.id === s.run.active);
    return { forwarding: s.run.forwarding, picker: s.run.picker !== null, failed: !!tab?.exit && !tab.exit.ok };
  });
  const size = paneTerminalSize(columns, rows);
  useEffect(() => {
    store.getState().runResize(size);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- size is rebuilt each render; its numbers are the deps
  }, [size.cols, size.rows, store]);
  useForwarding(forwarding);
  return (
    <Box flexDirection="column">
      <TabLine width={size.cols} />
      {picker ? (
        <Picker height={size.rows} />
      ) : (
        <TerminalView rows={failed ? Math.max(1, size.rows - DETAIL_LINES) : size.rows} />
      )}
      <Footer width={columns} />
    </Box>
  );
}
