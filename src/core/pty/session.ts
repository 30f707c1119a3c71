// A program in a pseudo-terminal, mirrored into a headless xterm of the same size, so a view can
// show exactly what a real terminal would (colours, cursor moves, full-screen programs) as text
// snapshots. Pure Node: no Ink, no React.
import { StringDecoder } from 'node:string_decoder';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { Terminal as XTerm } from '@xterm/headless';
import { snapshotScreen, type ScreenSnapshot } from './screen.ts';
import { spawnWithPipes, type TerminalProcess } from './pipe-process.ts';
import { readLeftoverBeforeDestroy, streamFd } from './leftover.ts';
import { callJson, nativeStatus } from '../securefs/native.ts';
import { projectRoot } from '../detect/project-root.ts';

// node-pty (a native module) and @xterm/headless (CommonJS, large) load on the first session,
// not with the studio: neither is needed for its first frame.
const requireLazy = createRequire(import.meta.url);
let xterm: typeof XTerm | null = null;
let pty: { module: typeof import('node-pty') | null; problem: string | null; from: string | null } | null = null;

function terminalClass(): typeof XTerm {
  return (xterm ??= (requireLazy('@xterm/headless') as typeof import('@xterm/headless')).Terminal);
}

/**
 * node-pty, or null with the reason it cannot load (then sessions use pipes): the one npm
 * compiled at install, else the copy the package carries for linux-x64-gnu (native/node-pty,
 * scripts/ship-pty.mjs), since npm drops node-pty altogether where it cannot compile it.
 */
function ptyModule(): typeof import('node-pty') | null {
  if (!pty) {
    const problems: string[] = [];
    const root = projectRoot();
    for (const id of ['node-pty', ...(root ? [join(root, 'native', 'node-pty')] : [])]) {
      try {
        const module = requireLazy(id) as typeof import('node-pty');
        if (typeof module.spawn !== 'function') throw new Error('module has no spawn()');
        pty = { module, problem: null, from: requireLazy.resolve(id) };
        break;
      } catch (err) {
        problems.push((err as Error).message.split('\n')[0]!);
      }
    }
    pty ??= { module: null, problem: problems.join('; '), from: null };
  }
  return pty.module;
}

/** How to get node-pty where neither npm's build nor the package's copy loads. */
export const NODE_PTY_FIX =
  'apt-get install build-essential python3, then `npm install node-pty@1.1.0` in the occlum-studio package directory';

/** Where node-pty was loaded from, or why it cannot load (doctor). */
export function ptyStatus(): { ok: true; from: string } | { ok: false; problem: string } {
  return ptyModule() ? { ok: true, from: pty!.from! } : { ok: false, problem: pty!.problem! };
}

/** Why programs run with pipes instead of a terminal here, or null when node-pty loads. */
export function ptyUnavailable(): string | null {
  if (ptyModule()) return null;
  return (
    `node-pty cannot load (${pty!.problem}): programs run with pipes, not in a terminal ` +
    `(no window size, isatty() is false); fix: ${NODE_PTY_FIX}`
  );
}

/** What to run: the launcher (a backend) turns an entry point + args into this. */
export interface PtyCommand {
  file: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
}

export interface PtySize {
  cols: number;
  rows: number;
}

export interface PtyExit {
  /** The shell-style status: the exit code, or 128 + n when killed by signal n. */
  status: number;
  exitCode: number;
  /** Signal number that ended the process, if any. */
  signal: number | null;
}

export interface PtySessionOptions extends PtySize {
  /** Lines kept above the screen (default 5000). */
  scrollback?: number;
  /** Minimum interval between change notifications (default 16 ms, about 60 per second). */
  throttleMs?: number;
  /** TERM for the program (default xterm-256color). */
  term?: string;
}

export const DEFAULT_SCROLLBACK = 5000;
export const DEFAULT_THROTTLE_MS = 16;
const MIN_COLS = 2;
const MIN_ROWS = 1;

type Listener<T> = (value: T) => void;

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Why `file` cannot be executed from `cwd`, or null when it can. */
function findProblem(file: string, path: string, cwd: string): string | null {
  try {
    if (!statSync(cwd).isDirectory()) return `working directory ${cwd} is not a directory`;
  } catch {
    return `working directory ${cwd} does not exist`;
  }
  if (file.includes('/')) {
    const full = isAbsolute(file) ? file : resolve(cwd, file);
    try {
      statSync(full);
    } catch {
      return 'no such file';
    }
    return executable(full) ? null : 'not an executable file (check its permissions: chmod +x)';
  }
  const found = path.split(delimiter).some((dir) => dir && executable(join(dir, file)));
  return found ? null : 'not found on PATH';
}

