// Reads Occlum.json text. Occlum parses it with serde_json (strict JSON); users also write
// comments and trailing commas. We read those (jsonc-parser keeps offsets) but report each one
// as the error Occlum's build would hit, in serde's wording, with a fix that removes it.
// Never throws: every problem becomes a located diagnostic.
import { createScanner, parseTree, type Node, type ParseError } from 'jsonc-parser';
import { LineIndex } from './location.ts';
import { squeezeWhitespace } from './squeeze.ts';
import type { Diagnostic, Fix, JsonPath } from './types.ts';

// jsonc-parser's SyntaxKind / ParseErrorCode values (declared as const enums upstream).
const T = {
  OpenBrace: 1,
  CloseBrace: 2,
  OpenBracket: 3,
  CloseBracket: 4,
  Comma: 5,
  Colon: 6,
  StringLiteral: 10,
  LineComment: 12,
  BlockComment: 13,
  LineBreak: 14,
  Trivia: 15,
  Unknown: 16,
  EOF: 17,
} as const;

/** serde_json's recursion limit: deeper documents fail with "recursion limit exceeded". */
export const MAX_DEPTH = 128;

export interface ParsedConfig {
  text: string;
  lines: LineIndex;
  /** Syntax tree, or undefined when the text is not JSON at all (or nested too deeply). */
  root: Node | undefined;
  /** Syntax problems only (comments, trailing commas, malformed JSON). */
  syntax: Diagnostic[];
}

const PARSE_ERROR_TEXT: Record<number, string> = {
  1: 'expected value',
  2: 'invalid number',
  3: 'key must be a string',
  4: 'expected value',
  5: 'expected `:`',
  6: 'expected `,` or `}`',
  7: 'EOF while parsing an object',
  8: 'EOF while parsing a list',
  9: 'trailing characters',
  10: 'expected value',
  11: 'EOF while parsing a comment',
  12: 'EOF while parsing a string',
  13: 'invalid number',
  14: 'invalid unicode code point',
  15: 'invalid escape',
  16: 'control character (\\u0000-\\u001F) found while parsing a string',
};

