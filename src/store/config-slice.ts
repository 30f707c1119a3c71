// Config workbench state: the Occlum.json text being edited, what is on disk, diagnostics, the
// version whose rules apply, tree selection and the pane's modes, undo/redo and conflicts.
// Actions delegate to src/core/config; views only render this and call the actions.
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { StateCreator } from 'zustand/vanilla';
import {
  applyOp,
  applyTextEdits,
  checkConfig,
  checkDisk,
  EditHistory,
  loadConfigFile,
  readSettings,
  resolveVersion,
  saveConfigFile,
  SaveConflictError,
  type CheckResult,
  type Diagnostic,
  type DiskState,
  type EditOp,
  type JsonPath,
  type VersionId,
} from '../core/config/index.ts';
import { pathKey } from '../core/config/outline.ts';
import { errorMessage } from '../core/errors.ts';
import type { StudioState, StudioStore } from './index.ts';
import { instancePaths } from '../core/instance/layout.ts';

export type ConfigMode = 'tree' | 'problems' | 'edit' | 'insert' | 'search';

export interface ConfigState {
  file: string | null;
  text: string;
  /** Text as last loaded from / saved to disk. */
  savedText: string;
  disk: DiskState | null;
  result: CheckResult | null;
  /** Version forced by --occlum-version or .occlum-studio.json (else detected). */
  forcedVersion: VersionId | null;
  selection: JsonPath;
  /** pathKey()s of collapsed containers. */
  collapsed: string[];
  mode: ConfigMode;
  problemIndex: number;
  search: string;
  canUndo: boolean;
  canRedo: boolean;
  /** The file changed on disk while there were unsaved edits. */
  conflict: { diskText: string | null } | null;
  loadError: string | null;
}

export interface ConfigSlice {
  config: ConfigState;
  configLoad(file: string, opts?: { version?: string | null }): void;
  configEdit(op: EditOp, label?: string): void;
  configSetText(text: string): void;
  configApplyFix(d: Diagnostic): void;
  configUndo(): void;
  configRedo(): void;
  configSave(force?: boolean): boolean;
  configReloadFromDisk(): void;
  /** Polls the file: reloads silently when clean, flags a conflict when there are edits. */
  configCheckDisk(): void;
  configSelect(path: JsonPath): void;
  configToggleCollapsed(path: JsonPath, collapsed?: boolean): void;
  configSetMode(mode: ConfigMode): void;
  configSetProblemIndex(i: number): void;
  configSetSearch(s: string): void;
}

const EMPTY: ConfigState = {
  file: null,
  text: '',
  savedText: '',
  disk: null,
  result: null,
  forcedVersion: null,
  selection: [],
  collapsed: [],
  mode: 'tree',
  problemIndex: 0,
  search: '',
  canUndo: false,
  canRedo: false,
  conflict: null,
  loadError: null,
};