/** Typed keys as a terminal echoes them: Enter as a new line, key sequences and controls dropped. */
function echoOf(keys: string): string {
  return keys
    .replace(/\x1b(\[[0-9;?]*[ -/]*[@-~]|O.)?/g, '')
    .replace(/\r/g, '\n')
    .replace(/[\x00-\x09\x0b-\x1f\x7f]/g, '')
    .replace(/\n/g, '\r\n');
}

/**
 * node-pty's stream closes before the kernel has handed over the end of a program's output when
 * the studio is busy (see leftover.ts): its destroy reads what is left first. It reaches into
 * node-pty's private stream; a version without one keeps node-pty's own behaviour.
 */
function keepOutputEnd(proc: TerminalProcess, onBytes: (bytes: Buffer) => void): void {
  const stream = (proc as { _socket?: { destroy?: unknown } })._socket;
  const fd = streamFd(stream) ?? (proc as { _fd?: number })._fd;
  if (typeof stream?.destroy !== 'function' || typeof fd !== 'number') return;
  readLeftoverBeforeDestroy(stream as { destroy: (...args: unknown[]) => unknown }, fd, onBytes);
}

/**
 * node-pty leaves the terminal's master descriptor inheritable: every child started later (another
 * tab's program, whatever its sandbox) would get it and could read and type into this terminal.
 * Marked close-on-exec through the addon (without it, the host sandbox's stager still keeps it
 * from the program).
 */
function keepMasterPrivate(proc: TerminalProcess): void {
  const fd = (proc as { _fd?: number })._fd;
  if (typeof fd !== 'number' || !nativeStatus().ok) return;
  try {
    callJson('cloexec', [String(fd)]);
  } catch {
    // An addon without the call (an older prebuilt one).
  }
}

function clampSize({ cols, rows }: PtySize): PtySize {
  return { cols: Math.max(MIN_COLS, Math.floor(cols)), rows: Math.max(MIN_ROWS, Math.floor(rows)) };
}

/**
 * A process started in a new pseudo-terminal before any session shows it: a sandbox prepared
 * ahead, which prints nothing until its go (docs/dev-loop.md, "Prepared sandbox"). What it prints
 * and its end are held until a session adopts it (`PtySession.adopt`), so none is lost between.
 */
export class PendingTerminal implements TerminalProcess {
  readonly pid: number;
  /** Resolves when the process has ended. */
  readonly exited: Promise<void>;
  private readonly proc: TerminalProcess;
  private held: Buffer[] = [];
  private ended: { exitCode: number; signal?: number } | null = null;
  private dataSink: ((data: Buffer) => void) | null = null;
  private exitSink: ((e: { exitCode: number; signal?: number }) => void) | null = null;

  /** Throws where node-pty cannot load (ptyUnavailable) or the spawn fails. */
  constructor(command: PtyCommand, size: PtySize, term = 'xterm-256color') {
    const nodePty = ptyModule();
    if (!nodePty) throw new Error(ptyUnavailable()!);
    const { cols, rows } = clampSize(size);
    const env = command.env ?? (process.env as Record<string, string>);
    this.proc = nodePty.spawn(command.file, command.args, {
      name: term,
      cols,
      rows,
      cwd: command.cwd ?? process.cwd(),
      env: { TERM: term, ...env },
      encoding: null,
    });
    this.pid = this.proc.pid;
    keepMasterPrivate(this.proc);
    const onBytes = (bytes: Buffer) => (this.dataSink ? this.dataSink(bytes) : this.held.push(bytes));
    this.proc.onData((d) => onBytes(d as Buffer));
    keepOutputEnd(this.proc, onBytes);
    this.exited = new Promise((resolve) =>
      this.proc.onExit((e) => {
        this.ended = e;
        this.exitSink?.(e);
        resolve();
      }),
    );
  }

  /** Still running (not ended). */
  get alive(): boolean {
    return this.ended === null;
  }

  /** What it printed so far while no session had it (e.g. why its set-up failed). */
  get heldOutput(): string {
    return Buffer.concat(this.held).toString('utf8');
  }

  write(data: string): void {
    this.proc.write(data);
  }

  resize(cols: number, rows: number): void {
    if (this.alive) this.proc.resize(cols, rows);
  }

  kill(signal?: string): void {
    if (this.alive) this.proc.kill(signal);
  }

  onData(listener: (data: Buffer) => void): void {
    for (const b of this.held) listener(b);
    this.held = [];
    this.dataSink = listener;
  }

  onExit(listener: (e: { exitCode: number; signal?: number }) => void): void {
    this.exitSink = listener;
    if (this.ended) listener(this.ended);
  }
}

export class PtySession {
  readonly command: PtyCommand;
  readonly pid: number;
  /** Resolves once the program has ended and all its output has reached the emulator. */
  readonly exited: Promise<PtyExit>;
  /** 'pipes' where node-pty cannot load: the program has no terminal (see ptyUnavailable). */
  readonly mode: 'pty' | 'pipes';
  private readonly proc: TerminalProcess;
  private readonly term: XTerm;
  private readonly throttleMs: number;
  private exitInfo: PtyExit | null = null;
  private cursorHidden = false;
  private title = '';
  private readonly changeListeners = new Set<Listener<void>>();
  private readonly dataListeners = new Set<Listener<string>>();
  private timer: NodeJS.Timeout | null = null;
  private lastNotify = 0;
  private disposed = false;
  private readonly decoder = new StringDecoder('utf8');

  private constructor(command: PtyCommand, opts: PtySessionOptions, pending?: PendingTerminal) {
    this.command = command;
    const size = clampSize(opts);
    this.throttleMs = opts.throttleMs ?? DEFAULT_THROTTLE_MS;
    const nodePty = ptyModule();
    this.mode = nodePty || pending ? 'pty' : 'pipes';
    this.term = new (terminalClass())({
      cols: size.cols,
      rows: size.rows,
      scrollback: opts.scrollback ?? DEFAULT_SCROLLBACK,
      allowProposedApi: true,
      // Without a pty no line discipline turns \n into \r\n.
      convertEol: this.mode === 'pipes',
    });
    // Track DECTCEM (show/hide cursor) ourselves: the public API does not expose it. Returning
    // false lets xterm handle the sequence as usual.
    this.term.parser.registerCsiHandler({ prefix: '?', final: 'l' }, (params) => {
      if (params.includes(25)) this.cursorHidden = true;
      return false;
    });
    this.term.parser.registerCsiHandler({ prefix: '?', final: 'h' }, (params) => {
      if (params.includes(25)) this.cursorHidden = false;
      return false;
    });
    this.term.onTitleChange((t) => (this.title = t));
    // Answers the program expects from a terminal (cursor position reports, device attributes).
    this.term.onData((reply) => {
      if (!this.exitInfo) this.proc.write(reply);
    });
    this.term.onWriteParsed(() => this.scheduleChange());

    const env = command.env ?? (process.env as Record<string, string>);
    const cwd = command.cwd ?? process.cwd();
    // node-pty reports a missing program only as "execvp(3) failed" on the screen with status 1;
    // say what is wrong before starting instead.
    const problem = pending ? null : findProblem(command.file, env.PATH ?? process.env.PATH ?? '', cwd);
    if (problem) {
      this.term.dispose();
      throw new Error(`cannot start ${command.file}: ${problem}`);
    }
    const termEnv = { TERM: opts.term ?? 'xterm-256color', ...env };
    try {
      // The size now, before the program (started at its go, after this) reads it.
      if (pending) pending.resize(size.cols, size.rows);
      this.proc = pending
        ? pending
        : nodePty
          ? nodePty.spawn(command.file, command.args, {
              name: opts.term ?? 'xterm-256color',
              cols: size.cols,
              rows: size.rows,
              cwd,
              env: termEnv,
              encoding: null,
            })
          : spawnWithPipes(command.file, command.args, { cwd, env: termEnv });
    } catch (err) {
      this.term.dispose();
      throw new Error(`could not start ${command.file}: ${(err as Error).message}`, { cause: err });
    }
    this.pid = this.proc.pid;
    if (nodePty && !pending) keepMasterPrivate(this.proc);
    const onBytes = (bytes: Buffer): void => {
      this.term.write(bytes);
      if (this.dataListeners.size === 0) return;
      const text = this.decoder.write(bytes);
      for (const l of this.dataListeners) l(text);
    };
    this.proc.onData((d) => onBytes(d as Buffer));
    if (nodePty && !pending) keepOutputEnd(this.proc, onBytes); // a pending one keeps its own
    this.exited = new Promise<PtyExit>((resolve) => {
      this.proc.onExit(({ exitCode, signal }) => {
        const sig = signal ? signal : null;
        const info: PtyExit = { status: sig ? 128 + sig : exitCode, exitCode, signal: sig };
        // Let the emulator parse everything written so far before anyone looks at the screen.
        this.term.write('', () => {
          this.exitInfo = info;
          this.notifyNow();
          resolve(info);
        });
      });
    });
  }

  /** Starts `command` in a new pseudo-terminal of the given size. Throws when it cannot start. */
  static spawn(command: PtyCommand, opts: PtySessionOptions): PtySession {
    return new PtySession(command, opts);
  }

  /** Shows a process started ahead in its own pseudo-terminal (resized to `opts` first). */
  static adopt(pending: PendingTerminal, command: PtyCommand, opts: PtySessionOptions): PtySession {
    return new PtySession(command, opts, pending);
  }

  get size(): PtySize {
    return { cols: this.term.cols, rows: this.term.rows };
  }

  /** Null while the program runs. */
  get exit(): PtyExit | null {
    return this.exitInfo;
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  /** Title set by the program (OSC 0/2), or ''. */
  get windowTitle(): string {
    return this.title;
  }

  /** True while a full-screen program (vi, less, top) uses the alternate screen. */
  get alternateScreen(): boolean {
    return this.term.buffer.active.type === 'alternate';
  }

  /** True when the program asked for application cursor keys (arrows send ESC O A …). */
  get applicationCursorKeys(): boolean {
    return this.term.modes.applicationCursorKeysMode;
  }

  get bracketedPaste(): boolean {
    return this.term.modes.bracketedPasteMode;
  }

  /** Sends keystrokes or text to the program. Ignored once it has ended. */
  write(data: string): void {
    if (this.exitInfo || this.disposed) return;
    this.proc.write(data);
    // No pty, no echo: show what was typed, as a terminal would.
    if (this.mode === 'pipes') this.term.write(echoOf(data));
  }

  /** Resizes the pty (the program gets SIGWINCH) and the emulator together. */
  resize(size: PtySize): void {
    const { cols, rows } = clampSize(size);
    if (cols === this.term.cols && rows === this.term.rows) return;
    this.term.resize(cols, rows);
    if (!this.exitInfo && !this.disposed) {
      try {
        this.proc.resize(cols, rows);
      } catch {
        // The process ended between the check and the call; its exit is reported separately.
      }
    }
    this.notifyNow();
  }

  /** The screen as SGR-coded lines. `offset` scrolls back that many lines into the history. */
  snapshot(opts: { offset?: number; paintCursor?: boolean } = {}): ScreenSnapshot {
    return snapshotScreen(this.term, { ...opts, cursorHidden: this.cursorHidden || this.exitInfo !== null });
  }

  /** Resolves when everything received so far has been parsed into the screen. */
  flush(): Promise<void> {
    return new Promise((resolve) => this.term.write('', resolve));
  }

  /**
   * Called after the screen changed, at most once per throttle interval (the last change is
   * always delivered). Returns an unsubscribe function.
   */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Raw output as it arrives (for logs and tests). */
  onData(listener: (data: string) => void): () => void {
    this.dataListeners.add(listener);
    return () => this.dataListeners.delete(listener);
  }

  /** Sends a signal (default SIGTERM) to the program. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.exitInfo || this.disposed) return;
    try {
      this.proc.kill(signal);
    } catch {
      // Already gone.
    }
  }

  /** Kills the program if it still runs and frees the emulator. */
  dispose(): void {
    if (this.disposed) return;
    this.kill('SIGKILL');
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.changeListeners.clear();
    this.dataListeners.clear();
    // Free the emulator only after the exit has been recorded (its handler writes to it).
    void this.exited.then(() => this.term.dispose());
  }

  private scheduleChange(): void {
    if (this.timer || this.disposed) return;
    const wait = this.lastNotify + this.throttleMs - Date.now();
    if (wait <= 0) this.notifyNow();
    else this.timer = setTimeout(() => this.notifyNow(), wait);
  }

  private notifyNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.lastNotify = Date.now();
    for (const l of this.changeListeners) l();
  }
}
