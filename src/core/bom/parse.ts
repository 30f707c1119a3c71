// Bom file text → BomDoc, checked against copy_bom's structure (bom.rs: Bom, Target, SymLink,
// Source, NormalFile). copy_bom's serde ignores unknown keys silently; here they are ignored too
// (a bom copy_bom takes is taken) but warned about with a did-you-mean, since a misspelt `file:`
// would otherwise change the copy without a word.
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  visit,
  type Document,
  type Node as YamlNode,
  type Pair,
  type Scalar,
  type YAMLError,
  type YAMLMap,
} from 'yaml';
import { nearest } from '../config/context.ts';
import { LineIndex } from '../config/location.ts';
import type { BomDoc, BomFileEntry, BomIssue, BomLink, BomSource, BomTarget, Loc, Str } from './types.ts';

export const TOP_KEYS = ['includes', 'excludes', 'targets'] as const;
export const TARGET_KEYS = ['target', 'mkdirs', 'createlinks', 'copy'] as const;
export const LINK_KEYS = ['src', 'linkname'] as const;
export const SOURCE_KEYS = ['from', 'dirs', 'files'] as const;
export const FILE_KEYS = ['name', 'hash', 'autodep', 'rename'] as const;

export interface ParseResult {
  doc: BomDoc;
  issues: BomIssue[];
}

/**
 * Values read before giving up, at least: aliases to lists of aliases multiply (a few KiB can name
 * a billion files). A bom without aliases never reaches it: the bound is also twice its length
 * (each value takes 2 bytes at least and is looked at 3 times at most).
 */
export const MAX_BOM_VALUES = 1_000_000;

class TooManyValues extends Error {}

class Reader {
  readonly issues: BomIssue[] = [];
  private readonly lines: LineIndex;
  doc: Document | undefined;
  private values = 0;
  private readonly maxValues: number;
  private readonly aliases = new Map<unknown, unknown>();

  constructor(
    readonly file: string,
    text: string,
  ) {
    this.lines = new LineIndex(text);
    this.maxValues = Math.max(MAX_BOM_VALUES, 2 * text.length);
  }

  /** The node an alias (`*name`) stands for, as serde_yaml reads it; any other node as is. */
  deref(node: unknown): unknown {
    if (++this.values > this.maxValues) throw new TooManyValues(String(this.maxValues));
    if (!isAlias(node) || !this.doc) return node;
    // Alias.resolve searches the document: once per alias node.
    if (!this.aliases.has(node)) this.aliases.set(node, node.resolve(this.doc) ?? null);
    return this.aliases.get(node);
  }

  loc(node: YamlNode | null | undefined): Loc {
    return this.locAt(node?.range?.[0] ?? 0);
  }

  locAt(offset: number): Loc {
    return { file: this.file, ...this.lines.position(offset) };
  }

  error(node: YamlNode | null | undefined, message: string): void {
    this.issues.push({ severity: 'error', message, loc: this.loc(node) });
  }

  warn(node: YamlNode | null | undefined, message: string): void {
    this.issues.push({ severity: 'warning', message, loc: this.loc(node) });
  }

  /**
   * A scalar as copy_bom reads it: a string field takes any scalar's text (serde_yaml's
   * deserialize_str: `010`, `True`, `Null` are their text). In `files` (`typed`), serde matches an
   * untagged enum against the scalar's type (serdeType): 123, true or ~ is no string there.
   */
  str(aliased: unknown, what: string, typed = false, allowEmpty = false): Str | undefined {
    const node = this.deref(aliased);
    if (!isScalar(node)) {
      this.error(node as YamlNode, `${what} must be a string, not ${describe(node)}`);
      return undefined;
    }
    const type = serdeType(node);
    if (type === 'null') {
      // serde_yaml reads a null as the text "~" (or "null") in a string field: a file named "~".
      this.error(
        node,
        `${what} is empty (YAML null)` +
          (typed ? ': copy_bom rejects it' : `: copy_bom would take it as the name "${node.source || '~'}"`) +
          '; write the path (quote it if that name is meant)',
      );
      return undefined;
    }
    if (typed && type !== 'string') {
      this.error(
        node,
        `${what} must be a string, not ${type === 'bool' ? 'boolean' : type} ${node.source}: ` +
          `copy_bom rejects it; quote it ("${node.source}")`,
      );
      return undefined;
    }
    const value = node.type === 'PLAIN' ? String(node.source ?? node.value) : String(node.value);
    if (value === '' && !allowEmpty) {
      this.error(node, `${what} is empty`);
      return undefined;
    }
    return { value, loc: this.loc(node) };
  }

