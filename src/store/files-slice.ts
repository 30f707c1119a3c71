// Files state: the open instance's secure file system as a lazy tree (src/core/files/tree.ts),
// the selected entry's preview (src/core/files/preview.ts), verify with progress, extract and the
// diff against image/. The FsView objects and preview bytes live in this closure, outside zustand;
// the state carries what the pane renders.
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { StateCreator } from 'zustand/vanilla';
import type { ExtractResult, FsEntry, FsView, TreeProgress, VerifyReport } from '../core/securefs/types.ts';
import type { DiffItem } from '../core/securefs/index.ts';
import { nativeStatus } from '../core/securefs/native.ts';
import { openBackend } from '../core/backend/select.ts';
import { errorMessage } from '../core/errors.ts';
import type { StudioState, StudioStore } from './index.ts';
import { entryNote, looksBinary, PreviewPager, WINDOW } from '../core/files/preview.ts';
import { FsTree, parentOf, rowNear, type FilesLayer, type TreeRow } from '../core/files/tree.ts';
import { instancePaths } from '../core/instance/layout.ts';
import { imageAbsence, incompleteImageMessage } from '../core/securefs/absence.ts';

export type { FilesLayer, TreeRow } from '../core/files/tree.ts';

/** Opens the instance's file system (one layer of the backend's `openFs`). Tests may replace it. */
export type FsOpener = (instanceDir: string, layer: 'image' | 'merged') => Promise<FsView>;

export type PreviewKind = 'none' | 'loading' | 'text' | 'hex' | 'dir' | 'symlink' | 'deleted' | 'special' | 'error';

export interface PreviewState {
  path: string | null;
  kind: PreviewKind;
  /** Lines the preview has: hex rows of the whole file; text lines found so far (see `complete`). */
  lines: number;
  /** First line shown. */
  offset: number;
  /** Bytes held for display (a window around the shown lines), and the file's size. */
  shown: number;
  size: number;
  /** Text: every line is known (`lines` is the file's line count); else `scanned` bytes were. */
  complete: boolean;
  scanned: number;
  /** A ranged read for the shown lines is under way. */
  reading: boolean;
  /** Text shown for dir/symlink/deleted/error previews. */
  message: string | null;
  /** User forced hex (or text) instead of the detected kind. */
  forced: 'text' | 'hex' | null;
}

export interface VerifyState {
  running: boolean;
  layer: FilesLayer;
  done: number;
  total: number;
  bytes: number;
  report: VerifyReport | null;
  error: string | null;
}

export interface DiffState {
  running: boolean;
  /** Source entries compared of the total, bytes compared. */
  done: number;
  total: number;
  bytes: number;
  src: string;
  items: DiffItem[];
  error: string | null;
}

export type FilesPanel = 'preview' | 'verify' | 'diff';

export interface FilesState {
  status: 'closed' | 'opening' | 'ready' | 'error';
  /** Why the file system cannot be shown (not built, wrong key, …). */
  error: string | null;
  /** Why a layer is not the one asked for (e.g. a sealed run layer: only the image is shown). */
  note: string | null;
  layer: FilesLayer;
  /** Layers that could be opened. */
  layers: FilesLayer[];
  rootMac: string | null;
  rows: TreeRow[];
  cursor: number;
  panel: FilesPanel;
  /** Scroll offset of the verify/diff panels. */
  panelOffset: number;
  preview: PreviewState;
  verify: VerifyState | null;
  /** Paths with a verify problem (marked in the tree). */
  problemPaths: string[];
  diff: DiffState | null;
  /** An extract under way: entries done of the total, bytes written. */
  extracting: { path: string; dest: string; done: number; total: number; bytes: number } | null;
  /** The extract prompt is open (the line editor owns the keyboard). */
  prompt: 'extract' | null;
  lastExtract: { dest: string; path: string; result: ExtractResult } | null;
  version: number;
}

