// Classifies ONE cleaned line (see clean.ts) into the start of a record. Multi-line folding
// (Caused by chains, backtraces) is the streaming parser's job (parser.ts).
import { errnoDescription, errnoName, errnoNumber } from './errno.ts';
import type { Cause, Errno, Level, LogRecord, SourceLocation } from './types.ts';

/** A record without the fields the parser fills in (text, lineNo, colored). */
export type RecordStart = Omit<LogRecord, 'text' | 'lineNo' | 'colored'>;

// WARM: the PAL's WARN macro printed `[WARM]` up to 0.25.
const LEVEL_OF: Record<string, Level> = {
  ERROR: 'error',
  WARN: 'warn',
  WARM: 'warn',
  INFO: 'info',
  DEBUG: 'debug',
  TRACE: 'trace',
};

// [time][LEVEL][T<tid>][#<round>][<syscall>][<module>] msg — time and round optional for
// tolerance; the syscall is CamelCase padded with '·' (old docs: '_'; 'Â·' when the UTF-8
// was decoded as Latin-1), the module lower-case (≥ v0.30.1). Occlum NGO adds the vCPU, `[C:1]`,
// before the thread.
const LIBOS =
  /^(?:\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)\])?\[ *(ERROR|WARN|INFO|DEBUG|TRACE) *\](?:\[C:\d+\])?\[T(\d+)\](?:\[#(\d+)\])?(?:\[[·_Â]*([A-Z][A-Za-z0-9_]*)\])?(?:\[([a-z_][a-z0-9_]*)\])? ?(.*)$/;
const LOST_BRACKET = /^\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:?\d\d)\]\[/;
// A timed line without the thread (Occlum NGO logs outside any thread this way): `[time][LEVEL] msg`.
const LIBOS_NO_THREAD =
  /^\[(\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:?\d\d)?)\]\[ *(ERROR|WARN|INFO|DEBUG|TRACE) *\] ?(.*)$/;
