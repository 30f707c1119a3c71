// A bom copy's outcome as data for a view (the Build pane): what comes from where, one row per
// bom entry (a directory copy of 20,000 files is one row with its counts), the libraries each
// program needs (found and missing), and the issues. Raw strings: the view sanitizes what it shows.
import { finalEntries } from './copy.ts';
import type { EntryWhy } from './plan.ts';
import type { BomRun } from './run.ts';
import { formatIssue, formatLoc } from './types.ts';

export interface BomPlanRow {
  why: Exclude<EntryWhy, 'mkdir' | 'library'>;
  /** Where it lands in the image (a directory copy: its top directory). */
  inner: string;
  /** Host source (a link: its target). */
  from: string;
  /** The bom entry, as file:line:col. */
  at: string | null;
  files: number;
  dirs: number;
  links: number;
  /** Of those, written by this copy (created, updated or attributes fixed). */
  written: number;
}

export interface BomLibraries {
  program: string;
  loader: string | null;
  found: { inner: string; src: string }[];
  missing: string[];
  /** A program in a copied dir: a missing library is a warning, not an error. */
  inDir: boolean;
}

export interface BomSummary {
  bom: string;
  ok: boolean;
  /** Null when the plan had errors and nothing was copied. */
  counts: { create: number; update: number; attrs: number; same: number } | null;
  bytes: number;
  rows: BomPlanRow[];
  libraries: BomLibraries[];
  errors: string[];
  warnings: string[];
  strays: string[];
}

export function summarizeBomRun(bom: string, r: BomRun): BomSummary {
  const written = new Set((r.copy?.actions ?? []).filter((a) => a.action !== 'same').map((a) => a.inner));
  const rows = new Map<string, BomPlanRow>();
  for (const e of finalEntries(r.plan)) {
    if (e.why === 'mkdir' || e.why === 'library') continue;
    const at = e.loc ? formatLoc(e.loc) : null;
    // Every entry of one directory copy shares its bom entry; files and links are one row each.
    const key = e.why === 'dirs' ? `dirs\0${at}` : `${e.why}\0${e.inner}`;
    let row = rows.get(key);
    if (!row) {
      row = { why: e.why, inner: e.inner, from: e.src ?? e.target ?? '', at, files: 0, dirs: 0, links: 0, written: 0 };
      rows.set(key, row);
    }
    if (e.kind === 'file') row.files++;
    else if (e.kind === 'dir') row.dirs++;
    else row.links++;
    if (written.has(e.inner)) row.written++;
  }
  const issues = [...r.plan.issues, ...(r.copy?.issues ?? [])];
  return {
    bom,
    ok: r.ok,
    counts: r.copy ? { ...r.copy.counts } : null,
    bytes: r.copy?.bytes ?? 0,
    rows: [...rows.values()],
    libraries: r.plan.libraries
      .filter((l) => l.from === 'files' || l.missing.length > 0)
      .map((l) => ({
        program: l.file,
        loader: l.interp,
        found: l.libs.map((x) => ({ inner: x.inner, src: x.src })),
        missing: l.missing,
        inDir: l.from === 'dirs',
      })),
    errors: issues.filter((i) => i.severity === 'error').map(formatIssue),
    warnings: issues.filter((i) => i.severity === 'warning').map(formatIssue),
    strays: r.copy?.strays ?? [],
  };
}

export type SummaryTone = 'title' | 'normal' | 'muted' | 'warning' | 'error';

export interface SummaryLine {
  text: string;
  tone: SummaryTone;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** The summaries as lines (raw text: sanitize before printing). */
export function summaryLines(summaries: BomSummary[]): SummaryLine[] {
  const out: SummaryLine[] = [];
  const add = (text: string, tone: SummaryTone = 'normal') => out.push({ text, tone });
  for (const s of summaries) {
    const c = s.counts;
    add(
      `bom ${s.bom}: ` +
        (c
          ? `${c.create} created, ${c.update} updated, ${c.attrs} attributes, ${c.same} unchanged ` +
            `(${(s.bytes / 1e6).toFixed(1)} MB written)`
          : 'not copied (the plan has errors; nothing was written)'),
      s.ok ? 'title' : 'error',
    );
    for (const e of s.errors) add(`  ${e}`, 'error');
    if (s.rows.length) add('  from where:', 'muted');
    const width = Math.min(40, Math.max(0, ...s.rows.map((r) => r.inner.length)));
    for (const r of s.rows) {
      const what =
        r.why === 'dirs'
          ? [r.files && plural(r.files, 'file'), r.dirs && plural(r.dirs, 'dir'), r.links && plural(r.links, 'link')]
              .filter(Boolean)
              .join(', ')
          : '';
      const arrow = r.why === 'createlink' ? '->' : '<-';
      const written = r.written ? (r.why === 'dirs' ? `${r.written} written` : 'written') : 'unchanged';
      add(
        `    ${r.why.padEnd(10)} ${r.inner.padEnd(width)} ${arrow} ${r.from}` +
          ` (${[what, written].filter(Boolean).join('; ')})${r.at ? `  ${r.at}` : ''}`,
      );
    }
    if (s.libraries.length) add('  libraries:', 'muted');
    for (const l of s.libraries) {
      add(`    ${l.program}${l.loader ? ` (loader ${l.loader})` : ' (no loader: static)'}`);
      for (const f of l.found) add(`      found   ${f.inner}${f.inner === f.src ? '' : ` <- ${f.src}`}`, 'muted');
      for (const m of l.missing) add(`      MISSING ${m}`, l.inDir ? 'warning' : 'error');
    }
    if (s.warnings.length) add(`  ${plural(s.warnings.length, 'warning')}:`, 'warning');
    for (const w of s.warnings) add(`    ${w}`, 'warning');
    if (s.strays.length) {
      add(`  in image/ but in no bom entry (${s.strays.length}${s.strays.length >= 1000 ? '+' : ''}):`, 'muted');
      for (const p of s.strays.slice(0, 20)) add(`    ${p}`, 'muted');
      if (s.strays.length > 20) add(`    … and ${s.strays.length - 20} more`, 'muted');
    }
  }
  return out;
}
