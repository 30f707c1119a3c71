// Command history of the Run picker, per instance, in <instance>/.occlum-studio/history.json.
// Written atomically (temp file + rename); a missing or damaged file reads as empty history
// with a reason, never as a crash.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../instance/atomic.ts';
import type { CommandLine } from './command-line.ts';

export const HISTORY_LIMIT = 50;

export interface HistoryEntry extends CommandLine {
  kind: 'run' | 'exec';
}

export interface HistoryFile {
  version: 1;
  entries: HistoryEntry[];
}

export function historyPath(instanceDir: string): string {
  return join(instanceDir, '.occlum-studio', 'history.json');
}

function isEntry(x: unknown): x is HistoryEntry {
  const e = x as HistoryEntry;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.path === 'string' &&
    e.path !== '' &&
    Array.isArray(e.args) &&
    e.args.every((a) => typeof a === 'string') &&
    (e.kind === 'run' || e.kind === 'exec')
  );
}

/** Reads the history; `problem` says why it was ignored (damaged file), if it was. */
export function loadHistory(instanceDir: string): { entries: HistoryEntry[]; problem: string | null } {
  const file = historyPath(instanceDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { entries: [], problem: null };
  }
  try {
    const data = JSON.parse(text) as HistoryFile;
    if (!data || !Array.isArray(data.entries)) throw new Error('no "entries" list');
    // Keep the valid entries of a partly damaged file rather than losing all of them.
    return { entries: data.entries.filter(isEntry).slice(0, HISTORY_LIMIT), problem: null };
  } catch (err) {
    return {
      entries: [],
      problem: `${file}: not valid history (${(err as Error).message}); it will be rewritten on the next run`,
    };
  }
}

export function sameEntry(a: HistoryEntry, b: HistoryEntry): boolean {
  return (
    a.kind === b.kind && a.path === b.path && a.args.length === b.args.length && a.args.every((x, i) => x === b.args[i])
  );
}

/** The history with `entry` moved (or added) to the front, capped at HISTORY_LIMIT. */
export function addToHistory(entries: HistoryEntry[], entry: HistoryEntry): HistoryEntry[] {
  return [entry, ...entries.filter((e) => !sameEntry(e, entry))].slice(0, HISTORY_LIMIT);
}

export function saveHistory(instanceDir: string, entries: HistoryEntry[]): void {
  const file = historyPath(instanceDir);
  mkdirSync(join(instanceDir, '.occlum-studio'), { recursive: true });
  const data: HistoryFile = { version: 1, entries };
  writeFileAtomic(file, JSON.stringify(data, null, 2) + '\n');
}
