// The process checks the `occlum` script itself uses to decide whether an instance is busy
// (spec 1.2, 4.1): `pgrep -f "<instance>/build/bin/occlum-run"` for `occlum run`, and
// `pgrep --full "build/bin/occlum_exec_server -d <instance>"` for a started server.
// pgrep -f matches against the command line with arguments joined by spaces; we read
// /proc/<pid>/cmdline the same way (no regex escaping pitfalls with odd instance paths) and try
// both the path as given and its physical path, since the server gets the physical cwd while
// the script uses `pwd` (the CLI can miss a server under a symlinked path; we do not).
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';

export interface ProcessMatch {
  pid: number;
  cmdline: string;
}

/** Every process whose space-joined command line contains one of the patterns (not this process). */
export function findProcesses(patterns: string[]): ProcessMatch[] {
  const out: ProcessMatch[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return out; // no procfs: nothing can be checked
  }
  for (const p of pids) {
    const pid = Number(p);
    if (pid === process.pid) continue;
    let raw: string;
    try {
      raw = readFileSync(`/proc/${p}/cmdline`, 'utf8');
    } catch {
      continue; // exited while we looked, or not ours to read
    }
    if (!raw) continue; // kernel threads and zombies have no command line
    const cmdline = raw.replace(/\0+$/, '').split('\0').join(' ');
    if (patterns.some((pat) => cmdline.includes(pat))) out.push({ pid, cmdline });
  }
  return out;
}

/** The instance path as the script sees it (`pwd`) and its physical path, deduplicated. */
export function instancePathVariants(dir: string): string[] {
  const given = resolve(dir);
  let real = given;
  try {
    real = realpathSync(given);
  } catch {
    /* missing dir: only the given path */
  }
  return [...new Set([given, real])];
}

const runPatterns = (dir: string) => instancePathVariants(dir).map((d) => `${d}/build/bin/occlum-run`);
const serverPatterns = (dir: string) => instancePathVariants(dir).map((d) => `build/bin/occlum_exec_server -d ${d}`);

/** Live `occlum run` processes of the instance (its build/bin/occlum-run). */
export function findRunProcesses(dir: string): ProcessMatch[] {
  return findProcesses(runPatterns(dir));
}

/** The instance's started exec server(s). */
export function findServerProcesses(dir: string): ProcessMatch[] {
  return findProcesses(serverPatterns(dir));
}

/** Both from one pass over /proc: the status bar asks every second (a pass reads every process's cmdline). */
export function findInstanceProcesses(dir: string): { run: ProcessMatch[]; server: ProcessMatch[] } {
  const run = runPatterns(dir);
  const server = serverPatterns(dir);
  const all = findProcesses([...run, ...server]);
  return {
    run: all.filter((p) => run.some((pat) => p.cmdline.includes(pat))),
    server: all.filter((p) => server.some((pat) => p.cmdline.includes(pat))),
  };
}

/** Whether a pid still exists (EPERM means it exists but is not ours). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
