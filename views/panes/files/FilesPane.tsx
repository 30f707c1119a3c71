// The Files pane: the instance's secure file system as a lazy tree (left) with the selected
// entry's metadata and a preview, verify results or the diff against image/ (right). Keys are in
// bindings.ts; this renders, opens the file system when first shown, and hosts the extract prompt.
import React, { useEffect, useRef } from 'react';
import { Box, Text, useStdout } from 'ink';
import type { FsEntry } from '../../../src/core/securefs/types.ts';
import type { FilesState, FilesLayer, TreeRow } from '../../../src/store/files-slice.ts';
import { LineEditor } from '../../widgets/LineEditor.tsx';
import { HintLine } from '../../widgets/HintLine.tsx';
import { useClick } from '../../clickable.ts';
import { bindingHints } from '../../hint-line.ts';
import { filesBindings } from './bindings.ts';
import { useStudio, useStudioStore } from '../../store-context.tsx';
import { theme } from '../../theme.ts';
import { sanitizeForTerminal } from '../../../src/core/text/sanitize.ts';
import { hexLayout, hexRow, humanSize, LAYER_TAG, modeString, octal, windowTop, wrapText } from './format.ts';

/** Tab bar, status bar, the pane's header and hint lines. */
const CHROME = 4;
/** Lines of the metadata block above the preview. */
const META = 6;

const LAYER_TITLE: Record<FilesLayer, string> = {
  merged: 'merged view (run layer over image)',
  image: 'image layer (build/mount)',
  run: 'run layer only (what runs wrote or deleted)',
};

export function FilesPane() {
  const store = useStudioStore();
  const { stdout } = useStdout();
  const f = useStudio((s) => s.files);
  const instanceDir = useStudio((s) => s.instanceDir);
  const launchDir = useStudio((s) => s.launchDir);
  const topRef = useRef(0);

  // Opened when first shown; re-read each time the pane is shown again, so files that programs
  // wrote (or a build made) meanwhile appear.
  useEffect(() => {
    const s = store.getState();
    if (s.files.status === 'ready' || s.files.status === 'error') void s.filesOpen(true);
  }, [store]);
  useEffect(() => {
    if (f.status === 'closed') void store.getState().filesOpen();
  }, [f.status, instanceDir, store]);
  // A build while the pane is shown (the dev loop's, or `occlum build` in another terminal).
  const buildStamp = useStudio((s) => s.instanceBuildStamp);
  const seenStamp = useRef(buildStamp);
  useEffect(() => {
    if (buildStamp === seenStamp.current) return;
    seenStamp.current = buildStamp;
    const s = store.getState();
    if (s.files.status === 'ready' || s.files.status === 'error') void s.filesOpen(true);
  }, [buildStamp, store]);

  const cols = stdout.columns || 80;
  const height = Math.max(6, (stdout.rows || 24) - CHROME - (f.note ? 1 : 0) - (f.extracting ? 1 : 0));
  const treeWidth = Math.max(24, Math.floor(cols * 0.4));
  const rightWidth = Math.max(20, cols - treeWidth - 1);

  return (
    <Box flexDirection="column">
      <Header f={f} />
      {f.note ? (
        <Text color={theme.warning} wrap="truncate-end">
          {sanitizeForTerminal(f.note)}
        </Text>
      ) : null}
      <Box height={height} overflow="hidden">
        {f.status === 'error' ? (
          <Box flexDirection="column">
            <Text color={theme.error} bold>
              Cannot show the file system
            </Text>
            <Text color={theme.error}>{sanitizeForTerminal(f.error ?? '')}</Text>
          </Box>
        ) : f.status !== 'ready' ? (
          <Text color={theme.muted}>Opening the secure file system…</Text>
        ) : (
          <>
            <Box width={treeWidth} flexDirection="column" overflow="hidden" marginRight={1}>
              <Tree f={f} height={height} width={treeWidth} topRef={topRef} />
            </Box>
            <Box width={rightWidth} flexDirection="column" overflow="hidden">
              <Meta entry={f.rows[f.cursor]?.entry ?? null} problem={problemFor(f, f.rows[f.cursor]?.entry.path)} />
              <Panel f={f} height={height - META} width={rightWidth} />
            </Box>
          </>
        )}
      </Box>
      {f.extracting ? (
        <Text color={theme.accent} wrap="truncate-end">
          extracting {sanitizeForTerminal(f.extracting.path)} → {sanitizeForTerminal(f.extracting.dest)}:{' '}
          {f.extracting.done}/{f.extracting.total} entries · {humanSize(f.extracting.bytes)} (X cancels)
        </Text>
      ) : null}
      {f.prompt === 'extract' ? (
        <LineEditor
          prompt={`extract ${sanitizeForTerminal(f.rows[f.cursor]?.entry.path ?? '')} into directory: `}
          initial={`${launchDir}/extracted`}
          onSubmit={(v) => void store.getState().filesExtract(v)}
          onCancel={() => store.getState().filesCancelPrompt()}
        />
      ) : (
        <HintLine hints={bindingHints(filesBindings, store)} width={cols} />
      )}
    </Box>
  );
}

