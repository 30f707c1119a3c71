// `occlum-studio watch --json …` through the built CLI, its NDJSON events collected as they arrive.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { ensureBuilt } from './cli.ts';
import { CLI } from './paths.ts';

export interface WatchJson {
  child: ChildProcessByStdio<null, Readable, Readable>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- NDJSON events of several shapes
  events: Record<string, any>[];
  /** The exit code (-1 for a signal). */
  exited: Promise<number>;
  stderr: () => string;
}

/** Starts `watch ARGS` (ARGS include `--json`); `onEvents` is called after each chunk of events. */
export function watchJson(args: string[], onEvents: (events: WatchJson['events']) => void = () => {}): WatchJson {
  ensureBuilt();
  const child = spawn(process.execPath, [CLI, 'watch', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: WatchJson['events'] = [];
  let buf = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    const lines = (buf + c.toString()).split('\n');
    buf = lines.pop()!;
    for (const l of lines) if (l.trim()) events.push(JSON.parse(l));
    onEvents(events);
  });
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number>((r) => child.on('exit', (code) => r(code ?? -1)));
  return { child, events, exited, stderr: () => stderr };
}
