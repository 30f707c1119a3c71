// Runs the settings' prebuild command (`sh -c`, in the instance dir) and streams its output lines.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { StringDecoder } from 'node:string_decoder';

/** Longest line kept whole (a pane row shows far less); a longer one is passed on in pieces. */
export const MAX_LINE = 64 << 10;

export interface PrebuildResult {
  /** Exit status, or 128+n when killed by signal n (shell convention). */
  status: number;
  signal: NodeJS.Signals | null;
}

export function runPrebuild(
  command: string,
  cwd: string,
  onLine: (line: string) => void,
  signal: AbortSignal,
): Promise<PrebuildResult> {
  return new Promise((resolve, reject) => {
    // Its own process group, so cancelling also ends what `make` started.
    const child = spawn('sh', ['-c', command], { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    };
    signal.addEventListener('abort', kill, { once: true });
    const splitter = () => {
      let rest = '';
      const utf8 = new StringDecoder('utf8'); // a character split between two chunks stays whole
      return {
        push(chunk: Buffer) {
          const text = rest + utf8.write(chunk);
          const parts = text.split(/\r?\n/);
          rest = parts.pop() ?? '';
          for (const p of parts) onLine(p);
          // Output without line breaks (a progress bar redrawn with CR for an hour, a binary file
          // dumped to stdout) would grow one line without end and be re-split at every chunk.
          if (rest.length > MAX_LINE) {
            const cr = rest.lastIndexOf('\r');
            if (cr >= 0 && rest.length - cr <= MAX_LINE) rest = rest.slice(cr);
            else {
              onLine(rest);
              rest = '';
            }
          }
        },
        end() {
          if (rest !== '') onLine(rest);
          rest = '';
        },
      };
    };
    const out = splitter();
    const err = splitter();
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => {
      signal.removeEventListener('abort', kill);
      reject(e);
    });
    child.on('close', (code, sig) => {
      signal.removeEventListener('abort', kill);
      out.end();
      err.end();
      const signum = sig ? (constants.signals[sig] ?? 0) : 0;
      resolve({ status: code ?? 128 + signum, signal: sig });
    });
  });
}