export function parseConfig(text: string): ParsedConfig {
  const lines = new LineIndex(text);
  const syntax: Diagnostic[] = [];
  // The scanner and parser read `work` (long whitespace runs cut); offsets map back through `orig`.
  const { text: work, toOriginal: orig } = squeezeWhitespace(text);
  const mapEdit = (e: { offset: number; length: number; content: string }) => {
    const offset = orig(e.offset);
    return { offset, length: orig(e.offset + e.length) - offset, content: e.content };
  };
  const at = (offset: number, length: number, message: string, code: string, fix?: Fix): Diagnostic => {
    const s = lines.position(orig(offset));
    const e = lines.position(orig(offset + length));
    return {
      severity: 'error',
      code,
      path: [],
      line: s.line,
      column: s.column,
      endLine: e.line,
      endColumn: e.column,
      message,
      ...(fix ? { fix } : {}),
    };
  };

  if (text.trim() === '') {
    syntax.push(
      at(
        0,
        0,
        'EOF while parsing a value: the file is empty; Occlum needs a JSON object (run `occlum init` for the template)',
        'syntax',
      ),
    );
    return { text, lines, root: undefined, syntax };
  }

  // Occlum.yaml (1.0 preview / NGO) handed to a JSON reader: say so instead of "expected value".
  if (looksLikeYaml(text)) {
    syntax.push(
      at(
        0,
        0,
        'expected value: this looks like YAML (the Occlum.yaml format of the 1.0 preview and NGO branches); released Occlum (≤ 0.31) reads only Occlum.json',
        'syntax',
      ),
    );
    return { text, lines, root: undefined, syntax };
  }

  // Pass 1: comments, trailing commas and nesting depth, which parseTree accepts silently
  // (or, for depth, would recurse too deep on).
  const scanner = createScanner(work, false);
  const stack: number[] = []; // T.OpenBrace | T.OpenBracket
  let prev = 0; // previous significant token
  let pendingComma = -1; // offset of a comma not yet followed by a value
  let tooDeep = false;
  let surrogates = 0;
  for (let kind = scanner.scan(); kind !== T.EOF; kind = scanner.scan()) {
    const off = scanner.getTokenOffset();
    const len = scanner.getTokenLength();
    if (kind === T.LineComment || kind === T.BlockComment) {
      const top = stack[stack.length - 1];
      let expected: string;
      if (top === undefined) expected = prev === 0 ? 'expected value' : 'trailing characters';
      else if (prev === T.Colon || (top === T.OpenBracket && (prev === T.OpenBracket || prev === T.Comma)))
        expected = 'expected value';
      else if (top === T.OpenBrace && (prev === T.OpenBrace || prev === T.Comma)) expected = 'key must be a string';
      else expected = top === T.OpenBrace ? 'expected `,` or `}`' : 'expected `,` or `]`';
      syntax.push(
        at(off, len, `${expected}: JSON does not allow comments; Occlum's build (serde_json) fails here`, 'comment', {
          title: 'Remove the comment',
          edits: [mapEdit(removalEdit(work, off, len))],
        }),
      );
      continue;
    }
    if (kind === T.LineBreak || kind === T.Trivia) continue;
    if (kind === T.StringLiteral && surrogates < 5) {
      const bad = loneSurrogate(work, off, len);
      if (bad) {
        surrogates++;
        syntax.push(
          at(
            bad.offset,
            6,
            `${bad.serde}: ${work.slice(bad.offset, bad.offset + 6)} is half of a UTF-16 surrogate pair; serde_json (Occlum's build) rejects an escape without its other half — write the character itself or both halves`,
            'syntax',
            { title: 'Remove the half escape', edits: [mapEdit({ offset: bad.offset, length: 6, content: '' })] },
          ),
        );
      }
    }
    if ((kind === T.CloseBrace || kind === T.CloseBracket) && prev === T.Comma && pendingComma >= 0) {
      syntax.push(
        at(
          pendingComma,
          1,
          "trailing comma: JSON does not allow a comma before a closing bracket; Occlum's build (serde_json) fails here",
          'trailing-comma',
          {
            title: 'Remove the trailing comma',
            edits: [mapEdit({ offset: pendingComma, length: 1, content: '' })],
          },
        ),
      );
    }
    if (kind === T.OpenBrace || kind === T.OpenBracket) {
      stack.push(kind);
      if (stack.length > MAX_DEPTH) {
        syntax.push(at(off, 1, `recursion limit exceeded: nesting deeper than ${MAX_DEPTH} levels`, 'syntax'));
        tooDeep = true;
        break;
      }
    } else if (kind === T.CloseBrace || kind === T.CloseBracket) {
      stack.pop();
    }
    pendingComma = kind === T.Comma ? off : -1;
    prev = kind;
  }
  if (tooDeep) return { text, lines, root: undefined, syntax };
  // One fix for the whole file on the first of several: strict JSON in one step.
  const strictable = syntax.filter((d) => d.code === 'comment' || d.code === 'trailing-comma');
  if (strictable.length > 1) {
    const comments = strictable.filter((d) => d.code === 'comment').length;
    const commas = strictable.length - comments;
    const parts = [
      comments ? `${comments} comment${comments > 1 ? 's' : ''}` : '',
      commas ? `${commas} trailing comma${commas > 1 ? 's' : ''}` : '',
    ].filter(Boolean);
    strictable[0]!.fix = {
      title: `Make it strict JSON: remove ${parts.join(' and ')}`,
      edits: strictable.flatMap((d) => d.fix!.edits),
    };
  }

  // Pass 2: the tree (comments and trailing commas tolerated, everything else reported).
  const errors: ParseError[] = [];
  let root: Node | undefined;
  try {
    root = parseTree(work, errors, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: false });
    if (root && work !== text) toOriginalOffsets(root, orig);
  } catch (err) {
    // jsonc-parser does not throw on bad input; guard anyway so the caller never sees a throw.
    syntax.push(at(0, 0, `cannot parse: ${(err as Error).message}`, 'syntax'));
    root = undefined;
  }
  let reported = 0;
  let lastLine = -1;
  for (const e of errors) {
    // serde stops at the first error; jsonc-parser goes on, and its next errors on the same line
    // are mostly the echo of the first (`{key: 1}` gives four). One per line, the first few.
    if (reported >= 5) break;
    const line = lines.position(orig(e.offset)).line;
    if (line === lastLine) continue;
    lastLine = line;
    if (e.offset === 0 && text.charCodeAt(0) === 0xfeff) {
      syntax.push(
        at(
          0,
          1,
          'expected value: the file starts with a UTF-8 byte-order mark (BOM), which serde_json rejects; save it without BOM',
          'bom',
          {
            title: 'Remove the byte-order mark',
            edits: [{ offset: 0, length: 1, content: '' }],
          },
        ),
      );
      reported++;
      continue;
    }
    const msg = PARSE_ERROR_TEXT[e.error] ?? 'invalid JSON';
    const known = e.error === 1 ? explainToken(work, e.offset) : undefined;
    if (known) {
      const fix = known.fix && { title: known.fix.title, edits: [mapEdit(known.fix.edit)] };
      syntax.push(at(known.offset, known.length, known.message, 'syntax', fix));
      if (known.number !== undefined && root)
        patchNumber(root, orig(known.offset), known.number, orig(known.offset + known.length) - orig(known.offset));
    } else syntax.push(at(e.offset, e.length, `${msg}: ${syntaxHint(e.error)}`, 'syntax'));
    reported++;
  }
  return { text, lines, root, syntax };
}

