// The exec server's stderr, captured because the studio launched `occlum start` itself: LibOS
// log lines of exec'd programs and, above all, launch errors of `occlum exec`, which Occlum
// prints only there (the exec client exits 1 without a word). Kept as a bounded list of lines
// with a running index so an exec can ask "what did the server say since I began?".
export class ServerLog {
  private lines: string[] = [];
  private first = 0; // index of lines[0] in the whole stream
  private partial = '';
  private waiters: (() => void)[] = [];
  ended = false;

  constructor(private readonly max = 5000) {}

  /** Position to pass to `since` later. */
  get mark(): number {
    return this.first + this.lines.length;
  }

  push(chunk: string): string[] {
    const text = this.partial + chunk;
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    const clean = parts.map((l) => l.replace(/\r$/, ''));
    this.lines.push(...clean);
    if (this.lines.length > this.max) {
      const drop = this.lines.length - this.max;
      this.lines.splice(0, drop);
      this.first += drop;
    }
    if (clean.length) for (const w of this.waiters.splice(0)) w();
    return clean;
  }

  end(): void {
    if (this.partial) this.push('\n');
    this.ended = true;
    for (const w of this.waiters.splice(0)) w();
  }

  since(mark: number): string[] {
    return this.lines.slice(Math.max(0, mark - this.first));
  }

  /** Resolves when a new line arrives, the stream ends, or after ms. */
  waitForLine(ms: number): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

/** Lines that report a failed launch inside the LibOS (spec 3.2 eprintln + PAL lines). */
export function launchErrorLines(lines: string[]): string[] {
  return lines
    .map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''))
    .filter((l) => /^(failed to boot up LibOS|failed to execute a process|invalid arguments for LibOS|\[ERROR\] occlum-pal:)/.test(l));
}

// One capture per instance and process: the server is per instance, and callers (the store)
// create a fresh backend object for each action, so the exec that needs the server's words is
// rarely made by the object that started it.
const captures = new Map<string, ServerLog>();

export function serverLogOf(instanceDir: string): ServerLog | null {
  return captures.get(instanceDir) ?? null;
}

export function setServerLog(instanceDir: string, log: ServerLog | null): void {
  if (log) captures.set(instanceDir, log);
  else captures.delete(instanceDir);
}