// Before 0.11 the LibOS printed `[LEVEL][<pid>] msg` (0.5–0.8) or `[LEVEL] msg` (0.9, 0.10),
// with no time, coloured like every LibOS line; the level is padded to 5 as ever.
const BOOT_FAILURE = 'failed to boot up LibOS: ';
const LIBOS_EARLY = /^\[( INFO| WARN|ERROR|DEBUG|TRACE)\](?:\[(\d+)\])? ?(.*)$/;
// [ERROR] occlum-pal: msg (line N, file src/x.c)
const PAL = /^\[(ERROR|WARN|WARM|INFO|DEBUG|TRACE)\] (occlum[\w-]*): ?(.*)$/;
// The same message without its `[LEVEL] occlum-pal: ` prefix (cut off when pasted, or reworded
// as `error: occlum-pal: …`): still the PAL's, told by the C source location it ends with.
// A PAL line written into the middle of another writer's line (a panic message goes out in
// several writes): `thread '[ERROR] occlum-pal: …`.
const PAL_INSIDE = /\[(ERROR|WARN|WARM|INFO|DEBUG|TRACE)\] (occlum[\w-]*): ?(.*)$/;
// What is left of a panic header after such a line cut it: `main' panicked at 'msg', f.rs:1:2`,
// or after a copy lost its first letters: `hread '<unnamed>' panicked at …`.
const PANIC_TAIL = /^(?:(?:hread|read|ead|ad|d) '[^']*|[^\s']*)' panicked at /;
const THREAD_CUT = /^(?:hread|read|ead|ad|d) '/;
const PAL_BARE = /^(?:(error|warn(?:ing)?): )?(?:(occlum[\w-]*): ?)?(.*?) *\(line (\d+), file ([^)]+\.c(?:pp)?)\)$/i;
const PAL_LOCATION = / *\(line (\d+), file ([^)]+)\)$/;
// A PAL line whose first `[` was lost in a copy: `ERROR] occlum-pal: …`.
const PAL_LOST_BRACKET = /^(ERROR|WARN|WARM|INFO|DEBUG|TRACE)\] (occlum[\w-]*): ?(.*)$/;
// Intel's SGX platform software in occlum-run (sgx_urts, the DCAP quote library) tracing with
// SE_TRACE: `[<function> <file>:<line>] msg`. Release builds print only SE_TRACE_ERROR; a message
// starting with a newline leaves the header alone.
const SGX_URTS = /^\[([A-Za-z_~][\w:~]*) ([^\s\]]*\.(?:cpp|cc|c|h|hpp)):(\d+)\] ?(.*)$/;
// A LibOS error quoted from its syscall bracket on (the resource guide writes them this way):
// `[SetRobustList] Error = ENOSYS (#38, …): …`, `[____Mmap] Error = ENOMEM …`.
const LIBOS_FROM_SYSCALL = /^\[[·_Â]*([A-Z][A-Za-z0-9]*)\](?:\[([a-z_][a-z0-9_]*)\])? (Error = E[A-Z0-9]+ \(#\d+, .*)$/;
// env_logger: [2023-09-13T09:55:15Z INFO  copy_bom::util] msg   (and the pre-0.5 `INFO:target: msg`)
const ENV_LOGGER =
  /^\[(\d{4}-\d\d-\d\d[T ][0-9:.]+(?:Z|[+-]\d\d:?\d\d)?) +(ERROR|WARN|INFO|DEBUG|TRACE) +([^\]\s]+)\] ?(.*)$/;
const LIBOS_LOCATION = / *\[line = (\d+), file = ([^\]]+)\]$/;
const ERRNO = /\b(E[A-Z0-9]{1,15}) \(#(\d+), ([^)]*)\)/;
const ERRNO_NAME = /\b(E[A-Z][A-Z0-9]{1,14})\b/g;
const SGX_CODE = /error code (0x[0-9a-fA-F]+)(?:: ?(.*))?$/;
// thread '<unnamed>' panicked at 'msg', src/config.rs:24:17   (Rust < 1.73)
// thread '<unnamed>' panicked at src/config.rs:24:17:          (Rust ≥ 1.73; message on the next line)
// (The thread name is optional for tolerance of SGX std ports that omit it.)
const PANIC_OLD = /^thread(?: '([^']*)')? panicked at '(.*)', ([^\s:]+):(\d+):(\d+)$/;
const PANIC_NEW = /^thread(?: '([^']*)')? panicked at ([^\s:]+):(\d+):(\d+):?$/;
// A quoted message with newlines (`assertion failed … left: … right: …', src/x.rs:1:2`): the
// location comes on the line that closes the quote.
const PANIC_OPEN = /^thread(?: '([^']*)')? panicked at '(.*)$/;
export const PANIC_CLOSE = /^(.*)', ([^\s:]+):(\d+):(\d+)$/;
const ALLOC_FAILED = /^memory allocation of (\d+) bytes failed/;
// bash: /opt/occlum/build/bin/occlum: line 315:  8025 Segmentation fault      (core dumped) RUST_BACKTRACE=1 …
const EXEC_STATUS = /^Error: (-?\d+)$/;
// Un-prefixed LibOS messages printed with eprintln! (always shown, whatever the log level).
const LIBOS_EPRINTLN = new RegExp(
  `^(${[
    'failed to execute a process',
    'invalid arguments for LibOS',
    'failed to kill',
    'failed to broadcast interrupts',
    'invalid log level',
    // SEFS opening an image file on the host (occlum mount, sefs-cli), with the io::Error's Debug.
    'failed to open SGX protected file',
  ].join('|')}): `,
);

const EXEC_CLIENT_FAILED = /^(?:start[ _]server failed|server build failed)\b/;

// Signal descriptions as bash prints them (strsignal), to exit status 128+n.
const SIGNALS: Record<string, [number, string]> = {
  Hangup: [1, 'SIGHUP'],
  Interrupt: [2, 'SIGINT'],
  Quit: [3, 'SIGQUIT'],
  'Illegal instruction': [4, 'SIGILL'],
  'Trace/breakpoint trap': [5, 'SIGTRAP'],
  Aborted: [6, 'SIGABRT'],
  'Bus error': [7, 'SIGBUS'],
  'Floating point exception': [8, 'SIGFPE'],
  Killed: [9, 'SIGKILL'],
  'User defined signal 1': [10, 'SIGUSR1'],
  'Segmentation fault': [11, 'SIGSEGV'],
  'User defined signal 2': [12, 'SIGUSR2'],
  'Broken pipe': [13, 'SIGPIPE'],
  'Alarm clock': [14, 'SIGALRM'],
  Terminated: [15, 'SIGTERM'],
  'Stack fault': [16, 'SIGSTKFLT'],
  'CPU time limit exceeded': [24, 'SIGXCPU'],
  'File size limit exceeded': [25, 'SIGXFSZ'],
  'Bad system call': [31, 'SIGSYS'],
};