export interface FilesSlice {
  files: FilesState;
  filesSetOpener(opener: FsOpener | null): void;
  /** Opens the instance's file system (idempotent unless `force`). */
  filesOpen(force?: boolean): Promise<void>;
  filesReset(): void;
  filesSetLayer(layer: FilesLayer): void;
  filesCycleLayer(): void;
  filesMove(delta: number): void;
  filesMoveTo(where: 'first' | 'last'): void;
  /** Expands a collapsed directory, collapses an expanded one. */
  filesToggle(): void;
  filesExpand(): void;
  /** Collapses the selected directory, or moves to its parent. */
  filesCollapse(): void;
  filesSelected(): FsEntry | null;
  /** Selects `path` in the tree, expanding its ancestors (listed on demand). False if absent. */
  filesReveal(path: string): boolean;
  /** Reveals the highlighted verify problem or diff item in the tree. */
  filesOpenResult(): void;
  filesScroll(delta: number): void;
  filesToggleHex(): void;
  /**
   * What the preview holds, for rendering only the visible rows: hex bytes starting at file
   * offset `start`; text lines starting at line `firstLine` (null in hex mode).
   */
  filesPreviewData(): { bytes: Buffer; start: number; lines: string[] | null; firstLine: number };
  filesSetPanel(panel: FilesPanel): void;
  filesVerify(): Promise<void>;
  filesDiff(): Promise<void>;
  filesStartExtract(): void;
  filesCancelPrompt(): void;
  filesExtract(dest: string): Promise<void>;
  /** Stops the running extract after the file in progress (which is removed, not left half-written). */
  filesCancelExtract(): void;
}

/** Bytes of a file read at a time for the preview (any file size: it pages through ranged reads). */
export const PREVIEW_BYTES = WINDOW;
/** Quiet time after a cursor move before a file is read for the preview. */
const PREVIEW_SETTLE_MS = 40;

const NO_PREVIEW: PreviewState = {
  path: null,
  kind: 'none',
  lines: 0,
  offset: 0,
  shown: 0,
  size: 0,
  complete: true,
  scanned: 0,
  reading: false,
  message: null,
  forced: null,
};
/** Least time between two progress updates of extract/diff in the store (renders). */
const PROGRESS_MS = 50;

const INITIAL: FilesState = {
  status: 'closed',
  error: null,
  note: null,
  layer: 'merged',
  layers: [],
  rootMac: null,
  rows: [],
  cursor: 0,
  panel: 'preview',
  panelOffset: 0,
  preview: NO_PREVIEW,
  verify: null,
  problemPaths: [],
  diff: null,
  extracting: null,
  prompt: null,
  lastExtract: null,
  version: 0,
};

/** The backend's openFs for the instance (host sandbox or an installed Occlum). */
export function backendOpener(backendKind: () => 'host' | 'occlum'): FsOpener {
  return async (dir, layer) => {
    const { backend } = openBackend(dir, { backend: backendKind() });
    if (!backend.openFs) throw new Error(`the ${backend.kind} backend cannot open the instance's file system`);
    return backend.openFs({ layer });
  };
}

function describeOpenError(err: unknown): string {
  const e = err as Error & { code?: string };
  const msg = e.message ?? String(err);
  if (e.code === 'EWRONGKEY') return `the image cannot be opened with the key at hand (wrong image key?): ${msg}`;
  return msg;
}

/** Calls `fn` at most every PROGRESS_MS (the first call at once); progress only, so a dropped call is fine. */
function throttled<T>(fn: (v: T) => void): (v: T) => void {
  let last = -Infinity;
  return (v) => {
    const now = performance.now();
    if (now - last < PROGRESS_MS) return;
    last = now;
    fn(v);
  };
}

