// The Run pane's fallback where node-pty cannot load (no prebuilt binary, no compiler): the
// program runs with plain pipes (stdin, and stdout + stderr merged) under the same headless
// terminal. It gets no terminal: no window size, no line editing, isatty() is false.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/** The part of node-pty's IPty a PtySession uses. */
export interface TerminalProcess {
  readonly pid: number;
  write(data: string): void;
  resize(cols: number, rows: number): void;
  kill(signal?: string): void;
  onData(listener: (data: Buffer | string) => void): void;
  onExit(listener: (e: { exitCode: number; signal?: number }) => void): void;
}

export interface PipeSpawnOptions {
  cwd: string;
  env: Record<string, string>;
}

/** How long output may trail the program's exit before its end is reported anyway. */
const EXIT_GRACE_MS = 300;

export function spawnWithPipes(file: string, args: string[], opts: PipeSpawnOptions): TerminalProcess {
  const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
  // A program that exits without reading its input must not turn a later write into a crash;
  // a failed spawn (checked by the caller beforehand) ends in 'close' like any exit.
  child.stdin.on('error', () => {});
  child.on('error', () => {});
  if (child.pid === undefined) throw new Error('the program could not be started');
  const pid = child.pid;
  return {
    pid,
    // What a terminal's line discipline would do with these keys: Enter ends a line, ctrl+C
    // interrupts, ctrl+D ends the input.
    write: (data) => {
      if (data.includes('\x03')) child.kill('SIGINT');
      if (!child.stdin.writable) return;
      const text = data.replace(/\x03/g, '').replace(/\r/g, '\n');
      const eof = text.indexOf('\x04');
      if (eof < 0) return void child.stdin.write(text);
      child.stdin.end(text.slice(0, eof));
    },
    resize: () => {},
    kill: (signal = 'SIGTERM') => {
      child.kill(signal as NodeJS.Signals);
    },
    onData: (listener) => {
      child.stdout.on('data', listener);
      child.stderr.on('data', listener);
    },
    onExit: (listener) => {
      // 'close' comes after both output streams ended: every byte is delivered before the exit.
      // A process the program left behind can hold the pipes open forever, though: a moment
      // after the program's own exit, its end is reported whatever still holds them.
      let reported = false;
      const report = (code: number | null, signal: NodeJS.Signals | null) => {
        if (reported) return;
        reported = true;
        listener({ exitCode: code ?? 0, signal: signal ? constants.signals[signal] : undefined });
      };
      child.on('close', report);
      child.on('exit', (code, signal) => {
        setTimeout(() => {
          if (reported) return;
          child.stdout.destroy();
          child.stderr.destroy();
          report(code, signal);
        }, EXIT_GRACE_MS).unref();
      });
    },
  };
}
