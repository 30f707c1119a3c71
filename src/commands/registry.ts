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
