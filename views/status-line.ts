// What the status bar says at a given width. The help hint has priority (`?` must stay reachable
// at any size), then a message; the instance part shortens first, in steps, instead of being cut.
import { basename } from 'node:path';
import { sanitizeForTerminal } from '../src/core/text/sanitize.ts';

export interface StatusFacts {
  dir: string | null;
  backend: 'host' | 'occlum';
  version: string | null;
  status: string | null;
}

const HINTS = [' ? help  : commands  q quit', ' ? help  q quit', ' ?'];

function instanceParts(f: StatusFacts): string[] {
  const name = f.dir ? sanitizeForTerminal(basename(f.dir)) : 'no instance';
  const long = f.backend === 'host' ? 'host backend (no enclave)' : 'occlum';
  const short = f.backend === 'host' ? 'host' : 'occlum';
  const status = f.status ?? 'no status';
  if (!f.dir) return [` ${name} │ ${long} `, ` ${name} │ ${short} `, ` ${name} `];
  return [
    ` ${name} │ ${long} │ Occlum ${f.version ?? '?'} │ ${status} `,
    ` ${name} │ ${short} │ ${f.version ?? '?'} │ ${status} `,
    ` ${name} │ ${status} `,
    ` ${name} `,
  ];
}

export function statusLine(f: StatusFacts, message: string | null, width: number): { left: string; right: string } {
  const lefts = instanceParts(f);
  if (message !== null) {
    const right = ` ${sanitizeForTerminal(message)}`;
    // A message is short-lived and may ask for a key: the instance part gives up detail for it.
    const left = lefts.find((l) => l.length + right.length <= width) ?? lefts.at(-1)!;
    return { left, right };
  }
  for (const right of HINTS) {
    const left = lefts.find((l) => l.length + right.length <= width);
    if (left) return { left, right };
  }
  return { left: lefts.at(-1)!.slice(0, Math.max(0, width - 2)), right: HINTS.at(-1)! };
}
