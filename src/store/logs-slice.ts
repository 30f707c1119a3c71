// Logs state: one bounded LogBuffer fed by any number of sources (a saved file, the Run pane's
// process stderr, the exec server's stderr), the filter and search the Logs pane shows, and the
// OCCLUM_LOG_LEVEL chosen for the next run/exec. The buffer is mutable and lives outside
// zustand; the state carries counters and a `version` that changes when what is shown changes.
// Store updates are coalesced (at most one per FRAME_MS) so a flood of log lines does not
// re-render the TUI per chunk.
import { createReadStream } from 'node:fs';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { StateCreator } from 'zustand/vanilla';
import { findNodeAtLocation, parseTree } from 'jsonc-parser';
import {
  compileText,
  DEFAULT_CAPACITY,
  DEFAULT_FILTER,
  effectiveLogLevel,
  FilterError,
  formatRecord,
  hintsFor,
  LEVELS,
  LOG_LEVEL_SETTINGS,
  LogBuffer,
  LogParser,
  type EffectiveLevel,
  type Level,
  type LogFilter,
  type LogLevelSetting,
  type LogRecord,
} from '../core/logs/index.ts';
import { hostLevelScope } from '../core/backend/host/log.ts';
import type { StudioState } from './index.ts';

/** Longest time between a chunk arriving and the pane seeing it. */
export const FRAME_MS = 33;
/** Under a sustained stream, new records are shown at this pace instead, so rendering does not
 * eat the time keys need (key actions still update at once). */
export const FLOOD_FRAME_MS = 100;
/** Quiet time after which a held multi-line record (Caused by chain, backtrace) is shown. */
export const PENDING_FLUSH_MS = 150;

export type LogsMode = 'list' | 'search' | 'filter' | 'export' | 'open';

export interface LogsState {
  /** Changes whenever the buffer or the view changes (views re-render on it). */
  version: number;
  /** Records ever received / held / passing the filter. */
  total: number;
  size: number;
  matching: number;
  /** Errors/warnings the ring dropped that are still shown (LogBuffer's second tier). */
  kept: number;
  filter: LogFilter;
  filterError: string | null;
  /** Text search (highlight, n/N); independent of the filter. */
  search: string;
  /** Regex mode for both search and filter text. */
  regex: boolean;
  /** Keep the cursor on the newest record as records arrive. */
  follow: boolean;
  /** Index of the selected record in the filtered view. */
  cursor: number;
  timestamps: boolean;
  wrap: boolean;
  mode: LogsMode;
  sources: string[];
  /** OCCLUM_LOG_LEVEL for the next run/exec (both backends read it through logsRunEnv). */
  runLevel: LogLevelSetting;
}

export interface LogsSlice {
  logs: LogsState;
  /** The live buffer (read-only use in views: slice/at/length). */
  logsBuffer(): LogBuffer;
  /** Feed a chunk of a source's stderr (bytes or text). Called by the run/backends. */
  appendLogChunk(source: string, chunk: string | Uint8Array): void;
  /** The source ended: its last partial line and held record are emitted. */
  endLogSource(source: string): void;
  /** Streams a saved log file in as the source `file:<name>`. */
  loadLogFile(file: string): Promise<void>;
  /** Apply coalesced changes now (tests, and before reading counts). */
  logsSync(): void;
  logsClear(): void;
  logsSetFilter(patch: Partial<LogFilter>): boolean;
  logsToggleLevel(level: Level): void;
  logsStepMinLevel(step: 1 | -1): void;
  logsFilterBySelected(field: 'thread' | 'syscall' | 'module'): void;
  logsClearFilters(): void;
  logsSetSearch(pattern: string): boolean;
  /** n / N: select the next/previous record matching the search. */
  logsSearchNext(dir: 1 | -1): void;
  /** Select the next/previous error record. */
  logsNextError(dir: 1 | -1): void;
  logsMove(delta: number): void;
  logsMoveTo(where: 'first' | 'last'): void;
  logsToggle(what: 'follow' | 'timestamps' | 'wrap' | 'regex' | 'inverse' | 'raw'): void;
  logsSetMode(mode: LogsMode): void;
  /** Writes the filtered view as text (atomic); returns the number of records written. */
  logsExport(file: string): number;
  logsSetRunLevel(level: LogLevelSetting): void;
  logsCycleRunLevel(): void;
  /** The level the next run will really log at, given Occlum.json's debuggable / disable_log. */
  logsEffectiveRunLevel(): EffectiveLevel;
  /** Environment to add to a run/exec/start: OCCLUM_LOG_LEVEL, or nothing when off. */
  logsRunEnv(): Record<string, string>;
  /** Hints of the selected record (for the Enter → Config jump). */
  logsSelected(): LogRecord | undefined;
  /** Shows a field of Occlum.json in the Config pane (the hint jump). */
  focusConfigPath(path: (string | number)[]): void;
}