export const createConfigSlice: StateCreator<StudioState, [], [], ConfigSlice> = (set, get) => {
  let history = new EditHistory('');
  // --occlum-version as given at launch; the app's occlumVersion is later overwritten with the
  // version actually applied, so capture the launch value once.
  let launchVersion: string | null | undefined;
  const patch = (p: Partial<ConfigState>) => set((s) => ({ config: { ...s.config, ...p } }));
  const check = (text: string, file: string | null, forced: VersionId | null): CheckResult =>
    checkConfig(text, {
      version: forced ?? undefined,
      instanceDir: file ? join(file, '..') : undefined,
      fileName: file ? basename(file) : undefined,
    });
  /** After any text change: diagnostics, undo state, and the version shown in the status bar. */
  const refresh = (extra: Partial<ConfigState> = {}) => {
    const c = get().config;
    const result = check(history.text, c.file, c.forcedVersion);
    patch({ text: history.text, result, canUndo: history.canUndo, canRedo: history.canRedo, ...extra });
    get().setOcclumVersion(result.family === 'ngo' ? 'NGO / 1.0 preview' : result.version);
  };

  return {
    config: EMPTY,
    configLoad(file, opts = {}) {
      let forced: VersionId | null = null;
      const problems: string[] = [];
      if (launchVersion === undefined) launchVersion = get().occlumVersion;
      const fromCli = opts.version ?? launchVersion;
      if (fromCli) {
        const r = resolveVersion(fromCli);
        if (r.ok) forced = r.id;
        else problems.push(`--occlum-version: ${r.message}`);
      }
      if (!forced) {
        const s = readSettings(join(file, '..'));
        problems.push(...s.problems);
        forced = s.occlumVersion ?? null;
      }
      try {
        const loaded = loadConfigFile(file);
        history = new EditHistory(loaded.text);
        set({
          config: {
            ...EMPTY,
            file,
            text: loaded.text,
            savedText: loaded.text,
            disk: loaded.disk,
            forcedVersion: forced,
          },
        });
        refresh();
        if (problems.length) get().setFlash(problems.join('; '), 'error');
      } catch (err) {
        history = new EditHistory('');
        set({
          config: {
            ...EMPTY,
            file,
            forcedVersion: forced,
            loadError: `cannot read ${file}: ${(err as Error).message}`,
          },
        });
      }
    },
    configEdit(op) {
      try {
        if (history.push(applyOp(history.text, op))) refresh();
      } catch (err) {
        get().setFlash(`edit failed: ${errorMessage(err)}`, 'error');
      }
    },
    configSetText(text) {
      if (history.push(text)) refresh();
    },
    configApplyFix(d) {
      if (!d.fix) return;
      // Fixes are computed on the current text (diagnostics are refreshed on every change).
      if (history.push(applyTextEdits(history.text, d.fix.edits))) {
        refresh();
        get().setFlash(`applied: ${d.fix.title}`);
      }
    },
    configUndo() {
      if (history.undo()) refresh();
      else get().setFlash('nothing to undo');
    },
    configRedo() {
      if (history.redo()) refresh();
      else get().setFlash('nothing to redo');
    },
    configSave(force = false) {
      const c = get().config;
      if (!c.file) return false;
      try {
        const disk = saveConfigFile(c.file, history.text, c.disk ?? undefined, force);
        patch({ disk, savedText: history.text, conflict: null });
        get().setFlash(`saved ${basename(c.file)}`);
        return true;
      } catch (err) {
        if (err instanceof SaveConflictError) {
          patch({ conflict: { diskText: err.diskText ?? null } });
          get().setFlash(
            'the file changed on disk: R reloads it (your edits stay undoable), ctrl+o overwrites',
            'error',
          );
        } else {
          get().setFlash(`save failed: ${errorMessage(err)}`, 'error');
        }
        return false;
      }
    },
    configReloadFromDisk() {
      const c = get().config;
      if (!c.file) return;
      try {
        const loaded = loadConfigFile(c.file);
        // Keep the user's edits reachable with undo.
        history.push(loaded.text);
        patch({ savedText: loaded.text, disk: loaded.disk, conflict: null });
        refresh();
        get().setFlash(`reloaded ${basename(c.file)} from disk`);
      } catch (err) {
        get().setFlash(`reload failed: ${errorMessage(err)}`, 'error');
      }
    },
    configCheckDisk() {
      const c = get().config;
      if (!c.file || !c.disk) return;
      const r = checkDisk(c.file, c.disk);
      if (r.kind === 'unchanged') return;
      if (r.kind === 'deleted') {
        if (!c.conflict) patch({ conflict: { diskText: null } });
        return;
      }
      if (history.text === c.savedText) {
        history.push(r.text);
        patch({ savedText: r.text, disk: r.disk, conflict: null });
        refresh();
        get().setFlash(`${basename(c.file)} changed on disk: reloaded`);
      } else if (!c.conflict || c.conflict.diskText !== r.text) {
        patch({ conflict: { diskText: r.text } });
        get().setFlash(
          `${basename(c.file)} changed on disk while you have unsaved edits: R reloads, ctrl+o overwrites`,
          'error',
        );
      }
    },
    configSelect(selection) {
      patch({ selection });
    },
    configToggleCollapsed(path, collapsed) {
      const k = pathKey(path);
      const cur = new Set(get().config.collapsed);
      const close = collapsed ?? !cur.has(k);
      if (close) cur.add(k);
      else cur.delete(k);
      patch({ collapsed: [...cur] });
    },
    configSetMode(mode) {
      patch({ mode });
      get().setCapture(mode === 'edit' || mode === 'insert' || mode === 'search');
    },
    configSetProblemIndex(problemIndex) {
      patch({ problemIndex });
    },
    configSetSearch(search) {
      patch({ search });
    },
  };
};

/** Opening an instance loads its Occlum.json and polls it for outside changes. */
const pollers = new WeakMap<StudioStore, NodeJS.Timeout>();

export const configHooks = {
  onOpen(store: StudioStore, dir: string) {
    clearInterval(pollers.get(store));
    const file = instancePaths(dir).config;
    if (!existsSync(file)) {
      store.setState({ config: { ...EMPTY } });
      return;
    }
    store.getState().configLoad(file);
    // Outside changes (an editor, `jq` in a script) are picked up within a second.
    const timer = setInterval(() => store.getState().configCheckDisk(), 1000);
    timer.unref();
    pollers.set(store, timer);
  },
  unsaved(state: StudioState): string | null {
    const c = state.config;
    return c.file && c.text !== c.savedText ? `${basename(c.file)} has unsaved changes (quitting discards them)` : null;
  },
};
