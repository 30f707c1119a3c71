// The occlum-studio checkout/package this code runs from (works from src/ under tsx and from the
// bundled dist/cli.js): the nearest ancestor with occlum-studio's package.json.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | null | undefined;

export function projectRoot(): string | null {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'occlum-studio') return (cached = dir);
      } catch {
        /* unreadable package.json: keep looking */
      }
    }
    const up = dirname(dir);
    if (up === dir) return (cached = null);
    dir = up;
  }
}