function problemFor(f: FilesState, path: string | undefined): string | null {
  if (!path || !f.problemPaths.includes(path)) return null;
  return f.verify?.report?.problems.find((p) => p.path === path)?.message ?? null;
}

function Header({ f }: { f: FilesState }) {
  return (
    <Text wrap="truncate-end">
      <Text bold>Files</Text> · layer
      {(['merged', 'image', 'run'] as const).map((l) => (
        <Text
          key={l}
          inverse={l === f.layer}
          color={f.status === 'ready' && !f.layers.includes(l) ? theme.muted : undefined}
        >
          {' '}
          {l}
          {l === f.layer ? ' ' : ''}
        </Text>
      ))}{' '}
      · {LAYER_TITLE[f.layer]}
      {f.rootMac ? ` · root MAC ${f.rootMac}` : ''}
    </Text>
  );
}

function Tree({
  f,
  height,
  width,
  topRef,
}: {
  f: FilesState;
  height: number;
  width: number;
  topRef: React.MutableRefObject<number>;
}) {
  const top = windowTop(topRef.current, f.cursor, height, f.rows.length);
  topRef.current = top;
  const visible = f.rows.slice(top, top + height);
  const problems = new Set(f.problemPaths);
  return (
    <>
      {visible.map((r, i) => (
        <TreeLine
          key={r.entry.path}
          index={top + i}
          row={r}
          selected={top + i === f.cursor}
          width={width}
          problem={problems.has(r.entry.path)}
          showLayer={f.layer !== 'image'}
        />
      ))}
    </>
  );
}

function TreeLine({
  index,
  row,
  selected,
  width,
  problem,
  showLayer,
}: {
  index: number;
  row: TreeRow;
  selected: boolean;
  width: number;
  problem: boolean;
  showLayer: boolean;
}) {
  const store = useStudioStore();
  const ref = useClick(() => {
    const s = store.getState();
    s.filesMove(index - s.files.cursor);
  });
  const e = row.entry;
  const marker = e.type === 'dir' ? (row.expanded ? '▾ ' : '▸ ') : '  ';
  // Names come from the image: a control character in one must not break the row or act on the terminal.
  const safe = sanitizeForTerminal(e.name);
  const name =
    e.path === '/'
      ? '/'
      : e.type === 'dir'
        ? `${safe}/`
        : e.type === 'symlink'
          ? `${safe} → ${sanitizeForTerminal(e.target ?? '?')}`
          : safe;
  const tag = showLayer && e.layer ? (LAYER_TAG[e.layer] ?? e.layer) : '';
  const label = `${'  '.repeat(row.depth)}${marker}${name}`;
  const room = Math.max(4, width - 4);
  const shown = label.length > room ? label.slice(0, room - 1) + '…' : label.padEnd(room);
  const color =
    e.layer === 'deleted' ? theme.error : e.layer === 'run' ? theme.ok : e.type === 'dir' ? theme.accent : undefined;
  return (
    <Box flexDirection="column">
      <Box ref={ref}>
        <Text inverse={selected} color={color} strikethrough={e.layer === 'deleted'}>
          {shown}
        </Text>
        <Text
          color={
            problem ? theme.error : e.layer === 'run' ? theme.ok : e.layer === 'deleted' ? theme.error : theme.muted
          }
        >
          {problem ? '✗' : ' '}
          {tag.padEnd(3)}
        </Text>
      </Box>
      {row.error ? (
        <Text color={theme.error} wrap="truncate-end">
          {'  '.repeat(row.depth + 1)}cannot list: {sanitizeForTerminal(row.error)}
        </Text>
      ) : null}
      {row.skipped ? (
        <Text color={theme.error} wrap="truncate-end">
          {'  '.repeat(row.depth + 1)}✗ left out:{' '}
          {sanitizeForTerminal(
            row.skipped.map((s) => (s.name === undefined ? s.reason : JSON.stringify(s.name))).join(', '),
          )}
        </Text>
      ) : null}
    </Box>
  );
}

