// One Occlum.json diagnostic in the compiler style `check` prints, so that `build`, the dev loop
// and `check` show the same problem in the same words.
import type { Diagnostic } from './types.ts';

/** `file:line:col: severity: message [code]`, then the fix's title when there is one. */
export function formatDiagnostic(file: string, d: Diagnostic): string[] {
  const lines = [`${file}:${d.line}:${d.column}: ${d.severity}: ${d.message}${d.code ? ` [${d.code}]` : ''}`];
  if (d.fix) lines.push(`    fix available: ${d.fix.title}`);
  return lines;
}
