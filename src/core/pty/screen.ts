// Rebuilds the screen of a headless xterm as plain text lines carrying SGR codes only (no cursor
// moves), which Ink can print inside a box. The serialize addon is unusable for this: its output
// positions the cursor, which breaks Ink's layout.
import type { Terminal as XTerm, IBufferCell } from '@xterm/headless';

export interface CursorState {
  /** Column and row inside the visible screen (0-based). */
  x: number;
  y: number;
  /** False when the program hid it (DECTCEM) or the view is scrolled back. */
  visible: boolean;
}

export interface ScreenSnapshot {
  cols: number;
  rows: number;
  /** One entry per visible row; SGR-coded text, at most `cols` cells wide. */
  lines: string[];
  cursor: CursorState;
  /** Lines available above the live screen (0 on the alternate screen). */
  scrollback: number;
  /** How many lines the view is scrolled back (0 = live screen). */
  offset: number;
  /** 'alternate' while a full-screen program (vi, less, top) owns the terminal. */
  buffer: 'normal' | 'alternate';
}

export interface SnapshotOptions {
  /** Lines to scroll back from the live screen; clamped to what the scrollback holds. */
  offset?: number;
  /** Paint the cursor as an inverse cell (only on the live screen and when visible). */
  paintCursor?: boolean;
  cursorHidden?: boolean;
}

const RESET = '\x1b[0m';

function colorCodes(mode: 'fg' | 'bg', cell: IBufferCell): string[] {
  const isRgb = mode === 'fg' ? cell.isFgRGB() : cell.isBgRGB();
  const isPalette = mode === 'fg' ? cell.isFgPalette() : cell.isBgPalette();
  if (!isRgb && !isPalette) return [];
  const c = mode === 'fg' ? cell.getFgColor() : cell.getBgColor();
  if (isRgb)
    return [mode === 'fg' ? '38' : '48', '2', String((c >> 16) & 0xff), String((c >> 8) & 0xff), String(c & 0xff)];
  const base = mode === 'fg' ? 30 : 40;
  if (c < 8) return [String(base + c)];
  if (c < 16) return [String(base + 60 + c - 8)];
  return [mode === 'fg' ? '38' : '48', '5', String(c)];
}

/** The SGR parameters that reproduce a cell's look ('' for the default look). */
export function cellStyle(cell: IBufferCell, invert = false): string {
  const p: string[] = [];
  if (cell.isBold()) p.push('1');
  if (cell.isDim()) p.push('2');
  if (cell.isItalic()) p.push('3');
  if (cell.isUnderline()) p.push('4');
  if ((cell.isInverse() !== 0) !== invert) p.push('7');
  if (cell.isInvisible()) p.push('8');
  if (cell.isStrikethrough()) p.push('9');
  p.push(...colorCodes('fg', cell), ...colorCodes('bg', cell));
  return p.join(';');
}

/**
 * One buffer line as SGR-coded text. Trailing cells in the default look are dropped (Ink pads),
 * so a blank line costs nothing. `cursorX` paints that column inverse.
 */
export function renderLine(term: XTerm, y: number, cursorX = -1): string {
  const line = term.buffer.active.getLine(y);
  if (!line) return '';
  const cell = term.buffer.active.getNullCell();
  const cols = Math.min(line.length, term.cols);
  // Find the last cell worth printing: non-blank, styled, or under the cursor.
  let end = 0;
  for (let x = cols - 1; x >= 0; x--) {
    line.getCell(x, cell);
    const ch = cell.getChars();
    if (x === cursorX || (ch !== '' && ch !== ' ') || !cell.isAttributeDefault()) {
      end = x + 1;
      break;
    }
  }
  let out = '';
  let style = '';
  for (let x = 0; x < end; x++) {
    line.getCell(x, cell);
    const width = cell.getWidth();
    if (width === 0) continue; // second half of a wide character, printed with the first
    const s = cellStyle(cell, x === cursorX);
    if (s !== style) {
      out += s === '' ? RESET : `${RESET}\x1b[${s}m`;
      style = s;
    }
    out += cell.getChars() || ' ';
  }
  if (style !== '') out += RESET;
  return out;
}

/** The visible screen (or a scrolled-back view of it) as SGR-coded lines plus the cursor. */
export function snapshotScreen(term: XTerm, opts: SnapshotOptions = {}): ScreenSnapshot {
  const buf = term.buffer.active;
  const scrollback = buf.baseY;
  const offset = Math.max(0, Math.min(opts.offset ?? 0, scrollback));
  const top = buf.baseY - offset;
  const visible = offset === 0 && !opts.cursorHidden;
  const cursor: CursorState = { x: Math.min(buf.cursorX, term.cols - 1), y: buf.cursorY, visible };
  const lines: string[] = [];
  for (let i = 0; i < term.rows; i++) {
    const paint = opts.paintCursor && visible && i === cursor.y ? cursor.x : -1;
    lines.push(renderLine(term, top + i, paint));
  }
  return { cols: term.cols, rows: term.rows, lines, cursor, scrollback, offset, buffer: buf.type };
}

/** Strips SGR codes: the plain text of a snapshot line. */
export function plainText(line: string): string {
  return line.replace(/\x1b\[[0-9;]*m/g, '');
}
