// The one way a string from user data (config keys and values, file names in an image, log
// records, program names and output summaries) reaches a terminal. Escape sequences could
// retitle the terminal, move the cursor or rewrite what is on screen; line breaks, tabs and
// other controls break the layout of a pane row. Every such character becomes a visible,
// unambiguous escape instead, so nothing is hidden and nothing acts.

// C0 controls, DEL, C1 controls, and the Unicode format/separator characters that reorder or
// hide text (bidi overrides, isolates and marks, the Arabic letter mark among them, zero-width
// joiners, line/paragraph separators, BOM, and the tag characters U+E0000–E007F, invisible text).
const UNSAFE =
  /[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]|\udb40[\udc00-\udc7f]/;
const UNSAFE_G = new RegExp(UNSAFE.source, 'g');
// Lone surrogates (from a malformed file name decoded as UTF-16) print as U+FFFD in some
// terminals and break width arithmetic in others.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATE_G = new RegExp(LONE_SURROGATE.source, 'g');

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\x1b': '\\e' };

function escapeChar(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  if (c.length === 2) return `\\u{${c.codePointAt(0)!.toString(16)}}`; // a tag character
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

export interface SanitizeOptions {
  /** Keep tabs and newlines as they are (for multi-line text printed as a block, e.g. help). */
  keepLayout?: boolean;
  /** Keep newlines only (text split into rows by the caller, where a tab would break the columns). */
  keepNewlines?: boolean;
}

/**
 * Makes `s` safe to print: control, escape and invisible format characters are shown as
 * escapes (`\e`, `\n`, `\x07`, `\u202e`). Printable text, including wide characters, is kept.
 * Cheap when there is nothing to replace (one regex test).
 */
export function sanitizeForTerminal(s: string, opts: SanitizeOptions = {}): string {
  let out = s;
  if (UNSAFE.test(out)) {
    const keep = (c: string) =>
      (c === '\n' && (opts.keepLayout || opts.keepNewlines)) || (c === '\t' && opts.keepLayout);
    out = out.replace(UNSAFE_G, (c) => (keep(c) ? c : escapeChar(c)));
  }
  if (LONE_SURROGATE.test(out)) out = out.replace(LONE_SURROGATE_G, '\ufffd');
  return out;
}

/** True when `s` would be changed by sanitizeForTerminal (for tests and for flagging names). */
export function needsSanitizing(s: string): boolean {
  return UNSAFE.test(s) || LONE_SURROGATE.test(s);
}

// What JSON.stringify leaves as it is but a terminal acts on: DEL, C1 controls (U+009B is a CSI),
// bidi and zero-width format characters, line/paragraph separators.
const JSON_UNSAFE_G =
  /[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]|\udb40[\udc00-\udc7f]/g;

/**
 * JSON text (from JSON.stringify) safe to print: those characters become `\uXXXX` escapes, so
 * the JSON still parses to exactly the same value (JSON.stringify already escapes C0 and ESC).
 */
export function jsonForTerminal(json: string): string {
  return json.replace(JSON_UNSAFE_G, (c) =>
    c
      .split('')
      .map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`)
      .join(''),
  );
}
