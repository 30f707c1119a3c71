// Removes terminal decoration from one line: ANSI escape sequences (the LibOS colours every
// line, even into a pipe), carriage returns, and the caret notation (`^[[0m`, `^M`) or bare
// `[0m` left when such lines are pasted from a terminal or a bug report.

// CSI (ESC [, parameter bytes 0x30–0x3F — digits, `;`, `:` of `38:5:196`, `?` `<` `=` `>` —,
// intermediates, final), OSC (ESC ] … BEL/ST), DCS/SOS/PM/APC strings (ESC P X ^ _ … ST) and
// two-byte ESC sequences.
const ESC_SEQ = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?|[@-Z\\-_])/g;
const CARET_SEQ = /\^\[\[[0-?]*[ -/]*[@-~]/g;
// An SGR code whose ESC byte was lost, only where Occlum puts one: at the start or end of a line.
const BARE_SGR_START = /^(?:\[[0-9;]{0,8}m)+/;
const BARE_SGR_END = /(?:\[0?m)+$/; // only RESET, which Occlum appends to every line
// The time stamp a CI runner (GitHub Actions) puts before every line of a job log that is pasted
// into an issue: `2021-01-24T09:44:22.0796288Z <line>`. Removed only before a bracketed line (a
// record or its colour code) so a program's own time stamps stay in its text.
const CI_STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z (?=\[)/;
// A colour code cut in two by a line break (a terminal copy wrapped at its width, pasted into an
// issue): `… offset: 151552^[[00` and, on the next line, `m^M`.
const OPEN_SGR_REST = /^[0-9;]*m/;

/** Where a colour code left open at the end of the line starts (`ESC[00`, `^[[00`), or -1. */
function openSgrStart(text: string): number {
  let i = text.length - 1;
  while (i >= 0 && ((text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) || text.charCodeAt(i) === 0x3b)) i--;
  if (i < 1 || text.charCodeAt(i) !== 0x5b /* [ */) return -1;
  if (text.charCodeAt(i - 1) === 0x1b) return i - 1;
  return i >= 2 && text.charCodeAt(i - 1) === 0x5b && text.charCodeAt(i - 2) === 0x5e /* ^[ */ ? i - 2 : -1;
}

export interface CleanLine {
  text: string;
  colored: boolean;
  /** The line ended inside a colour code; its rest starts the next line. */
  openEscape?: boolean;
  /**
   * The line opened with a colour code but its reset did not come: a LibOS line (which always
   * ends in one) cut by a terminal's wrap in a copy goes on on the next lines.
   */
  unterminated?: boolean;
  /** The line ends with a colour reset without opening with a code: the tail of such a line. */
  resetEnd?: boolean;
  /** The line had trailing blanks (removed from `text`). */
  blankEnd?: boolean;
}

// The SGR code a LibOS line opens with (real or caret form).
const SGR_OPEN = /^(?:\x1b|\^\[)\[[0-9;]*m/;

/** Does the line end with a colour reset (`ESC[0m`, `^[[m` …), before CRs, `^M` and blanks? */
function endsWithReset(raw: string): boolean {
  let end = raw.length;
  for (;;) {
    const c = raw.charCodeAt(end - 1);
    if (c === 0x0d || c === 0x20 || c === 0x09) end--;
    else if (c === 0x4d /* M */ && raw.charCodeAt(end - 2) === 0x5e /* ^ */) end -= 2;
    else break;
  }
  const tail = raw.slice(Math.max(0, end - 5), end);
  return tail.endsWith('\x1b[0m') || tail.endsWith('^[[0m') || tail.endsWith('\x1b[m') || tail.endsWith('^[[m');
}

/** `afterOpenEscape`: the previous line ended inside a colour code (its `openEscape`). */
export function cleanLine(raw: string, afterOpenEscape = false): CleanLine {
  let text = raw;
  let colored = false;
  let openEscape = false;
  const c0 = raw.charCodeAt(0);
  const opens = (c0 === 0x1b || c0 === 0x5e) /* ESC ^ */ && SGR_OPEN.test(raw);
  const resets = endsWithReset(raw);
  if (afterOpenEscape) {
    const rest = OPEN_SGR_REST.exec(text);
    if (rest) {
      text = text.slice(rest[0].length);
      colored = true;
    }
  }
  const open = openSgrStart(text);
  if (open !== -1) {
    text = text.slice(0, open);
    colored = openEscape = true;
  }
  if (text.includes('\x1b')) {
    const stripped = text.replace(ESC_SEQ, '');
    if (stripped !== text) colored = true;
    text = stripped.replace(/\x1b/g, '');
  }
  // Before the `^M` below: a pasted `…^[[0m^M` saved with CRLF ends in `^M\r`.
  if (text.includes('\r')) text = text.replace(/\r/g, '');
  if (text.includes('^')) {
    if (text.includes('^[[')) {
      const stripped = text.replace(CARET_SEQ, '');
      if (stripped !== text) colored = true;
      text = stripped;
    }
    // `^M` as printed by `cat -v` for a CR at the end of the line.
    while (text.endsWith('^M')) text = text.slice(0, -2);
  }
  const t0 = text.charCodeAt(0);
  if (t0 >= 0x30 && t0 <= 0x39) {
    const m = CI_STAMP.exec(text);
    if (m) text = text.slice(m[0].length);
  }
  if (text.charCodeAt(0) === 0x5b /* [ */ && text.charCodeAt(1) !== 0x32 /* fast path: "[2…" timestamps */) {
    const m = BARE_SGR_START.exec(text);
    if (m) {
      text = text.slice(m[0].length);
      colored = true;
    }
  }
  if (text.endsWith('m')) {
    const m = BARE_SGR_END.exec(text);
    if (m && m.index > 0) {
      text = text.slice(0, m.index);
      colored = true;
    }
  }
  // Trailing blanks (terminal padding kept by a copy) would hide the `[line = …]` at the end.
  let blankEnd = false;
  if (text.length > 0 && text.charCodeAt(text.length - 1) <= 0x20) {
    text = text.trimEnd();
    blankEnd = true;
  }
  const out: CleanLine = { text, colored };
  if (openEscape) out.openEscape = true;
  else if (opens && !resets && !afterOpenEscape) out.unterminated = true;
  if (resets && !opens) out.resetEnd = true;
  if (blankEnd) out.blankEnd = true;
  return out;
}