  /** A list of strings; null or absent is an empty list. */
  strList(aliased: unknown, what: string): Str[] {
    const node = this.deref(aliased);
    if (isNull(node)) return [];
    if (!isSeq(node)) {
      this.error(node as YamlNode, `${what} must be a list, not ${describe(node)} (write each item on a "- " line)`);
      return [];
    }
    return node.items.flatMap((item) => this.str(item, `an item of ${what}`) ?? []);
  }

  /** The pairs of a mapping, with unknown and duplicate keys reported. */
  members(node: YAMLMap, known: readonly string[], where: string): Map<string, { key: YamlNode; value: unknown }> {
    const out = new Map<string, { key: YamlNode; value: unknown }>();
    for (const pair of node.items as Pair<unknown, unknown>[]) {
      const keyNode = this.deref(pair.key) as YamlNode;
      const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
      // A key that only holds an anchor for aliases elsewhere (`x-libs: &libs [...]`) is no typo.
      const anchorOnly = key !== undefined && !known.includes(key) && (pair.value as YamlNode | null)?.anchor;
      if (anchorOnly) continue;
      if (key === undefined || !known.includes(key)) {
        const near = key === undefined ? undefined : nearest(key, [...known]);
        const name = key === undefined ? 'a key that is not a plain string' : `unknown key "${key}"`;
        // A warning: copy_bom (serde, no deny_unknown_fields) ignores it and copies the rest.
        this.warn(
          keyNode ?? node,
          `${name} in ${where} is ignored (as copy_bom does)${near ? `; did you mean "${near}"?` : ''} ` +
            `(known keys: ${known.join(', ')})`,
        );
        continue;
      }
      out.set(key, { key: keyNode, value: this.deref(pair.value) });
    }
    return out;
  }
}

function describe(node: unknown): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    // In serde_yaml's terms: `Null` or `True` is text there, not null or a boolean.
    const type = serdeType(node);
    const text = node.type === 'PLAIN' ? String(node.source ?? node.value) : String(node.value);
    if (type === 'null') return 'nothing';
    return type === 'string' ? `"${text}"` : `${type === 'bool' ? 'boolean' : type} ${text}`;
  }
  return 'an unsupported YAML value';
}

/** An absent Option for serde_yaml: nothing, or a plain `~`, `null` or empty value (not `Null`). */
function isNull(node: unknown): boolean {
  return node === null || node === undefined || (isScalar(node) && serdeType(node) === 'null');
}

const TAG = 'tag:yaml.org,2002:';

/**
 * The type serde_yaml 0.8 (copy_bom) gives a scalar where any type may come (visit_scalar and
 * visit_untagged_str in its de.rs): only `~`, `null`, `true` and `false` are null and booleans (not
 * `True` or `NULL`), numbers are Rust's (0x/0o/0b, digits without leading zeros, finite floats),
 * a quoted or block scalar is a string. The yaml library's core schema differs in each of these.
 */
export function serdeType(node: Scalar): 'null' | 'bool' | 'number' | 'string' {
  const v = String(node.source ?? node.value ?? '');
  if (node.tag?.startsWith(TAG)) {
    const t = node.tag.slice(TAG.length);
    if (t === 'null') return 'null';
    if (t === 'bool') return 'bool';
    if (t === 'int' || t === 'float') return 'number';
    return 'string';
  }
  if (node.tag || node.type !== 'PLAIN') return 'string';
  if (v === '~' || v === 'null' || v === '') return 'null';
  if (v === 'true' || v === 'false') return 'bool';
  return rustNumber(v) ? 'number' : 'string';
}

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);

