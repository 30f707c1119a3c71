// One line of a program's or prebuild's output as a row of plain text that keeps a pane's frame:
// what a terminal would leave visible (a carriage return rewinds, so progress output shows its
// last state), escape sequences dropped, tabs expanded to 8-column stops, anything else that
// could act on the terminal made visible by the sanitiser.
import { cleanLine } from '../logs/clean.ts';
import { sanitizeForTerminal } from './sanitize.ts';

export function displayLine(raw: string): string {
  const strip = (s: string) => (s.includes('\x1b') || s.includes('^[') ? cleanLine(s).text : s);
  let line = raw;
  if (line.includes('\r')) {
    // CRLF ends a line; a bare CR rewinds: later text overwrites earlier text column by column.
    const parts = line.replace(/\r+$/, '').split('\r').map(strip);
    line = parts.reduce((shown, part) => part + shown.slice(part.length), '');
  } else {
    line = strip(line);
  }
  if (line.includes('\t')) line = expandTabs(line);
  return sanitizeForTerminal(line);
}

function expandTabs(line: string): string {
  let out = '';
  for (const ch of line) out += ch === '\t' ? ' '.repeat(8 - (out.length % 8)) : ch;
  return out;
}