/**
 * A `\uD800`-`\uDFFF` escape that is not a high half followed by a low half. jsonc-parser takes
 * it; serde_json (parse_escape, also for ignored values) stops with these words.
 */
function loneSurrogate(text: string, off: number, len: number): { offset: number; serde: string } | undefined {
  const end = off + len;
  let i = text.indexOf('\\', off);
  while (i >= 0 && i < end - 1) {
    if (text[i + 1] !== 'u') {
      i = text.indexOf('\\', i + 2);
      continue;
    }
    const n = parseInt(text.slice(i + 2, i + 6), 16);
    if (n >= 0xdc00 && n <= 0xdfff) return { offset: i, serde: 'lone leading surrogate in hex escape' };
    if (n >= 0xd800 && n <= 0xdbff) {
      if (text[i + 6] !== '\\' || text[i + 7] !== 'u') return { offset: i, serde: 'unexpected end of hex escape' };
      const low = parseInt(text.slice(i + 8, i + 12), 16);
      if (!(low >= 0xdc00 && low <= 0xdfff)) return { offset: i, serde: 'lone leading surrogate in hex escape' };
      i = text.indexOf('\\', i + 12);
      continue;
    }
    i = text.indexOf('\\', i + 6);
  }
  return undefined;
}

interface TokenExplanation {
  offset: number;
  length: number;
  message: string;
  fix?: { title: string; edit: { offset: number; length: number; content: string } };
  /** A hex literal's value, which the rules should see instead of the `0` the parser kept. */
  number?: number;
}

const NOT_JSON_WORDS: Record<string, string> = {
  True: 'true',
  False: 'false',
  TRUE: 'true',
  FALSE: 'false',
  None: 'null',
  NULL: 'null',
  Null: 'null',
  nil: 'null',
};

/**
 * What people write from other languages where JSON wants something else: unquoted keys and
 * words, single quotes, Python/YAML booleans, hex numbers, NaN. Says what to write instead.
 */
function explainToken(text: string, offset: number): TokenExplanation | undefined {
  const rest = text.slice(offset, offset + 200);
  const hex = /^[xX]([0-9a-fA-F]{1,13})\b/.exec(rest);
  if (hex && text[offset - 1] === '0') {
    const value = parseInt(hex[1]!, 16);
    return {
      offset: offset - 1,
      length: hex[0].length + 1,
      message: `invalid number: JSON has no hexadecimal numbers; write ${value} for 0${hex[0]}`,
      fix: { title: `Write ${value}`, edit: { offset: offset - 1, length: hex[0].length + 1, content: String(value) } },
      number: value,
    };
  }
  const isKey = (len: number) => /^\s*:/.test(text.slice(offset + len, offset + len + 40));
  const quoted = /^'((?:[^'\\\n]|\\.){0,150})'/.exec(rest);
  if (quoted) {
    const content = JSON.stringify(quoted[1]!.replace(/\\'/g, "'"));
    const what = isKey(quoted[0].length) ? 'key must be a string' : 'expected value';
    return {
      offset,
      length: quoted[0].length,
      message: `${what}: JSON strings are written in double quotes: ${content}`,
      fix: { title: `Write ${content}`, edit: { offset, length: quoted[0].length, content } },
    };
  }
  const path = /^\/[^\s,\]}"']{0,200}/.exec(rest)?.[0];
  if (path) {
    const content = JSON.stringify(path);
    return {
      offset,
      length: path.length,
      message: `expected value: a path is text, written in double quotes: ${content}`,
      fix: { title: `Write ${content}`, edit: { offset, length: path.length, content } },
    };
  }
  const word = /^[A-Za-z_$][\w$.-]{0,80}/.exec(rest)?.[0];
  if (!word) return undefined;
  const edit = (content: string) => ({ title: `Write ${content}`, edit: { offset, length: word.length, content } });
  if (word in NOT_JSON_WORDS) {
    const w = NOT_JSON_WORDS[word]!;
    return { offset, length: word.length, message: `expected value: JSON writes ${w}, not ${word}`, fix: edit(w) };
  }
  if (['NaN', 'Infinity', 'undefined'].includes(word))
    return { offset, length: word.length, message: `expected value: JSON has no ${word}; write a number, or null` };
  const content = JSON.stringify(word);
  if (isKey(word.length))
    return {
      offset,
      length: word.length,
      message: `key must be a string: JSON keys are written in double quotes: ${content}`,
      fix: edit(content),
    };
  return {
    offset,
    length: word.length,
    message: `expected value: text is written in double quotes (${content}); numbers and true/false/null are not`,
    fix: edit(content),
  };
}

