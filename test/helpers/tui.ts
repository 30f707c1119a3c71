// Drives the built studio binary in a real pseudo-terminal (node-pty) and reads the screen
// through a headless xterm, as a user would see it.
import pty from 'node-pty';
import xtermHeadless from '@xterm/headless';
import { CLI } from './paths.ts';
import { ensureBuilt } from './cli.ts';

const { Terminal } = xtermHeadless;

export interface Tui {
  /** The visible screen as text lines (trailing spaces trimmed). */
  screen(): string;
  /** Every byte the program wrote so far, escape sequences included. */
  raw(): string;
  /** Waits until the screen contains the text (or matches the regex); throws with the screen on timeout. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Waits until the studio has written nothing for `quietMs` (a frame is complete), then for xterm to catch up. */
  waitForQuiet(quietMs?: number, timeoutMs?: number): Promise<void>;
  /** Waits until the text is no longer on screen. */
  waitForGone(text: string | RegExp, timeoutMs?: number): Promise<void>;
  type(keys: string): void;
  /** Resizes the pseudo-terminal (the studio gets SIGWINCH) and the screen reader. */
  resize(cols: number, rows: number): void;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number>;
  kill(): void;
  /** The studio's process id. */
  pid: number;
  /** Sends a signal to the studio process itself (SIGTERM, SIGHUP…). */
  signal(sig: NodeJS.Signals): void;
}

export const KEY = {
  enter: '\r',
  escape: '\x1b',
  tab: '\t',
  up: '\x1b[A',
  down: '\x1b[B',
  right: '\x1b[C',
  left: '\x1b[D',
  backspace: '\x7f',
  ctrlS: '\x13',
  ctrlC: '\x03',
} as const;

/** `bin`: an installed `occlum-studio` to drive instead of this checkout's build. */
export function startTui(
  args: string[],
  opts: { cwd?: string; cols?: number; rows?: number; env?: Record<string, string>; bin?: string } = {},
): Tui {
  if (!opts.bin) ensureBuilt();
  const cols = opts.cols ?? 120;
  const rows = opts.rows ?? 36;
  const term = new Terminal({ cols, rows, allowProposedApi: true });
  const proc = pty.spawn(opts.bin ?? process.execPath, opts.bin ? args : [CLI, ...args], {
    cols,
    rows,
    cwd: opts.cwd ?? process.cwd(),
    name: 'xterm-256color',
    // Ink renders only the final frame when it believes it runs in CI.
    // (last, so an env passed by a test that copied process.env under CI=true cannot undo it).
    env: {
      ...process.env,
      TERM: 'xterm-256color',
      ...opts.env,
      CI: 'false',
      CONTINUOUS_INTEGRATION: 'false',
    } as Record<string, string>,
  });
  let rawOut = '';
  let lastDataAt = Date.now();
  proc.onData((d) => {
    rawOut += d;
    lastDataAt = Date.now();
    term.write(d);
  });
  let alive = true;
  // node-pty can report the exit before the last output has been read, and xterm parses writes
  // asynchronously: resolve once the output has been quiet for a moment and xterm has caught up,
  // so a program's final screen (an error it printed on its way out) is on screen().
  const exited = new Promise<number>((resolve) =>
    proc.onExit(({ exitCode }) => {
      alive = false;
      const settle = (since: number) => {
        if (Date.now() - lastDataAt < 50 && Date.now() - since < 1000) return void setTimeout(() => settle(since), 20);
        term.write('', () => resolve(exitCode));
      };
      settle(Date.now());
    }),
  );

  const screen = () => {
    const buf = term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < term.rows; i++) lines.push(buf.getLine(buf.viewportY + i)?.translateToString(true) ?? '');
    return lines.join('\n');
  };
  const matches = (t: string | RegExp) => (typeof t === 'string' ? screen().includes(t) : t.test(screen()));
  const poll = (cond: () => boolean, what: string, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const start = Date.now();
      const tick = () => {
        // xterm parses writes asynchronously; a zero-length write callback flushes them.
        term.write('', () => {
          if (cond()) return resolve();
          if (Date.now() - start > timeoutMs || !alive) {
            return reject(new Error(`${what}\n--- screen ---\n${screen()}\n--------------`));
          }
          setTimeout(tick, 25);
        });
      };
      tick();
    });

  return {
    screen,
    raw: () => rawOut,
    waitFor: (t, timeoutMs = 15_000) => poll(() => matches(t), `timed out waiting for ${String(t)}`, timeoutMs),
    waitForQuiet: (quietMs = 250, timeoutMs = 15_000) =>
      poll(() => Date.now() - lastDataAt >= quietMs, `timed out waiting for ${quietMs} ms without output`, timeoutMs),
    waitForGone: (t, timeoutMs = 15_000) =>
      poll(() => !matches(t), `timed out waiting for ${String(t)} to go`, timeoutMs),
    type: (keys) => proc.write(keys),
    resize: (c, r) => {
      term.resize(c, r);
      if (alive) proc.resize(c, r);
    },
    exited,
    kill: () => {
      if (alive) proc.kill('SIGKILL');
    },
    pid: proc.pid,
    signal: (sig) => {
      if (alive) process.kill(proc.pid, sig);
    },
  };
}

/** A left click (press and release, xterm SGR reports) at a 1-based cell. */
export function click(tui: Tui, column: number, row: number): void {
  tui.type(`\x1b[<0;${column};${row}M\x1b[<0;${column};${row}m`);
}

/** Clicks the first cell of the first on-screen occurrence of `text` below the tab bar. */
export function clickOn(tui: Tui, text: string): void {
  const lines = tui.screen().split('\n');
  const row = lines.findIndex((l, i) => i > 0 && l.includes(text));
  if (row < 0) throw new Error(`"${text}" is not on screen:\n${tui.screen()}`);
  click(tui, lines[row]!.indexOf(text) + 1, row + 1);
}

/** Opens the Run pane (nothing running yet) and runs `line` (a program path and its arguments) from its picker. */
export async function runFromPane(tui: Tui, line: string): Promise<void> {
  tui.type('3');
  await tui.waitFor('Nothing is running.');
  tui.type('r');
  await tui.waitFor('Run a program');
  tui.type(line);
  tui.type(KEY.enter);
}
