// Display helpers of the Files pane: mode as rwx, sizes, hex rows, tree rows.
import type { FsEntry } from '../../../src/core/securefs/types.ts';

const TYPE_CHAR: Record<FsEntry['type'], string> = { dir: 'd', symlink: 'l', socket: 's', file: '-', other: '?' };

/** `drwxr-xr-x`, with setuid/setgid/sticky shown as ls does. */
export function modeString(e: Pick<FsEntry, 'type' | 'mode'>): string {
  const m = e.mode;
  const tri = (n: number, special: boolean, ch: string) =>
    `${n & 4 ? 'r' : '-'}${n & 2 ? 'w' : '-'}${special ? (n & 1 ? ch : ch.toUpperCase()) : n & 1 ? 'x' : '-'}`;
  return (
    TYPE_CHAR[e.type] +
    tri(m >> 6, (m & 0o4000) !== 0, 's') +
    tri(m >> 3, (m & 0o2000) !== 0, 's') +
    tri(m, (m & 0o1000) !== 0, 't')
  );
}

export function octal(mode: number): string {
  return '0' + (mode & 0o7777).toString(8).padStart(3, '0');
}

export function humanSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1073741824) return `${(n / 1048576).toFixed(1)} MiB`;
  return `${(n / 1073741824).toFixed(2)} GiB`;
}

/** Hex row layout for a panel `width` columns wide: full (78), compact (61), or without ASCII (44). */
export function hexLayout(width: number): 'full' | 'compact' | 'bare' {
  return width >= 78 ? 'full' : width >= 61 ? 'compact' : 'bare';
}

/** One hex dump row of 16 bytes at `row` of the file; `bytes` holds the file from offset `base`. */
export function hexRow(bytes: Buffer, row: number, layout: 'full' | 'compact' | 'bare', base = 0): string {
  const compact = layout !== 'full';
  const off = row * 16;
  const chunk = off >= base ? bytes.subarray(off - base, off - base + 16) : Buffer.alloc(0);
  const hex: string[] = [];
  for (let i = 0; i < 16; i++) hex.push(i < chunk.length ? chunk[i]!.toString(16).padStart(2, '0') : '  ');
  const ascii = [...chunk].map((c) => (c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.')).join('');
  const addr = off.toString(16).padStart(8, '0');
  if (compact) {
    const groups = [0, 4, 8, 12].map((i) => hex.slice(i, i + 4).join(''));
    return layout === 'bare' ? `${addr} ${groups.join(' ')}` : `${addr} ${groups.join(' ')} ${ascii}`;
  }
  return `${addr}  ${hex.slice(0, 8).join(' ')}  ${hex.slice(8).join(' ')}  |${ascii}|`;
}

export const LAYER_TAG: Record<string, string> = { image: 'img', run: 'run', deleted: 'del' };

/** First row of a window of `height` rows that keeps `cursor` visible, moving as little as possible. */
export function windowTop(prevTop: number, cursor: number, height: number, total: number): number {
  let top = Math.min(prevTop, Math.max(0, total - height));
  if (cursor < top) top = cursor;
  if (cursor >= top + height) top = cursor - height + 1;
  return Math.max(0, top);
}

/** Word-wraps `text` into lines of at most `width` columns (long words are cut). */
export function wrapText(text: string, width: number): string[] {
  const w = Math.max(10, width);
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (!word) continue;
    if (line && line.length + 1 + word.length > w) {
      out.push(line);
      line = '';
    }
    line = line ? `${line} ${word}` : word;
    while (line.length > w) {
      out.push(line.slice(0, w));
      line = line.slice(w);
    }
  }
  if (line) out.push(line);
  return out;
}
