// Every subcommand by name. Modules load lazily so that starting the TUI does not pay for them
// (time to first frame matters).
import type { Command } from './command.ts';

export type Loader = () => Promise<{ command: Command }>;

export const commands: Record<string, Loader> = {
  init: () => import('./init.ts'),
  new: () => import('./new.ts'),
  build: () => import('./build.ts'),
  run: () => import('./run.ts'),
  exec: () => import('./exec.ts'),
  start: () => import('./start.ts'),
  stop: () => import('./stop.ts'),
  status: () => import('./status.ts'),
  check: () => import('./check.ts'),
  schema: () => import('./schema.ts'),
  doctor: () => import('./doctor.ts'),
  logs: () => import('./logs.ts'),
  fs: () => import('./fs.ts'),
  watch: () => import('./watch.ts'),
  demo: () => import('./demo.ts'),
  size: () => import('./size.ts'),
  bom: () => import('./bom.ts'),
};

/**
 * What each command is for, in one line, for `--help`: in the order a newcomer meets them, in
 * Occlum's words where it has a command of its own. (Static: listing them loads no module.)
 */
export const ABOUT: Record<keyof typeof commands, string> = {
  demo: 'a hello-world instance, built and opened in the Run pane',
  new: 'a new directory holding an Occlum instance (occlum new)',
  init: 'make a directory an Occlum instance (occlum init)',
  bom: 'fill image/ from a bom file (copy_bom), or check one',
  check: 'validate Occlum.json against the Occlum version it targets',
  build: 'build the image (occlum build)',
  run: 'run a program of the image (occlum run)',
  start: 'start the instance as a server (occlum start), for exec',
  exec: 'run a program in the started server (occlum exec)',
  stop: 'stop the server and its programs (occlum stop)',
  status: 'initialized, built, running or serving',
  size: 'measure a program, recommend Occlum.json memory and thread sizes',
  watch: 'rebuild on every change and rerun',
  fs: 'the secure image offline: ls, cat, verify, extract, diff, pack',
  logs: 'parse and filter Occlum log output',
  doctor: 'what this machine offers, which backend can run',
  schema: 'the JSON Schema of Occlum.json, for editors',
};

export function isCommand(name: string): boolean {
  return Object.hasOwn(commands, name);
}

/** The usage line(s) alone, after a usage error. */
export function usageText(c: Command): string {
  return `usage: ${c.usage.replace(/^usage:\s*/, '')}\n(occlum-studio help ${c.name}: all options)`;
}

/** `usage` with one "usage: " in front, then the summary: what `CMD --help` and `help CMD` print. */
export function helpText(c: Command): string {
  return `usage: ${c.usage.replace(/^usage:\s*/, '')}\n\n${c.summary}`;
}