/** Whether serde_yaml's visit_untagged_str reads this plain scalar as a number. */
function rustNumber(v: string): boolean {
  // from_str_radix takes an optional sign of its own after the prefix.
  for (const [prefix, digits, base] of [
    ['0x', /^\+?[0-9a-f]+$/i, 16n],
    ['0o', /^\+?[0-7]+$/, 8n],
    ['0b', /^\+?[01]+$/, 2n],
  ] as const) {
    const rest = v.startsWith(prefix) ? v.slice(2) : v.startsWith(`+${prefix}`) ? v.slice(3) : null;
    if (rest !== null && digits.test(rest) && radix(rest.replace('+', ''), base) <= U64_MAX) return true;
    const neg = v.startsWith(`-${prefix}`) ? v.slice(3) : null;
    if (neg !== null && digits.test(neg) && -radix(neg.replace('+', ''), base) >= I64_MIN) return true;
  }
  const unsigned = v.replace(/^[-+]+/, '');
  if (unsigned.length > 1 && unsigned.startsWith('0') && /^\d+$/.test(unsigned)) return false;
  if (/^[-+]?\d+$/.test(v)) {
    const n = BigInt(v.replace(/^\+/, ''));
    if (n >= -(1n << 127n) && n <= (1n << 128n) - 1n) return true;
  }
  const noPlus = v.replace(/^\++/, '');
  if (['.inf', '.Inf', '.INF', '-.inf', '-.Inf', '-.INF', '.nan', '.NaN', '.NAN'].includes(noPlus)) return true;
  return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v) && Number.isFinite(Number(v));
}

function radix(digits: string, base: bigint): bigint {
  let n = 0n;
  for (const c of digits.toLowerCase()) n = n * base + BigInt(parseInt(c, Number(base)));
  return n;
}

function listOf(r: Reader, aliased: unknown, what: string): unknown[] {
  const node = r.deref(aliased);
  if (isNull(node)) return [];
  if (!isSeq(node)) {
    r.error(node as YamlNode, `${what} must be a list, not ${describe(node)}`);
    return [];
  }
  return node.items.map((i) => r.deref(i));
}

function mapOf(r: Reader, aliased: unknown, what: string, example: string): YAMLMap | undefined {
  const node = r.deref(aliased);
  if (isMap(node)) return node;
  r.error(node as YamlNode, `${what} must be a mapping, not ${describe(node)} (e.g. ${example})`);
  return undefined;
}

function readFile(r: Reader, node: unknown, where: string): BomFileEntry | undefined {
  if (isScalar(node)) {
    const name = r.str(node, `a file name in ${where}`, true);
    return name && { name, autodep: true, loc: name.loc };
  }
  const m = mapOf(r, node, `a file in ${where}`, 'a path, or {name: app, hash: …, autodep: false, rename: app2}');
  if (!m) return undefined;
  const fields = r.members(m, FILE_KEYS, `a file of ${where}`);
  const nameField = fields.get('name');
  if (!nameField) {
    r.error(m, `a file of ${where} has no "name" (the path of the file to copy)`);
    return undefined;
  }
  const name = r.str(nameField.value, '"name"', true);
  if (!name) return undefined;
  const entry: BomFileEntry = { name, autodep: true, loc: r.loc(m) };
  const hash = fields.get('hash');
  if (hash && !isNull(hash.value)) {
    entry.hash = r.str(hash.value, `"hash" of ${name.value}`);
    if (entry.hash && !/^[0-9a-fA-F]{64}$/.test(entry.hash.value)) {
      r.error(
        hash.value as YamlNode,
        `"hash" of ${name.value} must be a SHA-256 in hex (64 characters), not "${entry.hash.value}"`,
      );
      entry.hash = undefined;
    } else if (entry.hash && entry.hash.value !== entry.hash.value.toUpperCase()) {
      // copy_bom compares the text with its upper-case digest: any lower-case digit fails there.
      r.error(
        hash.value as YamlNode,
        `"hash" of ${name.value} is lower case: copy_bom compares upper-case hex and rejects it; ` +
          `write ${entry.hash.value.toUpperCase()}`,
      );
    }
  }
  const autodep = fields.get('autodep');
  if (autodep && !isNull(autodep.value)) {
    // Only `true` and `false`: serde_yaml takes `True` or `yes` for a string, and no file entry matches.
    const a = autodep.value;
    if (isScalar(a) && serdeType(a) === 'bool' && (a.source === 'true' || a.source === 'false'))
      entry.autodep = a.source === 'true';
    else
      r.error(
        autodep.value as YamlNode,
        `"autodep" of ${name.value} must be true or false, not ` +
          (isScalar(autodep.value)
            ? `${autodep.value.source} (copy_bom takes true and false only, unquoted, in lower case)`
            : describe(autodep.value)),
      );
  }
  const rename = fields.get('rename');
  if (rename && !isNull(rename.value)) entry.rename = r.str(rename.value, `"rename" of ${name.value}`, true);
  return entry;
}