const INITIAL: LogsState = {
  version: 0,
  total: 0,
  size: 0,
  matching: 0,
  kept: 0,
  filter: DEFAULT_FILTER,
  filterError: null,
  search: '',
  regex: false,
  follow: true,
  cursor: 0,
  timestamps: true,
  wrap: false,
  mode: 'list',
  sources: [],
  runLevel: 'off',
};

export function createLogsSlice(capacity = DEFAULT_CAPACITY): StateCreator<StudioState, [], [], LogsSlice> {
  return (set, get) => {
    const buffer = new LogBuffer(capacity);
    const parsers = new Map<string, LogParser>();
    let frameTimer: NodeJS.Timeout | null = null;
    let pendingTimer: NodeJS.Timeout | null = null;
    let dirty = false;
    let lastStreamPublish = 0;

    const patch = (p: Partial<LogsState>) => set((s) => ({ logs: { ...s.logs, ...p } }));
    /** Counters and cursor after buffer/filter changes; follow keeps the cursor at the end. */
    const publish = (extra: Partial<LogsState> = {}) => {
      dirty = false;
      const l = { ...get().logs, ...extra };
      const matching = buffer.length;
      const cursor = l.follow ? Math.max(0, matching - 1) : Math.min(l.cursor, Math.max(0, matching - 1));
      patch({
        ...extra,
        version: l.version + 1,
        total: buffer.total,
        size: buffer.size,
        matching,
        kept: buffer.keptCount,
        cursor,
      });
    };
    const schedule = () => {
      dirty = true;
      if (frameTimer) return;
      const now = Date.now();
      const streaming = now - lastStreamPublish < 2 * FLOOD_FRAME_MS;
      frameTimer = setTimeout(
        () => {
          frameTimer = null;
          lastStreamPublish = Date.now();
          if (dirty) publish();
        },
        streaming ? FLOOD_FRAME_MS : FRAME_MS,
      );
      frameTimer.unref?.();
    };
    const push = (source: string, recs: LogRecord[]) => {
      for (const r of recs) {
        r.source = source;
        buffer.append(r);
      }
      if (recs.length) schedule();
    };
    const parserFor = (source: string) => {
      let p = parsers.get(source);
      if (!p) {
        p = new LogParser();
        parsers.set(source, p);
        patch({ sources: [...get().logs.sources, source] });
      }
      return p;
    };
    const armPendingFlush = () => {
      if (pendingTimer) clearTimeout(pendingTimer);
      pendingTimer = null;
      if (![...parsers.values()].some((p) => p.hasPending)) return;
      pendingTimer = setTimeout(() => {
        pendingTimer = null;
        for (const [src, p] of parsers) push(src, p.flush());
      }, PENDING_FLUSH_MS);
      pendingTimer.unref?.();
    };
    /** Index of the selected record's id after the view changes, so the selection survives. */
    const refilter = (f: LogFilter): boolean => {
      const selected = buffer.idAt(get().logs.cursor);
      try {
        buffer.setFilter(f);
      } catch (err) {
        if (err instanceof FilterError) {
          patch({ filterError: err.message });
          get().setFlash(err.message, 'error');
          return false;
        }
        throw err;
      }
      let cursor = get().logs.cursor;
      if (selected !== undefined) {
        // The nearest record at or before the previously selected one.
        const at = buffer.indexOfId(selected);
        cursor = at >= 0 ? at : nearestBefore(buffer, selected);
      }
      publish({ filter: f, filterError: null, cursor });
      return true;
    };
    const searchMatcher = () => {
      const { search, regex } = get().logs;
      try {
        return compileText(search, regex);
      } catch {
        return null;
      }
    };

    const search = (dir: 1 | -1, inclusive: boolean) => {
      const m = searchMatcher();
      if (!m) return;
      const from = get().logs.cursor;
      let i: number;
      try {
        i = buffer.find(inclusive ? from - dir : from, dir, (r) => m(r.text));
      } catch (err) {
        if (!(err instanceof FilterError)) throw err;
        get().setFlash(err.message, 'error');
        return;
      }
      if (i < 0) {
        get().setFlash(`no record matches "${get().logs.search}"`, 'error');
        return;
      }
      if ((dir === 1 && i < from) || (dir === -1 && i > from)) get().setFlash('search wrapped');
      publish({ cursor: i, follow: false });
    };

    return {
      logs: INITIAL,
      logsBuffer: () => buffer,
      appendLogChunk(source, chunk) {
        push(source, parserFor(source).feed(chunk));
        armPendingFlush();
      },
      endLogSource(source) {
        const p = parsers.get(source);
        if (!p) return;
        push(source, p.end());
        parsers.delete(source);
        // A new stream under the same name starts a fresh parser; the name stays listed.
        parsers.set(source, new LogParser());
      },
      async loadLogFile(file) {
        const source = `file:${basename(file)}`;
        try {
          for await (const chunk of createReadStream(file)) get().appendLogChunk(source, chunk as Buffer);
          get().endLogSource(source);
          get().logsSync();
          get().setFlash(`loaded ${file}: ${get().logs.total} records`);
        } catch (err) {
          get().setFlash(`cannot read log ${file}: ${(err as Error).message}`, 'error');
        }
      },
      logsSync() {
        if (frameTimer) {
          clearTimeout(frameTimer);
          frameTimer = null;
        }
        publish();
      },
      logsClear() {
        buffer.clear();
        publish({ cursor: 0 });
      },
      logsSetFilter(p) {
        return refilter({ ...get().logs.filter, ...p });
      },
      logsToggleLevel(level) {
        const hidden = new Set(get().logs.filter.hiddenLevels);
        if (hidden.has(level)) hidden.delete(level);
        else hidden.add(level);
        refilter({ ...get().logs.filter, hiddenLevels: LEVELS.filter((l) => hidden.has(l)) });
      },
      logsStepMinLevel(step) {
        const i = LEVELS.indexOf(get().logs.filter.minLevel);
        const next = LEVELS[Math.max(0, Math.min(LEVELS.length - 1, i + step))] as Level;
        refilter({ ...get().logs.filter, minLevel: next });
      },
      logsFilterBySelected(field) {
        const f = get().logs.filter;
        if (f[field] !== null) {
          refilter({ ...f, [field]: null });
          return;
        }
        const r = buffer.at(get().logs.cursor);
        const v = r?.[field];
        if (v === undefined) {
          get().setFlash(`the selected record has no ${field}`, 'error');
          return;
        }
        refilter({ ...f, [field]: v });
      },
      logsClearFilters() {
        refilter({ ...DEFAULT_FILTER, regex: get().logs.regex });
      },
      logsSetSearch(pattern) {
        try {
          compileText(pattern, get().logs.regex);
        } catch (err) {
          get().setFlash((err as Error).message, 'error');
          return false;
        }
        patch({ search: pattern, version: get().logs.version + 1 });
        // A new search may match the selected record itself.
        if (pattern) search(1, true);
        return true;
      },
      logsSearchNext(dir) {
        search(dir, false);
      },
      logsNextError(dir) {
        const i = buffer.find(get().logs.cursor, dir, (r) => r.level === 'error');
        if (i < 0) get().setFlash('no error record in the view');
        else publish({ cursor: i, follow: false });
      },
      logsMove(delta) {
        const n = buffer.length;
        if (n === 0) return;
        const i = Math.max(0, Math.min(n - 1, get().logs.cursor + delta));
        publish({ cursor: i, follow: delta > 0 && i === n - 1 });
      },
      logsMoveTo(where) {
        if (where === 'first') publish({ cursor: 0, follow: false });
        else publish({ follow: true });
      },
      logsToggle(what) {
        const l = get().logs;
        if (what === 'follow') publish({ follow: !l.follow });
        else if (what === 'timestamps') patch({ timestamps: !l.timestamps, version: l.version + 1 });
        else if (what === 'wrap') patch({ wrap: !l.wrap, version: l.version + 1 });
        else if (what === 'regex') {
          const regex = !l.regex;
          patch({ regex });
          if (l.filter.text) refilter({ ...l.filter, regex });
          else patch({ filter: { ...l.filter, regex } });
        } else if (what === 'inverse') refilter({ ...l.filter, inverse: !l.filter.inverse });
        else refilter({ ...l.filter, includeRaw: !l.filter.includeRaw });
      },
      logsSetMode(mode) {
        patch({ mode });
        get().setCapture(mode !== 'list');
      },
      logsExport(file) {
        const lines: string[] = [];
        for (let i = 0; i < buffer.length; i++) {
          const r = buffer.at(i) as LogRecord;
          lines.push(formatRecord(r, { color: false, timestamps: true }));
          for (const h of hintsFor(r))
            lines.push(`      hint: ${h.suggestion}${h.configPath ? ` (Occlum.json: ${h.configPath.join('.')})` : ''}`);
        }
        const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
        try {
          writeFileSync(tmp, lines.length ? lines.join('\n') + '\n' : '');
          renameSync(tmp, file);
        } catch (err) {
          rmSync(tmp, { force: true });
          get().setFlash(`cannot export to ${file}: ${(err as Error).message}`, 'error');
          return -1;
        }
        get().setFlash(`exported ${buffer.length} records to ${file}`);
        return buffer.length;
      },
      logsSetRunLevel(runLevel) {
        patch({ runLevel });
      },
      logsCycleRunLevel() {
        const i = LOG_LEVEL_SETTINGS.indexOf(get().logs.runLevel);
        const next = LOG_LEVEL_SETTINGS[(i + 1) % LOG_LEVEL_SETTINGS.length] as LogLevelSetting;
        patch({ runLevel: next });
        const eff = get().logsEffectiveRunLevel();
        const why = eff.reason ? ` (${eff.reason})` : '';
        // The host backend has no LibOS: say which of its own records the level shows.
        const host = get().backend === 'host' ? `; host backend: no LibOS logs, ${hostLevelScope(next)}` : '';
        get().setFlash(`next run: OCCLUM_LOG_LEVEL=${next}${why}${host}`);
      },
      logsEffectiveRunLevel() {
        const meta = configMetadata(get());
        return effectiveLogLevel({ env: get().logs.runLevel, ...meta });
      },
      logsRunEnv() {
        const level = get().logs.runLevel;
        const env: Record<string, string> = {};
        if (level !== 'off') env.OCCLUM_LOG_LEVEL = level;
        return env;
      },
      logsSelected() {
        return buffer.at(get().logs.cursor);
      },
      focusConfigPath(path) {
        const s = get();
        const text = s.config?.text ?? '';
        const root = text ? parseTree(text) : undefined;
        // Select the deepest part of the path that exists, opening its ancestors.
        let found: (string | number)[] = [];
        for (let n = path.length; n > 0; n--) {
          if (root && findNodeAtLocation(root, path.slice(0, n))) {
            found = path.slice(0, n);
            break;
          }
        }
        s.setPane('config');
        if (found.length === 0) {
          s.setFlash(`${path.join('.')} is not in Occlum.json: add it in the Config pane`, 'error');
          return;
        }
        for (let n = 1; n < found.length; n++) s.configToggleCollapsed(found.slice(0, n), false);
        s.configSelect(found);
        if (found.length < path.length)
          s.setFlash(`${path.join('.')} is not set; add ${String(path[path.length - 1])} under ${found.join('.')}`);
      },
    };
  };
}

