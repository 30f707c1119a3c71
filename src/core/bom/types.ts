// The shape of a bom file (Occlum's copy_bom, tools/copy_bom/src/bom.rs), with the place in the
// file of every value so that errors and the plan can point at the entry that caused them.

export interface Loc {
  file: string;
  /** 1-based. */
  line: number;
  column: number;
}

/** A string value of the bom and where it is written. */
export interface Str {
  value: string;
  loc: Loc;
}

export interface BomFileEntry {
  name: Str;
  /** SHA-256 of the source file, hex. */
  hash?: Str;
  /** Copy the shared libraries the file needs (default true). */
  autodep: boolean;
  rename?: Str;
  loc: Loc;
}

export interface BomSource {
  from?: Str;
  /** Undefined when the key is absent (an absent `dirs` and `files` copies the whole `from`). */
  dirs?: Str[];
  files?: BomFileEntry[];
  loc: Loc;
}

export interface BomLink {
  src: Str;
  linkname: Str;
  loc: Loc;
}

export interface BomTarget {
  target: Str;
  mkdirs: Str[];
  createlinks: BomLink[];
  copy: BomSource[];
  loc: Loc;
}

export interface BomDoc {
  /** Absolute path of the bom file. */
  path: string;
  includes: Str[];
  excludes: Str[];
  targets: BomTarget[];
}

export type Severity = 'error' | 'warning';

export interface BomIssue {
  severity: Severity;
  message: string;
  /** The place in a bom file the issue is about, when there is one. */
  loc?: Loc;
}

export function formatLoc(loc: Loc): string {
  return `${loc.file}:${loc.line}:${loc.column}`;
}

export function formatIssue(issue: BomIssue): string {
  return `${issue.loc ? `${formatLoc(issue.loc)}: ` : ''}${issue.severity}: ${issue.message}`;
}