function readSource(r: Reader, node: unknown, where: string): BomSource | undefined {
  const m = mapOf(r, node, `an item of ${where}`, '{from: .., files: [app]}');
  if (!m) return undefined;
  const fields = r.members(m, SOURCE_KEYS, `an item of ${where}`);
  const src: BomSource = { loc: r.loc(m) };
  const from = fields.get('from');
  // An empty `from` is the workspace itself (copy_bom joins "" to it).
  if (from && !isNull(from.value)) src.from = r.str(from.value, '"from"', false, true);
  const dirs = fields.get('dirs');
  if (dirs && !isNull(dirs.value)) src.dirs = r.strList(dirs.value, '"dirs"');
  const files = fields.get('files');
  if (files && !isNull(files.value)) {
    src.files = listOf(r, files.value, '"files"').flatMap((f) => readFile(r, f, where) ?? []);
  }
  if (src.dirs === undefined && src.files === undefined && src.from === undefined) {
    const ignored = m.items
      .map((p) => (isScalar(p.key) ? String(p.key.value) : ''))
      .filter((k) => k !== '' && !(SOURCE_KEYS as readonly string[]).includes(k));
    const near = ignored.map((k) => nearest(k, [...SOURCE_KEYS])).find((n) => n !== undefined);
    r.error(
      m,
      `an item of ${where} has neither "from", "dirs" nor "files": say what to copy` +
        (ignored.length ? ` (copy_bom ignores ${ignored.map((k) => `"${k}"`).join(', ')}` : '') +
        (ignored.length && near ? `; did you mean "${near}"?)` : ignored.length ? ')' : ''),
    );
  }
  return src;
}

function readTarget(r: Reader, node: unknown, index: number): BomTarget | undefined {
  const m = mapOf(r, node, `targets[${index}]`, '{target: /bin, copy: [{files: [../app]}]}');
  if (!m) return undefined;
  const fields = r.members(m, TARGET_KEYS, `targets[${index}]`);
  const t = fields.get('target');
  if (!t) {
    r.error(m, `targets[${index}] has no "target" (the directory in the image, e.g. /bin)`);
    return undefined;
  }
  // An empty target is the root itself (copy_bom joins "" to it).
  const target = r.str(t.value, '"target"', false, true);
  if (!target) return undefined;
  const where = `target ${target.value}`;
  const createlinks: BomLink[] = [];
  for (const l of listOf(r, fields.get('createlinks')?.value, `"createlinks" of ${where}`)) {
    const lm = mapOf(r, l, `an item of "createlinks" of ${where}`, '{src: /usr/bin/busybox, linkname: cat}');
    if (!lm) continue;
    const lf = r.members(lm, LINK_KEYS, `a link of ${where}`);
    const src = lf.has('src') ? r.str(lf.get('src')!.value, '"src"') : undefined;
    const linkname = lf.has('linkname') ? r.str(lf.get('linkname')!.value, '"linkname"') : undefined;
    if (!lf.has('src') || !lf.has('linkname')) {
      r.error(lm, `a link of ${where} needs both "src" (what it points to) and "linkname"`);
    }
    if (src && linkname) createlinks.push({ src, linkname, loc: r.loc(lm) });
  }
  return {
    target,
    mkdirs: r.strList(fields.get('mkdirs')?.value, `"mkdirs" of ${where}`),
    createlinks,
    copy: listOf(r, fields.get('copy')?.value, `"copy" of ${where}`).flatMap(
      (s) => readSource(r, s, `"copy" of ${where}`) ?? [],
    ),
    loc: r.loc(m),
  };
}

/**
 * A YAML syntax error in copy_bom's terms. A key indented deeper than the key above it (`- target:
 * /bin` then `      copy:`) continues that key's plain value, which then meets a `:`: the yaml
 * library reports the value's start twice; serde_yaml says "mapping values are not allowed in this
 * context" at the over-indented key, which is where the fix goes.
 */
