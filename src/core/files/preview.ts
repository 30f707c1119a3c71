// The Files pane's preview of one file, paged through ranged reads (FsView.readRange): only the
// bytes around the shown lines are read (and authenticated by the engine), so a file of any size
// previews at once and scrolls anywhere. Hex rows are at fixed offsets (row r is bytes 16r..);
// text lines are found by scanning for newlines from the start, a bounded amount per request, so
// paging down a huge text file reads only what it passes and a file without newlines is never
// read to its end for one key press. Pure logic over a reader: no store, no Ink. Also what the preview says about
// entries that have no content to page (directories, links, deleted and special files).

import type { FsEntry, FsView, SkippedEntry } from '../securefs/types.ts';
import { sanitizeForTerminal } from '../text/sanitize.ts';

export type RangeReader = (offset: number, length: number) => Promise<Buffer>;

/** Bytes read at a time for display, and the first read of a file (type sniffing, first screen). */
export const WINDOW = 256 * 1024;
/** Lines kept ready from the first shown one (more than any terminal shows). */
export const VISIBLE = 200;
/** Bytes of one line kept for display (the pane cuts lines at its width anyway). */
export const LINE_MAX = 4096;
const SCAN_CHUNK = 1 << 20;
/** Bytes inspected to tell text from binary. */
const SNIFF = 8192;
/** Bytes scanned for line starts per request. */
const SCAN_BUDGET = 8 << 20;

/** One text line for display: tabs expanded, other control characters made visible (^X). */
export function displayLine(b: Buffer): string {
  return b
    .toString('utf8')
    .replace(/\t/g, '    ')
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `^${String.fromCharCode((c.charCodeAt(0) + 64) & 0x7f)}`);
}

/** Binary when the start has a NUL, is not valid UTF-8, or is more than 10% control bytes. */
export function looksBinary(b: Buffer): boolean {
  const head = b.subarray(0, SNIFF);
  if (head.includes(0)) return true;
  let ctl = 0;
  for (const c of head) if (c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12 && c !== 27) ctl++;
  if (ctl > head.length / 10) return true;
  try {
    // A multi-byte character cut at the sniff boundary is not a reason to call it binary.
    new TextDecoder('utf-8', { fatal: true }).decode(head.length === SNIFF ? head.subarray(0, SNIFF - 4) : head);
    return false;
  } catch {
    return true;
  }
}

export class PreviewPager {
  /** The window of bytes held for hex rows, starting at file offset `start`. */
  private bytes: Buffer = Buffer.alloc(0);
  private start = 0;
  /** File offsets where lines start (line 0 at 0), as far as the scan got. */
  private lineStarts: number[] = [0];
  /** Bytes scanned for newlines; `complete` when the scan reached the end of the file. */
  private scannedTo = 0;
  private done = false;
  /** Display text of the lines around the shown ones (line number → text). */
  private text = new Map<number, string>();

  constructor(
    private readonly read: RangeReader,
    readonly size: number,
  ) {}

  /** Reads the start of the file (kept for hex rows and counted for text lines); returns it. */
  async open(): Promise<Buffer> {
    const head = await this.read(0, WINDOW);
    this.bytes = head;
    this.start = 0;
    this.scan(head, 0);
    if (head.length < WINDOW) this.done = true;
    return head;
  }

  get scanned(): number {
    return this.scannedTo;
  }
  /** Every line start is known: `textLines` is the file's line count. */
  get complete(): boolean {
    return this.done;
  }
  get hexLines(): number {
    return Math.ceil(this.size / 16);
  }
  /** Lines known so far (all of them once `complete`). */
  get textLines(): number {
    return this.lineStarts.length;
  }
  /** Bytes held for display. */
  get held(): number {
    return this.bytes.length;
  }