function Meta({ entry, problem }: { entry: FsEntry | null; problem: string | null }) {
  if (!entry) return <Box height={META} flexShrink={0} />;
  const layer = entry.layer === 'deleted' ? 'deleted (whiteout in the run layer)' : (entry.layer ?? 'image');
  return (
    <Box height={META} flexShrink={0} flexDirection="column" overflow="hidden">
      <Text bold wrap="truncate-end">
        {sanitizeForTerminal(entry.path)}
      </Text>
      <Text wrap="truncate-end">
        {entry.type} · {modeString(entry)} ({octal(entry.mode)}) · {humanSize(entry.size)}
        {entry.size >= 1024 ? ` (${entry.size} bytes)` : ''} · layer {layer}
      </Text>
      <Text wrap="truncate-end">
        inode {entry.inode} · nlink {entry.nlink}
        {entry.type === 'symlink' ? ` · target ${sanitizeForTerminal(entry.target ?? '?')}` : ''}
      </Text>
      <Text wrap="truncate-end" color={entry.mac ? undefined : theme.muted}>
        MAC {entry.mac ?? (entry.layer === 'run' ? '— (host run layer: plain file)' : '—')}
      </Text>
      <Text wrap="truncate-end" color={entry.hostFile ? undefined : theme.muted}>
        host file {entry.hostFile ? `__ROOT/${sanitizeForTerminal(entry.hostFile)}` : '—'}
      </Text>
      <Text wrap="truncate-end" color={theme.error}>
        {problem ? `✗ verify: ${sanitizeForTerminal(problem)}` : ' '}
      </Text>
    </Box>
  );
}

function Panel({ f, height, width }: { f: FilesState; height: number; width: number }) {
  if (f.panel === 'verify') return <VerifyPanel f={f} height={height} width={width} />;
  if (f.panel === 'diff') return <DiffPanel f={f} height={height} />;
  return <Preview f={f} height={height} width={width} />;
}

function Preview({ f, height, width }: { f: FilesState; height: number; width: number }) {
  const store = useStudioStore();
  const p = f.preview;
  const rows = Math.max(1, height - 1);
  if (p.kind === 'text' || p.kind === 'hex') {
    const { bytes, start, lines, firstLine } = store.getState().filesPreviewData();
    const shown: string[] = [];
    for (let i = p.offset; i < Math.min(p.lines, p.offset + rows); i++) {
      // Rows a pending ranged read has not brought yet render empty for a moment.
      shown.push(p.kind === 'text' ? (lines?.[i - firstLine] ?? '') : hexRow(bytes, i, hexLayout(width), start));
    }
    // Text lines are counted as the preview pages down a big file: say how far the count got.
    const total = p.complete
      ? `${p.lines}`
      : `${p.lines}+ (${Math.floor((100 * p.scanned) / Math.max(1, p.size))}% scanned)`;
    return (
      <Box flexDirection="column">
        <Text color={theme.muted} wrap="truncate-end">
          ─ {p.kind === 'text' ? 'text' : 'hex'}
          {p.forced ? ' (forced)' : ''} · lines {p.lines === 0 ? 0 : p.offset + 1}–{Math.min(p.lines, p.offset + rows)}{' '}
          of {total}
          {p.reading ? ' · reading…' : ''}
        </Text>
        {shown.map((l, i) => (
          <Text key={i} wrap="truncate-end">
            {l === '' ? ' ' : sanitizeForTerminal(l)}
          </Text>
        ))}
      </Box>
    );
  }
  const color = p.kind === 'error' || p.kind === 'deleted' ? theme.error : theme.muted;
  return (
    <Box flexDirection="column">
      <Text color={theme.muted}>─ preview</Text>
      <Text color={color}>{sanitizeForTerminal(p.message ?? (p.kind === 'none' ? 'nothing selected' : ''))}</Text>
    </Box>
  );
}

function bar(done: number, total: number, width: number): string {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const n = Math.round(frac * width);
  return '█'.repeat(n) + '░'.repeat(width - n);
}