const CRASH = new RegExp(
  `^(\\S.*?): line (\\d+): +(\\d+) (${Object.keys(SIGNALS)
    .map((k) => k.replace('/', '\\/'))
    .join('|')})(?: +\\((core dumped)\\))?(?: +(.*))?$`,
);

/** Splits `… [line = L, file = F]` (LibOS) off a message. */
export function splitLibosLocation(msg: string): { message: string; location?: SourceLocation } {
  if (!msg.endsWith(']')) return { message: msg };
  const m = LIBOS_LOCATION.exec(msg);
  if (!m) return { message: msg };
  return { message: msg.slice(0, m.index), location: { file: m[2], line: Number(m[1]) } };
}

/** The first `ENAME (#n, description)` in a message. */
export function findErrno(msg: string): Errno | undefined {
  if (!msg.includes('(#')) return undefined;
  const m = ERRNO.exec(msg);
  return m ? { name: m[1], number: Number(m[2]), description: m[3] } : undefined;
}

/** A bare errno name (PAL lines: `returns ENOENT`), filled in from the errno table. */
function findErrnoName(msg: string): Errno | undefined {
  ERRNO_NAME.lastIndex = 0;
  for (let m = ERRNO_NAME.exec(msg); m; m = ERRNO_NAME.exec(msg)) {
    const n = errnoNumber(m[1]);
    if (n !== undefined) {
      const description = errnoDescription(n);
      return description ? { name: m[1], number: n, description } : { name: m[1], number: n };
    }
  }
  return undefined;
}

/** Message analysis shared by LibOS lines, eprintln messages and `Caused by` links. */
export function analyseMessage(msg: string): Cause {
  const { message, location } = splitLibosLocation(msg);
  const cause: Cause = { message };
  const errno = findErrno(message);
  if (errno) cause.errno = errno;
  if (location) cause.location = location;
  return cause;
}

function withCause(base: RecordStart, msg: string): RecordStart {
  const c = analyseMessage(msg);
  base.message = c.message;
  if (c.errno) base.errno = c.errno;
  if (c.location) base.location = c.location;
  return base;
}

export interface Classified {
  start: RecordStart;
  /** May following lines continue this record (Caused by, backtrace)? */
  chain: boolean;
  /** A new-style panic header: the next line is the panic message. */
  expectMessage?: boolean;
  /** An old-style panic whose quoted message continues on the next lines. */
  openQuote?: boolean;
}