function yamlError(text: string, e: YAMLError): { message: string; offset: number } {
  if (e.code === 'MULTILINE_IMPLICIT_KEY') {
    const span = text.slice(e.pos[0], e.pos[1]);
    const nl = span.lastIndexOf('\n');
    if (nl !== -1) {
      const last = span.slice(nl + 1);
      const key = last.trim().slice(0, 40);
      return {
        offset: e.pos[0] + nl + 1 + (last.length - last.trimStart().length),
        message:
          `not valid YAML: "${key}:" is indented deeper than the key above it, so it continues that key's value ` +
          '(serde_yaml: mapping values are not allowed in this context); line it up with the keys it belongs to',
      };
    }
  }
  if (e.code === 'BAD_INDENT') {
    // A key at the column of the list above it, without "- " (`  - target: /a` … `  target: /b`):
    // serde_yaml "did not find expected '-' indicator" there.
    const lineStart = text.lastIndexOf('\n', e.pos[0] - 1) + 1;
    const line = text.slice(
      lineStart,
      text.indexOf('\n', lineStart) === -1 ? undefined : text.indexOf('\n', lineStart),
    );
    const indent = line.length - line.trimStart().length;
    const above = text
      .slice(0, lineStart)
      .split('\n')
      .reverse()
      .find((l) => l.trim() !== '' && !l.trimStart().startsWith('#') && l.length - l.trimStart().length <= indent);
    if (
      above !== undefined &&
      above.length - above.trimStart().length === indent &&
      above.trimStart().startsWith('- ')
    ) {
      const key = line.trim().split(':')[0]!.slice(0, 40);
      return {
        offset: lineStart + indent,
        message:
          `not valid YAML: "${key}:" is at the column of the list items above it but has no "- " ` +
          `(serde_yaml: did not find expected '-' indicator); write "- ${key}:" to start a new item`,
      };
    }
    return { offset: lineStart + indent, message: `not valid YAML: ${e.message.split('\n')[0]!}` };
  }
  if (e.code === 'TAB_AS_INDENT')
    return { offset: e.pos[0], message: 'not valid YAML: a tab indents this line; YAML indents with spaces only' };
  // The yaml library recurses per nesting level; serde_yaml stops far earlier (128 levels).
  if (/Maximum call stack size exceeded/.test(e.message))
    return {
      offset: e.pos[0],
      message:
        'not valid YAML: nested too deeply (serde_yaml, which copy_bom uses, stops at 128 levels: "recursion limit exceeded")',
    };
  return {
    offset: e.pos[0],
    message: `not valid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
  };
}

/** The offset of the first byte that is not part of a valid UTF-8 sequence, or -1. */
function firstInvalidUtf8(buf: Buffer): number {
  for (let i = 0; i < buf.length;) {
    const b = buf[i]!;
    const [n, lo, hi] =
      b < 0x80
        ? [1, 0, 0]
        : b >= 0xc2 && b <= 0xdf
          ? [2, 0x80, 0xbf]
          : b === 0xe0
            ? [3, 0xa0, 0xbf]
            : b === 0xed
              ? [3, 0x80, 0x9f]
              : b >= 0xe1 && b <= 0xef
                ? [3, 0x80, 0xbf]
                : b === 0xf0
                  ? [4, 0x90, 0xbf]
                  : b === 0xf4
                    ? [4, 0x80, 0x8f]
                    : b >= 0xf1 && b <= 0xf3
                      ? [4, 0x80, 0xbf]
                      : [0, 0, 0];
    if (n === 0 || i + n > buf.length) return i;
    if (n > 1 && (buf[i + 1]! < lo || buf[i + 1]! > hi)) return i;
    for (let k = 2; k < n; k++) if ((buf[i + k]! & 0xc0) !== 0x80) return i;
    i += n;
  }
  return -1;
}

/**
 * A bom file's bytes as copy_bom reads them (read_to_string): UTF-8 or an error at the first bad
 * byte; a leading byte order mark is an error too, as serde_yaml takes it for text of the first key.
 */
export function decodeBom(bytes: Buffer, file: string): { text: string } | { issue: BomIssue } {
  const bad = firstInvalidUtf8(bytes);
  if (bad !== -1) {
    const before = bytes.subarray(0, bad).toString('utf8');
    const line = before.split('\n').length;
    const column = before.length - before.lastIndexOf('\n');
    return {
      issue: {
        severity: 'error',
        loc: { file, line, column },
        message:
          `not valid UTF-8 (byte 0x${bytes[bad]!.toString(16).padStart(2, '0')}): copy_bom cannot read the bom ` +
          '("stream did not contain valid UTF-8"); save it as UTF-8',
      },
    };
  }
  const text = bytes.toString('utf8');
  if (text.startsWith('\uFEFF'))
    return {
      issue: {
        severity: 'error',
        loc: { file, line: 1, column: 1 },
        message:
          "the file starts with a byte order mark (U+FEFF), which copy_bom's YAML reader takes as text: the first " +
          'key becomes an unknown one it ignores (or the YAML fails); save it as UTF-8 without a BOM',
      },
    };
  return { text };
}

/** Parses and checks one bom file's text. Never throws: problems are returned as issues. */
export function parseBom(text: string, file: string): ParseResult {
  const r = new Reader(file, text);
  const doc: BomDoc = { path: file, includes: [], excludes: [], targets: [] };
  const ydoc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const errorLines = new Set<number>();
  const multiline = new Set(ydoc.errors.filter((e) => e.code === 'MULTILINE_IMPLICIT_KEY').map((e) => e.pos[0]));
  // A tab where indentation goes throws the structure off: what the parser says after it is noise.
  const tabs = ydoc.errors.filter((e) => e.code === 'TAB_AS_INDENT');
  for (const e of tabs.length > 0 ? tabs : ydoc.errors) {
    // The same over-indented key, reported once more at the value's start.
    if (e.code === 'BLOCK_AS_IMPLICIT_KEY' && multiline.has(e.pos[0])) continue;
    const { message, offset } = yamlError(text, e);
    const loc = r.locAt(offset);
    // One syntax error per line: the parser's follow-on errors about the same text are echoes
    // (also when they are placed further on, as a misplaced key's value running into the next line).
    const from = r.locAt(e.pos[0]).line;
    if (errorLines.has(loc.line) || errorLines.has(from)) continue;
    errorLines.add(loc.line);
    r.issues.push({ severity: 'error', message, loc });
  }
  if (ydoc.errors.length > 0) return { doc, issues: r.issues };
  const root = ydoc.contents;
  if (isNull(root)) {
    // serde_yaml (0.8) fails on a stream without a document ("EOF while parsing a value") and on a
    // null document, so copy_bom stops at such a bom, an included one too.
    r.error(
      root as YamlNode,
      'the bom file is empty (or only comments): copy_bom rejects it; write at least "targets: []"',
    );
    return { doc, issues: r.issues };
  }
  r.doc = ydoc;
  // An alias names an anchor above it only; serde_yaml's parser fails on any other, wherever it is.
  // One pass in document order (a node before its children, as yaml-rust registers anchors).
  let unknownAlias = false;
  const anchors = new Set<string>();
  visit(ydoc, {
    Node(_, node) {
      if (!isAlias(node)) {
        if (node.anchor) anchors.add(node.anchor);
        return;
      }
      if (anchors.has(node.source)) return;
      unknownAlias = true;
      r.error(
        node,
        `*${node.source} names no anchor above it: copy_bom fails on it ("found unknown anchor"); ` +
          `define &${node.source} before its first use`,
      );
    },
  });
  if (unknownAlias) return { doc, issues: r.issues };
  try {
    const m = mapOf(r, root, 'a bom file', 'includes: [base.yaml] and targets: […]');
    if (!m) return { doc, issues: r.issues };
    const fields = r.members(m, TOP_KEYS, 'the bom file');
    doc.includes = r.strList(fields.get('includes')?.value, '"includes"');
    doc.excludes = r.strList(fields.get('excludes')?.value, '"excludes"');
    doc.targets = listOf(r, fields.get('targets')?.value, '"targets"').flatMap((t, i) => readTarget(r, t, i) ?? []);
  } catch (e) {
    if (!(e instanceof TooManyValues)) throw e;
    r.error(
      root as YamlNode,
      `the bom names more than ${e.message} values (its aliases, *name, multiply): write the entries out`,
    );
  }
  return { doc, issues: r.issues };
}