  private scan(chunk: Buffer, at: number): void {
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) this.lineStarts.push(at + i + 1);
    this.scannedTo = at + chunk.length;
    if (this.scannedTo >= this.size) this.done = true;
  }

  hexReady(offset: number): boolean {
    const from = offset * 16;
    const to = Math.min(this.size, (offset + VISIBLE) * 16);
    return from >= this.start && to <= this.start + this.bytes.length;
  }

  /** Reads the window holding hex rows [offset, offset + VISIBLE), a little before them too. */
  async fillHex(offset: number): Promise<void> {
    if (this.hexReady(offset)) return;
    const from = Math.max(0, offset * 16 - WINDOW / 4);
    const start = from - (from % 16);
    this.bytes = await this.read(start, WINDOW);
    this.start = start;
  }

  hexData(): { bytes: Buffer; start: number } {
    return { bytes: this.bytes, start: this.start };
  }

  textReady(offset: number): boolean {
    const last = Math.min(this.lineStarts.length, offset + VISIBLE);
    if (!this.done && this.lineStarts.length <= offset + VISIBLE) return false;
    for (let i = offset; i < last; i++) if (!this.text.has(i)) return false;
    return true;
  }

  /** Finds the line starts up to `offset + VISIBLE` (within the scan budget) and reads those lines. */
  async fillText(offset: number): Promise<void> {
    if (this.textReady(offset)) return;
    let budget = SCAN_BUDGET;
    while (!this.done && this.lineStarts.length <= offset + VISIBLE && budget > 0) {
      const chunk = await this.read(this.scannedTo, SCAN_CHUNK);
      if (chunk.length === 0) {
        this.done = true; // the file is shorter than its entry said
        break;
      }
      this.scan(chunk, this.scannedTo);
      budget -= chunk.length;
    }
    const first = Math.min(offset, this.lineStarts.length - 1);
    const last = Math.min(this.lineStarts.length, first + VISIBLE);
    // Each line's bytes (at most LINE_MAX of it); lines close together share one read.
    const segs: { line: number; from: number; to: number; ended: boolean }[] = [];
    for (let i = first; i < last; i++) {
      const from = this.lineStarts[i]!;
      const ended = i + 1 < this.lineStarts.length;
      const end = ended ? this.lineStarts[i + 1]! - 1 : this.done ? this.size : from + LINE_MAX;
      segs.push({ line: i, from, to: Math.min(end, from + LINE_MAX, this.size), ended });
    }
    const text = new Map<number, string>();
    for (let g = 0; g < segs.length;) {
      let h = g;
      while (h + 1 < segs.length && segs[h + 1]!.to - segs[g]!.from <= WINDOW) h++;
      const base = segs[g]!.from;
      const buf = await this.read(base, Math.max(0, segs[h]!.to - base));
      for (let k = g; k <= h; k++) {
        const s = segs[k]!;
        let b = buf.subarray(s.from - base, s.to - base);
        // CRLF line ends show as LF ones; a lone CR stays visible.
        if (s.ended && s.to === this.lineStarts[s.line + 1]! - 1 && b[b.length - 1] === 13)
          b = b.subarray(0, b.length - 1);
        text.set(s.line, displayLine(b));
      }
      g = h + 1;
    }
    this.text = text;
  }

  /** Display text of the lines held, from line `firstLine`. */
  textRows(): { firstLine: number; lines: string[] } {
    const keys = [...this.text.keys()];
    if (keys.length === 0) return { firstLine: 0, lines: [] };
    const firstLine = Math.min(...keys);
    return { firstLine, lines: keys.sort((a, b) => a - b).map((k) => this.text.get(k)!) };
  }
}

/** What the preview says about an entry with no content to page through. */
export interface EntryNote {
  kind: 'deleted' | 'dir' | 'symlink' | 'special' | 'error';
  message: string;
}

/**
 * The preview of a deleted entry, a directory (`listed` entries once listed, and what its listing
 * `skipped`), a symbolic link or a special file; null for a regular file, whose content is read.
 */
export function entryNote(
  e: FsEntry,
  v: FsView,
  listed: number | undefined,
  skipped: SkippedEntry[],
): EntryNote | null {
  if (e.layer === 'deleted') {
    return {
      kind: 'deleted',
      message: 'deleted in the run layer (whiteout): the image still holds it, the program no longer sees it',
    };
  }
  if (e.type === 'dir') {
    const left = skipped.length
      ? `; ${skipped.length} left out: ${sanitizeForTerminal(skipped.map((s) => s.reason).join(' · '))}`
      : '';
    const n = listed;
    return {
      kind: 'dir',
      message: n === undefined ? 'directory (enter lists it)' : `directory, ${n} entr${n === 1 ? 'y' : 'ies'}${left}`,
    };
  }
  if (e.type === 'symlink') {
    let target = e.target;
    if (target === undefined) {
      try {
        target = v.readlink(e.path);
      } catch (err) {
        return { kind: 'error', message: `cannot read the link: ${(err as Error).message}` };
      }
    }
    return { kind: 'symlink', message: `symbolic link to ${target}` };
  }
  if (e.type !== 'file') return { kind: 'special', message: `${e.type}: no content to show` };
  return null;
}