/** `colored`: the line had colour codes (every LibOS line has; the PAL's and programs' seldom). */
export function classifyLine(text: string, colored = false): Classified {
  const c0 = text.charCodeAt(0);
  if (c0 === 0x5b /* [ */) {
    const r = classifyBracketed(text, colored);
    if (r) return r;
  } else if (c0 >= 0x30 && c0 <= 0x39 && LOST_BRACKET.test(text)) {
    // A record whose first `[` was lost when it was copied.
    const r = classifyBracketed(`[${text}`, colored);
    if (r) return r;
  } else if (c0 === 0x66 /* f */) {
    if (text.startsWith(BOOT_FAILURE)) {
      const start = withCause({ kind: 'boot-failure', level: 'error', message: '' }, text.slice(BOOT_FAILURE.length));
      return { start, chain: true };
    }
    if (text.startsWith('fatal runtime error: '))
      return { start: { kind: 'panic', level: 'error', message: text }, chain: true };
  } else if (c0 === 0x74 /* t */) {
    if (text.startsWith('thread ')) {
      const old = PANIC_OLD.exec(text);
      if (old) {
        const start: RecordStart = {
          kind: 'panic',
          level: 'error',
          message: old[2],
          location: loc(old[3], old[4], old[5]),
        };
        return { start, chain: true };
      }
      const neu = PANIC_NEW.exec(text);
      if (neu) {
        const start: RecordStart = {
          kind: 'panic',
          level: 'error',
          message: '',
          location: loc(neu[2], neu[3], neu[4]),
        };
        return { start, chain: true, expectMessage: true };
      }
      const open = PANIC_OPEN.exec(text);
      if (open)
        return { start: { kind: 'panic', level: 'error', message: open[2] as string }, chain: true, openQuote: true };
    }
  } else if (c0 === 0x6d /* m */) {
    if (ALLOC_FAILED.test(text)) return { start: { kind: 'panic', level: 'error', message: text }, chain: true };
  } else if (c0 === 0x45 /* E */) {
    if (text.startsWith('Error: ')) {
      const m = EXEC_STATUS.exec(text);
      if (m) return { start: execStatus(Number(m[1]), text), chain: false };
      const start = withCause({ kind: 'eprintln', level: 'error', message: '' }, text);
      if (!start.errno) {
        const errno = osErrno(text);
        if (errno) start.errno = errno;
      }
      return { start, chain: true };
    }
  } else if (c0 === 0x57 /* W */) {
    if (text.startsWith('Warnning: ') || text.startsWith('Warning: '))
      return { start: { kind: 'eprintln', level: 'warn', message: text }, chain: false };
  } else if (c0 === 0x46 /* F */) {
    // glibc refusing to start on Occlum's (old) uname: the host's glibc was copied into the image.
    if (text.startsWith('FATAL: kernel too old'))
      return { start: { kind: 'eprintln', level: 'error', message: text }, chain: false };
  } else if (c0 === 0x73 /* s */) {
    // occlum_exec_client (`occlum start`): `start server failed …` (`start_server` up to 0.29).
    if (EXEC_CLIENT_FAILED.test(text))
      return {
        start: { kind: 'eprintln', level: 'error', component: 'occlum_exec_client', message: text },
        chain: false,
      };
  } else if (c0 === 0x55 /* U */) {
    if (text.startsWith('Uses can disable Occlum Log'))
      return { start: { kind: 'eprintln', level: 'warn', message: text }, chain: false };
  }
  if (c0 >= 0x41 && c0 <= 0x57 && text.includes('] occlum')) {
    const l = PAL_LOST_BRACKET.exec(text);
    if (l) return pal(l);
  }
  if (LIBOS_EPRINTLN.test(text)) {
    const start = withCause({ kind: 'eprintln', level: 'error', message: '' }, text);
    const errno = start.errno ? undefined : osErrno(text);
    if (errno) start.errno = errno;
    return { start, chain: true };
  }
  if (text.length < 48 && c0 >= 0x41 && c0 <= 0x5a) {
    const b = BARE_CRASH.exec(text);
    if (b) {
      const [signal, signalName] = SIGNALS[b[1] as string] as [number, string];
      const exit = { signal, signalName, status: 128 + signal, coreDumped: Boolean(b[2]) };
      return { start: { kind: 'crash', level: 'error', message: text, exit }, chain: false };
    }
  }
  if (text.includes(': line ')) {
    const r = classifyCrash(text);
    if (r) return r;
  }
  // Any other line carrying the LibOS error display (`ENOENT (#2, …)` + `[line = …, file = …]`)
  // comes from the LibOS, not from the program.
  if (text.endsWith(']') && text.includes('(#')) {
    const c = analyseMessage(text);
    if (c.errno && c.location) return { start: { kind: 'eprintln', level: 'error', ...c }, chain: true };
  }
  if (text.endsWith(')') && text.includes('(line ')) {
    const inside = text.includes('] occlum') ? PAL_INSIDE.exec(text) : null;
    if (inside) return pal(inside);
    const p = PAL_BARE.exec(text);
    if (p) return palBare(p);
  }
  if (PANIC_TAIL.test(text)) {
    const cut = THREAD_CUT.exec(text);
    const r = classifyLine(cut ? `thread '${text.slice(cut[0].length)}` : `thread '${text}`);
    if (r.start.kind === 'panic') return r;
  }
  return { start: { kind: 'raw', level: null, message: text }, chain: false };
}