export const createFilesSlice = (): StateCreator<StudioState, [], [], FilesSlice> => (set, get) => {
  let opener: FsOpener | null = null;
  const tree = new FsTree(() => get().files.layer);
  /** The selected file's pager (null unless a text/hex preview is shown). */
  let pager: PreviewPager | null = null;
  let previewToken = 0;
  /** A fill of the preview is under way; `refill`: the offset moved meanwhile. */
  let filling = false;
  let refill = false;
  let openToken = 0;

  const patch = (p: Partial<FilesState>) => set((s) => ({ files: { ...s.files, ...p, version: s.files.version + 1 } }));
  const view = (): FsView | undefined => tree.view();
  let extractAbort: AbortController | null = null;

  /** Rebuilds the rows, keeping the cursor on `keepPath` (or the nearest row). */
  const refreshRows = (keepPath?: string | null) => {
    const f = get().files;
    const want = keepPath ?? f.rows[f.cursor]?.entry.path ?? '/';
    const rows = tree.rows();
    // The entry may be gone (layer switch): then the nearest existing ancestor.
    const cursor = rowNear(rows, want);
    patch({ rows, cursor: Math.max(0, Math.min(cursor, rows.length - 1)) });
    loadPreview();
  };

  const setPreview = (p: Partial<PreviewState>) => patch({ preview: { ...NO_PREVIEW, ...p } });

  /** Loads the selected entry's preview; a later selection wins over a slower earlier read. */
  const loadPreview = () => {
    const f = get().files;
    const e = f.rows[f.cursor]?.entry;
    const token = ++previewToken;
    pager = null;
    const v = view();
    if (!e || !v) return setPreview({});
    const base = { path: e.path, size: e.size, forced: f.preview.path === e.path ? f.preview.forced : null };
    const note = entryNote(e, v, tree.listed(e.path), tree.skipped(e.path));
    if (note) return setPreview({ ...base, ...note });
    setPreview({ ...base, kind: 'loading', message: 'reading…' });
    // Holding j must not queue a read per file passed: read once the cursor rests.
    setTimeout(() => {
      if (token === previewToken) readPreview(v, e, token, base);
    }, PREVIEW_SETTLE_MS);
  };

  /** Lines, held bytes and scan state of the pager, as preview state. */
  const pagerState = (
    p: PreviewPager,
    kind: 'text' | 'hex',
  ): Pick<PreviewState, 'lines' | 'shown' | 'complete' | 'scanned'> => ({
    lines: kind === 'text' ? p.textLines : p.hexLines,
    shown: p.held,
    complete: kind === 'hex' || p.complete,
    scanned: p.scanned,
  });

  const readPreview = (v: FsView, e: FsEntry, token: number, base: Pick<PreviewState, 'path' | 'size' | 'forced'>) => {
    const p = new PreviewPager((offset, length) => v.readRange(e.path, offset, length), e.size);
    p.open()
      .then(async (head) => {
        if (token !== previewToken) return;
        const forced = get().files.preview.forced;
        const kind = forced ?? (looksBinary(head) ? 'hex' : 'text');
        if (kind === 'text') await p.fillText(0);
        if (token !== previewToken) return;
        pager = p;
        setPreview({ ...base, forced, kind, ...pagerState(p, kind) });
      })
      .catch((err: Error) => {
        if (token !== previewToken) return;
        setPreview({ ...base, kind: 'error', message: `cannot read: ${err.message}` });
      });
  };

  /**
   * Reads what the shown lines need (after a scroll or a hex/text switch), one fill at a time; a
   * scroll while a fill runs is served when it ends. Scrolling never waits for a read: rows not
   * read yet render empty until the fill lands.
   */
  const fillPreview = () => {
    if (filling) {
      refill = true;
      return;
    }
    const token = previewToken;
    const p = pager;
    if (!p) return;
    filling = true;
    void (async () => {
      try {
        do {
          refill = false;
          const pv = get().files.preview;
          if (pv.kind !== 'text' && pv.kind !== 'hex') return;
          const ready = pv.kind === 'text' ? p.textReady(pv.offset) : p.hexReady(pv.offset);
          if (ready) continue;
          patch({ preview: { ...pv, reading: true } });
          if (pv.kind === 'text') await p.fillText(pv.offset);
          else await p.fillHex(pv.offset);
          if (token !== previewToken) return;
          const now = get().files.preview;
          const st = pagerState(p, now.kind === 'text' ? 'text' : 'hex');
          // New lines found by the scan may let the offset go further; never past the last line.
          patch({
            preview: { ...now, ...st, reading: false, offset: Math.min(now.offset, Math.max(0, st.lines - 1)) },
          });
        } while (refill && token === previewToken);
      } catch (err) {
        if (token !== previewToken) return;
        const now = get().files.preview;
        setPreview({
          path: now.path,
          size: now.size,
          forced: now.forced,
          kind: 'error',
          message: `cannot read: ${(err as Error).message}`,
        });
      } finally {
        filling = false;
        // A scroll of another file's preview asked while this fill ran: serve it now.
        const again = refill && token !== previewToken;
        refill = false;
        if (again) fillPreview();
      }
    })();
  };

  return {
    files: INITIAL,
    filesSetOpener(o) {
      opener = o;
    },
    filesReset() {
      tree.reset();
      previewToken++;
      openToken++;
      set({ files: { ...INITIAL, version: get().files.version + 1 } });
    },
    async filesOpen(force = false) {
      const s = get();
      const dir = s.instanceDir;
      if (!dir) return;
      if (!force && s.files.status !== 'closed') return;
      const token = ++openToken;
      const keepLayer = s.files.layer;
      // Re-reading an open file system (r, or the pane shown again after a run) keeps the
      // selection and expanded directories and does not blank the pane meanwhile.
      const quiet = s.files.status === 'ready';
      const keepPath = quiet ? (s.filesSelected()?.path ?? '/') : '/';
      if (!quiet) patch({ status: 'opening', error: null, note: null, rows: [], layers: [] });
      const absence = imageAbsence(instancePaths(dir).buildRoot);
      if (absence.kind !== 'present') {
        tree.clear();
        // Without the engine a build packs no secure image: that, not "not built", is the cause.
        const engine = nativeStatus();
        patch({
          note: null,
          rows: [],
          layers: [],
          status: 'error',
          error:
            absence.kind === 'incomplete'
              ? incompleteImageMessage(instancePaths(dir).buildRoot, absence.hostFiles)
              : !engine.ok
                ? engine.error.message
                : `this instance is not built yet (${instancePaths(dir).buildRoot} holds no secure image): build it, then press r here`,
        });
        return;
      }
      const open = opener ?? backendOpener(() => get().backend);
      let image: FsView;
      try {
        image = await open(dir, 'image');
      } catch (err) {
        if (token !== openToken) return;
        tree.clear();
        patch({
          status: 'error',
          error: `cannot open the image: ${describeOpenError(err)}`,
          note: null,
          rows: [],
          layers: [],
        });
        return;
      }
      let note: string | null = null;
      let merged: FsView | undefined;
      try {
        merged = await open(dir, 'merged');
        // Without a run layer the backend hands back the image alone: no run view then.
        if (merged.kind !== 'union') {
          merged = undefined;
          note = 'no run layer yet (the instance has not run): the merged view is the image';
        }
      } catch (err) {
        note = `the run layer cannot be read (${describeOpenError(err)}): showing the image layer`;
      }
      if (token !== openToken) return;
      const layers = tree.setViews(image, merged);
      const layer = layers.includes(keepLayer) ? keepLayer : 'merged';
      patch({ status: 'ready', error: null, layers, layer, note, rootMac: image.rootMac });
      refreshRows(keepPath);
    },
    filesSetLayer(layer) {
      const f = get().files;
      if (f.status !== 'ready') return;
      if (!f.layers.includes(layer)) {
        get().setFlash(`the ${layer} layer is not available: ${f.note ?? 'no run layer'}`, 'error');
        return;
      }
      if (layer === f.layer) return;
      tree.forgetListings();
      patch({ layer, problemPaths: f.verify?.layer === layer ? f.problemPaths : [] });
      refreshRows();
    },
    filesCycleLayer() {
      const f = get().files;
      const i = f.layers.indexOf(f.layer);
      const next = f.layers[(i + 1) % Math.max(1, f.layers.length)];
      if (next) get().filesSetLayer(next);
    },
    filesMove(delta) {
      const f = get().files;
      if (f.rows.length === 0) return;
      const cursor = Math.max(0, Math.min(f.rows.length - 1, f.cursor + delta));
      if (cursor === f.cursor) return;
      patch({ cursor });
      loadPreview();
    },
    filesMoveTo(where) {
      const f = get().files;
      get().filesMove(where === 'first' ? -f.rows.length : f.rows.length);
    },
    filesToggle() {
      const r = get().filesSelected();
      if (!r) return;
      if (r.type !== 'dir' || r.layer === 'deleted') return;
      tree.setExpanded(r.path, !tree.isExpanded(r.path));
      refreshRows(r.path);
    },
    filesExpand() {
      const r = get().filesSelected();
      if (r?.type === 'dir' && r.layer !== 'deleted' && !tree.isExpanded(r.path)) get().filesToggle();
      else if (r?.type === 'dir' && tree.isExpanded(r.path)) get().filesMove(1);
    },
    filesCollapse() {
      const f = get().files;
      const r = f.rows[f.cursor];
      if (!r) return;
      if (r.expanded && r.entry.path !== '/') {
        tree.setExpanded(r.entry.path, false);
        refreshRows(r.entry.path);
        return;
      }
      const parent = parentOf(r.entry.path);
      const i = f.rows.findIndex((x) => x.entry.path === parent);
      if (i >= 0 && i !== f.cursor) {
        patch({ cursor: i });
        loadPreview();
      }
    },
    filesSelected() {
      const f = get().files;
      return f.rows[f.cursor]?.entry ?? null;
    },
    filesReveal(path) {
      const v = view();
      if (!v) return false;
      tree.expandAncestors(path);
      const rows = tree.rows();
      const i = rows.findIndex((r) => r.entry.path === (path === '' ? '/' : path));
      patch({ rows, ...(i >= 0 ? { cursor: i } : {}) });
      if (i >= 0) loadPreview();
      return i >= 0;
    },
    filesOpenResult() {
      const f = get().files;
      const item =
        f.panel === 'verify'
          ? f.verify?.report?.problems[f.panelOffset]?.path
          : f.panel === 'diff'
            ? f.diff?.items[f.panelOffset]?.path
            : undefined;
      if (!item) return;
      if (!get().filesReveal(item))
        get().setFlash(
          `${item} is not in the ${f.layer} view${f.panel === 'diff' ? ' (only in image/?)' : ''}`,
          'error',
        );
    },
    filesScroll(delta) {
      const f = get().files;
      if (f.panel === 'preview') {
        const offset = Math.max(0, Math.min(Math.max(0, f.preview.lines - 1), f.preview.offset + delta));
        if (offset !== f.preview.offset) {
          patch({ preview: { ...f.preview, offset } });
          fillPreview();
        }
      } else {
        const n = f.panel === 'verify' ? (f.verify?.report?.problems.length ?? 0) : (f.diff?.items.length ?? 0);
        patch({ panelOffset: Math.max(0, Math.min(Math.max(0, n - 1), f.panelOffset + delta)) });
      }
    },
    filesToggleHex() {
      const f = get().files;
      const p = f.preview;
      if (p.kind !== 'text' && p.kind !== 'hex') return;
      const kind = p.kind === 'text' ? 'hex' : 'text';
      if (!pager) return;
      patch({ panel: 'preview', preview: { ...p, kind, forced: kind, offset: 0, ...pagerState(pager, kind) } });
      fillPreview();
    },
    filesPreviewData() {
      const kind = get().files.preview.kind;
      if (!pager || (kind !== 'text' && kind !== 'hex'))
        return { bytes: Buffer.alloc(0), start: 0, lines: null, firstLine: 0 };
      const { bytes, start } = pager.hexData();
      if (kind === 'hex') return { bytes, start, lines: null, firstLine: 0 };
      return { bytes, start, ...pager.textRows() };
    },
    filesSetPanel(panel) {
      patch({ panel, panelOffset: 0 });
    },
    async filesVerify() {
      const f = get().files;
      const v = view();
      if (!v || f.status !== 'ready') {
        get().setFlash('nothing to verify: the file system is not open', 'error');
        return;
      }
      if (f.verify?.running) {
        patch({ panel: 'verify' });
        return;
      }
      const layer = f.layer;
      const base: VerifyState = { running: true, layer, done: 0, total: 0, bytes: 0, report: null, error: null };
      patch({ panel: 'verify', panelOffset: 0, verify: base, problemPaths: [] });
      const current = () => get().files.verify;
      try {
        // The engine verifies on the libuv pool; the callback only copies counters into state.
        const report = await v.verify({
          onProgress: (p) => {
            const cur = current();
            if (cur?.running) patch({ verify: { ...cur, done: p.done, total: p.total, bytes: p.bytes ?? cur.bytes } });
          },
        });
        const cur = current() ?? base;
        patch({
          verify: {
            ...cur,
            running: false,
            done: report.files,
            total: Math.max(cur.total, report.files),
            bytes: report.bytes,
            report,
          },
          problemPaths: get().files.layer === layer ? [...new Set(report.problems.map((p) => p.path))] : [],
        });
        get().setFlash(
          report.ok
            ? `verify: OK, ${report.files} files`
            : `verify: ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'} in ${report.files} files`,
          report.ok ? 'info' : 'error',
        );
      } catch (err) {
        patch({ verify: { ...(current() ?? base), running: false, error: (err as Error).message } });
        get().setFlash(`verify failed: ${(err as Error).message}`, 'error');
      }
    },
    async filesDiff() {
      const s = get();
      const dir = s.instanceDir;
      const image = tree.image;
      if (!dir || !image) {
        s.setFlash('nothing to compare: the file system is not open', 'error');
        return;
      }
      const src = instancePaths(dir).image;
      if (!existsSync(src)) {
        patch({
          panel: 'diff',
          panelOffset: 0,
          diff: {
            running: false,
            done: 0,
            total: 0,
            bytes: 0,
            src,
            items: [],
            error: `${src} does not exist: there is no source tree to compare the image with`,
          },
        });
        return;
      }
      if (s.files.diff?.running) {
        patch({ panel: 'diff' });
        return;
      }
      const base: DiffState = { running: true, done: 0, total: 0, bytes: 0, src, items: [], error: null };
      patch({ panel: 'diff', panelOffset: 0, diff: base });
      const count = throttled((p: TreeProgress) => {
        const cur = get().files.diff;
        if (cur?.running) patch({ diff: { ...cur, done: p.done, total: p.total, bytes: p.bytes } });
      });
      try {
        const { diffWithSource } = await import('../core/securefs/index.ts');
        // Off the main thread in chunks, with turns of the event loop between entries.
        const items = await diffWithSource(image, src, { onProgress: count });
        const cur = get().files.diff ?? base;
        patch({ diff: { ...cur, running: false, done: cur.total, items, error: null } });
      } catch (err) {
        patch({ diff: { ...(get().files.diff ?? base), running: false, items: [], error: (err as Error).message } });
      }
    },
    filesStartExtract() {
      const e = get().filesSelected();
      if (!e) return;
      if (e.layer === 'deleted') {
        get().setFlash(`${e.path} is deleted in the run layer: nothing to extract`, 'error');
        return;
      }
      patch({ prompt: 'extract' });
      get().setCapture(true);
    },
    filesCancelPrompt() {
      patch({ prompt: null });
      get().setCapture(false);
    },
    async filesExtract(destInput) {
      const s = get();
      s.filesCancelPrompt();
      const e = s.filesSelected();
      const v = view();
      if (!e || !v) return;
      const raw = destInput.trim();
      if (!raw) {
        s.setFlash('extract: no destination directory given', 'error');
        return;
      }
      const dest = isAbsolute(raw) ? raw : resolve(s.launchDir, raw);
      if (existsSync(dest) && !statSync(dest).isDirectory()) {
        s.setFlash(`extract: ${dest} exists and is not a directory: give a directory`, 'error');
        return;
      }
      if (get().files.extracting) {
        s.setFlash(`an extract is under way (${get().files.extracting!.path}): wait for it to finish`, 'error');
        return;
      }
      s.setFlash(`extracting ${e.path} to ${dest}…`);
      patch({ extracting: { path: e.path, dest, done: 0, total: 0, bytes: 0 } });
      const abort = (extractAbort = new AbortController());
      const count = throttled((p: TreeProgress) => {
        const cur = get().files.extracting;
        if (cur) patch({ extracting: { ...cur, done: p.done, total: p.total, bytes: p.bytes } });
      });
      try {
        const { extract } = await import('../core/securefs/index.ts');
        // Off the main thread in chunks, with turns of the event loop between entries.
        const result = await extract(v, e.path, dest, { onProgress: count, signal: abort.signal });
        patch({ extracting: null, lastExtract: { dest, path: e.path, result } });
        const skipped = result.skipped.length
          ? `; ${result.skipped.length} skipped (${result.skipped.map((x) => `${x.path}: ${x.reason}`).join('; ')})`
          : '';
        const counts = `${result.files} files, ${result.dirs} dirs, ${result.symlinks} symlinks, ${result.bytes} bytes`;
        if (result.cancelled)
          s.setFlash(`extract of ${e.path} cancelled: ${counts} written to ${dest}, the rest not${skipped}`, 'error');
        else
          s.setFlash(`extracted ${e.path} to ${dest}: ${counts}${skipped}`, result.skipped.length ? 'error' : 'info');
      } catch (err) {
        patch({ extracting: null });
        s.setFlash(`extract ${e.path} to ${dest} failed: ${errorMessage(err)}`, 'error');
      } finally {
        extractAbort = null;
      }
    },
    filesCancelExtract() {
      const cur = get().files.extracting;
      if (!cur || !extractAbort) {
        get().setFlash('no extract is running');
        return;
      }
      extractAbort.abort();
      get().setFlash(`cancelling the extract of ${cur.path}…`);
    },
  };
};

/** Resets the Files state when another instance opens; the pane opens it when first shown. */
export const filesHooks = {
  onOpen(store: StudioStore) {
    store.getState().filesReset();
  },
};