function VerifyPanel({ f, height, width }: { f: FilesState; height: number; width: number }) {
  const v = f.verify;
  if (!v) return <Text color={theme.muted}>v verifies the MAC chain of this layer.</Text>;
  const lines: React.ReactNode[] = [];
  const pct = v.total > 0 ? Math.floor((100 * Math.min(v.done, v.total)) / v.total) : 0;
  lines.push(
    <Text key="bar" wrap="truncate-end">
      ─ verify ({v.layer}) {bar(v.done, v.total, Math.max(10, Math.min(30, width - 40)))} {pct}% · {v.done}/{v.total}{' '}
      files · {humanSize(v.bytes)}
    </Text>,
  );
  if (v.running)
    lines.push(
      <Text key="run" color={theme.muted}>
        verifying on worker threads… (the pane stays usable)
      </Text>,
    );
  if (v.error)
    lines.push(
      <Text key="err" color={theme.error}>
        verify failed: {sanitizeForTerminal(v.error)}
      </Text>,
    );
  const r = v.report;
  if (r) {
    lines.push(
      <Text key="head" bold color={r.ok ? theme.ok : theme.error} wrap="truncate-end">
        {r.ok ? '✓ OK' : '✗ FAILED'}: {r.files} files, {humanSize(r.bytes)} checked; {r.problems.length} problem
        {r.problems.length === 1 ? '' : 's'}
      </Text>,
    );
    lines.push(
      <Text key="mac" wrap="truncate-end">
        root MAC {r.rootMac}
        {r.expectedRootMac
          ? r.expectedRootMac === r.rootMac
            ? ' (matches the expected root MAC)'
            : ` (expected ${r.expectedRootMac})`
          : ' (no expected root MAC: checked from the image’s own root)'}
      </Text>,
    );
    const note = r.note ? wrapText(`note: ${sanitizeForTerminal(r.note)}`, width) : [];
    const room = Math.max(1, height - lines.length - note.length - 1);
    const probs = r.problems.slice(f.panelOffset, f.panelOffset + room);
    probs.forEach((p, i) => {
      const where = [p.hostFile && `host file ${p.hostFile}`, p.node !== undefined && `node ${p.node}`]
        .filter(Boolean)
        .join(', ');
      lines.push(
        <Text key={`p${i}`} color={theme.error} wrap="truncate-end" inverse={i === 0 && !v.running}>
          ✗ {sanitizeForTerminal(p.path)} · {p.kind}
          {where ? ` (${sanitizeForTerminal(where)})` : ''}: {sanitizeForTerminal(p.message)}
        </Text>,
      );
    });
    if (r.problems.length - f.panelOffset > room)
      lines.push(
        <Text key="more" color={theme.muted}>
          … {r.problems.length - f.panelOffset - probs.length} more (J/K, PgDn/PgUp scroll)
        </Text>,
      );
    note.forEach((l, i) =>
      lines.push(
        <Text key={`n${i}`} color={theme.warning} wrap="truncate-end">
          {l}
        </Text>,
      ),
    );
  }
  return (
    <Box flexDirection="column" height={height} overflow="hidden">
      {lines}
    </Box>
  );
}

const SIGN = { added: '+', removed: '-', changed: 'M', mode: 'm', type: 'T' } as const;

function DiffPanel({ f, height }: { f: FilesState; height: number }) {
  const d = f.diff;
  if (!d) return <Text color={theme.muted}>d compares the image with image/.</Text>;
  const room = Math.max(1, height - 2);
  const items = d.items.slice(f.panelOffset, f.panelOffset + room);
  return (
    <Box flexDirection="column" height={height} overflow="hidden">
      <Text wrap="truncate-end">─ diff: image layer vs {sanitizeForTerminal(d.src)} (what a rebuild would change)</Text>
      {d.running ? (
        <Text color={theme.muted} wrap="truncate-end">
          comparing… {d.done}/{d.total} entries · {humanSize(d.bytes)} (the pane stays usable)
        </Text>
      ) : null}
      {d.error ? <Text color={theme.error}>{sanitizeForTerminal(d.error)}</Text> : null}
      {!d.running && !d.error && d.items.length === 0 ? (
        <Text color={theme.ok}>✓ the image matches image/: a rebuild would change nothing</Text>
      ) : null}
      {!d.running && d.items.length > 0 ? (
        <Text color={theme.muted} wrap="truncate-end">
          {d.items.length} change{d.items.length === 1 ? '' : 's'} (+ added in image/, - only in the image, M content, m
          mode, T type)
        </Text>
      ) : null}
      {items.map((i, n) => (
        <Text
          key={i.path + i.change}
          inverse={n === 0}
          wrap="truncate-end"
          color={i.change === 'added' ? theme.ok : i.change === 'removed' ? theme.error : theme.warning}
        >
          {SIGN[i.change]} {sanitizeForTerminal(i.path)}
          {i.detail ? `  (${sanitizeForTerminal(i.detail)})` : ''}
        </Text>
      ))}
    </Box>
  );
}