function classifyBracketed(text: string, colored: boolean): Classified | undefined {
  const c1 = text.charCodeAt(1);
  if (c1 >= 0x30 && c1 <= 0x39) {
    // A digit: a LibOS timestamp or an env_logger timestamp.
    const m = LIBOS.exec(text);
    if (m) return libos(m);
    const e = ENV_LOGGER.exec(text);
    // A multi-line message (copy_bom prints ldd's output) goes on on indented lines.
    if (e)
      return {
        start: { kind: 'env-logger', level: LEVEL_OF[e[2]], time: e[1], module: e[3], message: e[4] },
        chain: true,
      };
    const t = LIBOS_NO_THREAD.exec(text);
    if (t) {
      const start: RecordStart = { kind: 'libos', level: LEVEL_OF[t[2]], time: intern('time', t[1]), message: '' };
      withCause(start, t[3]);
      return { start, chain: start.errno !== undefined };
    }
    return undefined;
  }
  if (text.startsWith('[T', 7) || text.startsWith('[T', 6)) {
    const m = LIBOS.exec(text);
    if (m) return libos(m);
  }
  const p = PAL.exec(text);
  if (p) return pal(p);
  const u = SGX_URTS.exec(text);
  if (u) {
    const message = (u[4] as string).trim();
    const start: RecordStart = {
      kind: 'pal',
      level: 'error',
      component: 'sgx-psw',
      message,
      location: { file: u[2] as string, line: Number(u[3]) },
    };
    return { start, chain: message === '', expectMessage: message === '' };
  }
  const f = LIBOS_FROM_SYSCALL.exec(text);
  if (f) {
    const start: RecordStart = { kind: 'libos', level: 'error', syscall: f[1], message: '' };
    if (f[2] !== undefined) start.module = f[2];
    withCause(start, f[3] as string);
    return { start, chain: true };
  }
  const e = LIBOS_EARLY.exec(text);
  // Without the pid, `[ERROR] msg` is also what programs print: only a coloured one is the LibOS's.
  if (e && (e[2] !== undefined || colored)) {
    const start: RecordStart = { kind: 'libos', level: LEVEL_OF[(e[1] as string).trim()], message: '' };
    if (e[2] !== undefined) start.thread = Number(e[2]);
    // 0.8–0.10 logged the boot failure (`error!`) where later versions print it bare.
    const msg = e[3] as string;
    if (msg.startsWith(BOOT_FAILURE)) {
      start.kind = 'boot-failure';
      withCause(start, msg.slice(BOOT_FAILURE.length));
      return { start, chain: true };
    }
    withCause(start, msg);
    return { start, chain: start.errno !== undefined };
  }
  return undefined;
}

// Consecutive lines mostly repeat the timestamp, syscall and module: reusing the previous equal
// string lets records in the ring buffer share it instead of each holding its own copy.
const shared = { time: '', syscall: '', module: '' };
function intern(key: keyof typeof shared, v: string): string {
  if (v === shared[key]) return shared[key];
  shared[key] = v;
  return v;
}

function libos(m: RegExpExecArray): Classified {
  const start: RecordStart = { kind: 'libos', level: LEVEL_OF[m[2]], message: '' };
  if (m[1] !== undefined) start.time = intern('time', m[1]);
  start.thread = Number(m[3]);
  if (m[4] !== undefined) start.round = Number(m[4]);
  if (m[5] !== undefined) start.syscall = intern('syscall', m[5]);
  if (m[6] !== undefined) start.module = intern('module', m[6]);
  withCause(start, m[7]);
  // Only error displays are followed by `Caused by` lines; other lines finalise at once.
  return { start, chain: start.errno !== undefined };
}

function pal(p: RegExpExecArray): Classified {
  // Some PAL messages start with a tab (`\tSIGILL Caught !`).
  let msg = (p[3] as string).trimStart();
  const start: RecordStart = { kind: 'pal', level: LEVEL_OF[p[1]], component: p[2], message: msg };
  const l = PAL_LOCATION.exec(msg);
  if (l) {
    msg = msg.slice(0, l.index);
    start.message = msg;
    start.location = { file: l[2], line: Number(l[1]) };
    return palDetails(start, msg);
  }
  // A format ending in "\n" (`Invalid launch token read from "…".\n`) puts the location on
  // the next line: ` (line 112, file src/pal_enclave.c)`.
  const c = palDetails(start, msg);
  if (start.component?.startsWith('occlum')) c.chain = true;
  return c;
}

