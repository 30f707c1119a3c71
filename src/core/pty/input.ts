// Keystrokes from the studio's terminal on their way to the program. The outer terminal always
// sends normal-mode cursor keys (ESC [ A); a program that switched on application cursor keys
// (vi, less, readline in some modes) expects ESC O A instead.

/** The key that leaves the program's terminal and gives the keys back to the studio: ctrl+]. */
export const LEAVE_KEY = '\x1d';
export const LEAVE_KEY_NAME = 'ctrl+]';

export function translateInput(raw: string, opts: { applicationCursorKeys: boolean }): string {
  if (!opts.applicationCursorKeys) return raw;
  return raw.replace(/\x1b\[([ABCDHF])/g, '\x1bO$1');
}
