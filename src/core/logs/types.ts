// The record model produced by the log parser (src/core/logs/parser.ts). One record = one
// logical message: a LibOS line, a PAL line, a boot failure with its "Caused by" chain, a panic
// with its backtrace, or a raw line the parser could not attribute to Occlum (program stderr).

export type Level = 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** Most severe first; index = severity rank used by the minimum-level filter. */
export const LEVELS: readonly Level[] = ['error', 'warn', 'info', 'debug', 'trace'];

export const LEVEL_RANK: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };

export type RecordKind =
  /** `[time][LEVEL][T<tid>][#<round>][<syscall>][<module>] msg` (both eras) */
  | 'libos'
  /** `[ERROR] occlum-pal: msg (line N, file src/x.c)` (also occlum-run) */
  | 'pal'
  /** `failed to boot up LibOS: …` + indented `Caused by …` lines */
  | 'boot-failure'
  /** other un-prefixed LibOS / CLI messages (`failed to execute a process: …`, `Error: <msg>`, …) */
  | 'eprintln'
  /** `thread '…' panicked at …` + backtrace, or `memory allocation of N bytes failed` */
  | 'panic'
  /** bash reporting that occlum-run died: `…/occlum: line N: PID Segmentation fault …` */
  | 'crash'
  /** env_logger lines (copy_bom, occlum_exec_client, gen_internal_conf): `[time LEVEL target] msg` */
  | 'env-logger'
  /** exec client's `Error: <raw wait status>` */
  | 'exec-status'
  /** anything else: the program's own stderr, build output … */
  | 'raw';

export interface Errno {
  name: string;
  number?: number;
  description?: string;
}

export interface SourceLocation {
  file: string;
  line: number;
  column?: number;
}

/** One link of an error chain (`Caused by …`). */
export interface Cause {
  message: string;
  errno?: Errno;
  location?: SourceLocation;
}

export interface LogRecord {
  kind: RecordKind;
  /** null for raw records: the program's stderr has no Occlum level. */
  level: Level | null;
  /** ISO time as printed (`2025-12-26T01:24:09.456Z`), when the line has one. */
  time?: string;
  thread?: number;
  round?: number;
  /** CamelCase syscall name without the '·' padding. */
  syscall?: string;
  /** LibOS module (`syscall`, `fs`, `vm` …; ≥ v0.30.1) or env_logger target (`copy_bom::util`). */
  module?: string;
  /** Host-side component of PAL-style lines: `occlum-pal`, `occlum-run`. */
  component?: string;
  /** Text after the structured prefix, without a trailing source-location bracket. */
  message: string;
  errno?: Errno;
  location?: SourceLocation;
  /** Further links of an error chain, in order. */
  causes?: Cause[];
  /** SGX status in PAL lines (`error code 0x1009: Unknown SGX error`). */
  sgx?: { code: number; text: string };
  /** crash / exec-status: what the process ended with. */
  exit?: { status?: number; signal?: number; signalName?: string; pid?: number; coreDumped?: boolean };
  /** Lines of a panic's backtrace (`stack backtrace:` listing), trimmed. */
  backtrace?: string[];
  /** The cleaned text of all lines of the record (ANSI codes and CRs removed), '\n'-joined. */
  text: string;
  /** 1-based number of the record's first line in its source. */
  lineNo: number;
  /** True when the original line carried ANSI colour codes. */
  colored: boolean;
  /** Where it came from when several streams feed one buffer (`run`, `server`, `file:x.log`). */
  source?: string;
}