/** The location of a PAL line that went out on a line of its own. */
export const PAL_LOCATION_LINE = /^\s*\(line (\d+), file ([^)]+)\)$/;

function palBare(p: RegExpExecArray): Classified {
  const level: Level = p[1] && p[1].toLowerCase().startsWith('warn') ? 'warn' : 'error';
  const msg = (p[3] as string).trimStart();
  const start: RecordStart = { kind: 'pal', level, message: msg, location: { file: p[5], line: Number(p[4]) } };
  if (p[2]) start.component = p[2];
  return palDetails(start, msg);
}

// pal_api.c: the init process's exit status, 128 + the signal when a signal killed it.
const INIT_EXIT = /^The init process exit with code: (\d+)/;
const SIGNAL_NAME = new Map(Object.values(SIGNALS).map(([n, name]) => [n, name]));

function palDetails(start: RecordStart, msg: string): Classified {
  const exit = INIT_EXIT.exec(msg);
  if (exit) {
    const status = Number(exit[1]);
    start.exit = { status };
    if (status > 128 && status <= 128 + 64) {
      start.exit.signal = status - 128;
      const name = SIGNAL_NAME.get(status - 128);
      if (name) start.exit.signalName = name;
    }
  }
  const sgx = SGX_CODE.exec(msg);
  if (sgx) start.sgx = { code: parseInt(sgx[1], 16), text: (sgx[2] ?? '').trim() };
  const errno = findErrnoName(sgx ? msg.slice(0, sgx.index) : msg);
  if (errno) start.errno = errno;
  return { start, chain: false };
}

// An interactive shell reports a dead foreground job without script and line.
const BARE_CRASH = new RegExp(
  `^(${Object.keys(SIGNALS)
    .map((k) => k.replace('/', '\\/'))
    .join('|')})(?: \\((core dumped)\\))?$`,
);

function classifyCrash(text: string): Classified | undefined {
  const m = CRASH.exec(text);
  if (!m) return undefined;
  const sig = SIGNALS[m[4]];
  if (!sig) return undefined;
  const start: RecordStart = {
    kind: 'crash',
    level: 'error',
    message: `${m[4]}${m[5] ? ' (core dumped)' : ''}${m[6] ? ` ${m[6]}` : ''}`,
    location: { file: m[1], line: Number(m[2]) },
    exit: { pid: Number(m[3]), signal: sig[0], signalName: sig[1], status: 128 + sig[0], coreDumped: Boolean(m[5]) },
  };
  return { start, chain: false };
}

/** `Error: <raw wait status>` of occlum_exec_client; -1 is its "server failed to start". */
function execStatus(raw: number, text: string): RecordStart {
  const exit: NonNullable<LogRecord['exit']> = {};
  if (raw >= 0) {
    const sig = raw & 0x7f;
    if (sig === 0) exit.status = (raw >> 8) & 0xff;
    else exit.signal = sig;
  } else exit.status = raw;
  return { kind: 'exec-status', level: 'error', message: text.slice(7), exit };
}

/** Rust's Debug of an io::Error: `Os { code: 2, kind: NotFound, … }`. */
function osErrno(text: string): Errno | undefined {
  const os = /\bOs \{ code: (\d+),/.exec(text);
  return os ? errnoFromNumber(Number(os[1])) : undefined;
}

function errnoFromNumber(n: number): Errno | undefined {
  const name = errnoName(n);
  if (!name) return undefined;
  const description = errnoDescription(n);
  return description ? { name, number: n, description } : { name, number: n };
}

function loc(file: string, line: string, column: string): SourceLocation {
  return { file, line: Number(line), column: Number(column) };
}

/** Parses a `Caused by …` continuation (without the prefix). */
export function parseCause(rest: string): Cause {
  return analyseMessage(rest);
}