/** Gives the number node at `offset` (kept as `0` from `0x20`) the literal's value and extent. */
function patchNumber(root: Node, offset: number, value: number, length: number): void {
  const stack = [root];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.type === 'number' && n.offset === offset) {
      Object.assign(n, { value, length });
      return;
    }
    stack.push(...(n.children ?? []));
  }
}

function syntaxHint(code: number): string {
  switch (code) {
    case 3:
      return 'object keys must be double-quoted strings';
    case 5:
      return 'a key must be followed by `:` and a value';
    case 6:
      return 'a comma is missing between two entries';
    case 7:
      return 'an object is not closed with `}`';
    case 8:
      return 'an array is not closed with `]`';
    case 9:
      return 'there is text after the end of the top-level object';
    case 12:
      return 'a string is not closed with `"`';
    case 15:
      return 'only \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX escapes are valid';
    case 16:
      return 'control characters inside strings must be escaped';
    default:
      return 'this is not valid JSON';
  }
}

/** Removes a comment; when it is alone on its line, removes the whole line. */
function removalEdit(text: string, off: number, len: number) {
  let start = off;
  while (start > 0 && (text[start - 1] === ' ' || text[start - 1] === '\t')) start--;
  let end = off + len;
  while (end < text.length && (text[end] === ' ' || text[end] === '\t')) end++;
  const atLineStart = start === 0 || text[start - 1] === '\n' || text[start - 1] === '\r';
  if (atLineStart && (text[end] === '\n' || text[end] === '\r' || end === text.length)) {
    if (text[end] === '\r' && text[end + 1] === '\n') end += 2;
    else if (end < text.length) end += 1;
    return { offset: start, length: end - start, content: '' };
  }
  // Keep the line break after a trailing `// comment`.
  return { offset: start, length: off + len - start, content: '' };
}

/** Rewrites a tree parsed from a squeezed text to the original text's offsets. */
function toOriginalOffsets(node: Node, orig: (offset: number) => number): void {
  const n = node as { offset: number; length: number; colonOffset?: number };
  const start = orig(n.offset);
  n.length = orig(n.offset + n.length) - start;
  n.offset = start;
  if (n.colonOffset !== undefined) n.colonOffset = orig(n.colonOffset);
  for (const child of node.children ?? []) toOriginalOffsets(child, orig);
}

/** JSON path of a tree node. */
/** The text is Occlum.yaml (1.0 preview / NGO) rather than JSON: by name, else by its first keys. */
export function looksLikeYaml(text: string, fileName?: string): boolean {
  if (fileName && /\.ya?ml$/i.test(fileName)) return true;
  const t = text.replace(/^\uFEFF/, '');
  return /^\s*(#.*\n\s*)*[A-Za-z_][\w-]*:\s*(#.*)?$/m.test(t.slice(0, 2000)) && !/^\s*[{[]/.test(t);
}

export function nodePath(node: Node): JsonPath {
  const path: JsonPath = [];
  let cur: Node | undefined = node;
  while (cur && cur.parent) {
    const parent: Node = cur.parent;
    if (parent.type === 'property') {
      path.unshift(parent.children![0]!.value as string);
      cur = parent.parent;
    } else if (parent.type === 'array') {
      path.unshift(parent.children!.indexOf(cur));
      cur = parent;
    } else {
      cur = parent;
    }
  }
  return path;
}
