// Shared shapes of the config model: diagnostics, fixes, JSON paths.

export type JsonPath = (string | number)[];

export type Severity = 'error' | 'warning' | 'info';

/** One text replacement on the original file text (offsets in UTF-16 code units). */
export interface TextEdit {
  offset: number;
  length: number;
  content: string;
}

export interface Fix {
  title: string;
  edits: TextEdit[];
}

export interface Diagnostic {
  severity: Severity;
  /** Stable identifier of the rule, e.g. `missing-key`, `size-unit`. */
  code: string;
  path: JsonPath;
  /** 1-based. */
  line: number;
  column: number;
  endLine?: number;
  endColumn?: number;
  message: string;
  fix?: Fix;
}

/** Formats a JSON path the way users read it: `mount[0].options.layers[1]`. */
export function formatPath(path: JsonPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out === '' ? '(root)' : out;
}