function nearestBefore(buffer: LogBuffer, id: number): number {
  let lo = 0;
  let hi = buffer.length - 1;
  let best = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((buffer.idAt(mid) as number) <= id) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

/** metadata.debuggable / disable_log from the Config pane's text (absent → Occlum's defaults). */
let metaCache: { text: string; meta: { debuggable?: boolean; disableLog?: boolean } } | null = null;
function configMetadata(s: StudioState): { debuggable?: boolean; disableLog?: boolean } {
  const text = s.config?.text;
  if (!text) return {};
  // The pane header asks on every render; parse only when the text changed.
  if (metaCache?.text === text) return metaCache.meta;
  const meta = readMetadata(text);
  metaCache = { text, meta };
  return meta;
}

function readMetadata(text: string): { debuggable?: boolean; disableLog?: boolean } {
  const root = parseTree(text);
  if (!root) return {};
  const dbg = findNodeAtLocation(root, ['metadata', 'debuggable'])?.value;
  const dis = findNodeAtLocation(root, ['metadata', 'disable_log'])?.value;
  const out: { debuggable?: boolean; disableLog?: boolean } = {};
  if (typeof dbg === 'boolean') out.debuggable = dbg;
  if (typeof dis === 'boolean') out.disableLog = dis;
  return out;
}
