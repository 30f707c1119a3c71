// Ink's (input, key) pair → one canonical key name, so the keymap can match and print keys alike.
import type { Key } from 'ink';

export function keyName(input: string, key: Key): string {
  if (key.upArrow) return 'up';
  if (key.downArrow) return 'down';
  if (key.leftArrow) return 'left';
  if (key.rightArrow) return 'right';
  if (key.pageUp) return 'pageup';
  if (key.pageDown) return 'pagedown';
  if (key.home) return 'home';
  if (key.end) return 'end';
  if (key.return) return 'enter';
  if (key.escape) return 'escape';
  if (key.tab) return key.shift ? 'shift+tab' : 'tab';
  // Ink 6.8 reports the Backspace key (0x7f) as `delete`.
  if (key.backspace || key.delete) return 'backspace';
  if (key.ctrl && input) return `ctrl+${input.toLowerCase()}`;
  if (key.meta && input) return `alt+${input}`;
  return input;
}

// Ink calls every useInput listener synchronously for one key press (each with its own Key
// object). A widget that owns the keyboard (a text field, the palette) marks the press consumed so
// the shell's dispatcher, which may run after it, does not act on the same press once the widget
// has closed itself. The mark lasts until the listeners of this press have all run.
let consumedNow = false;

export function consumeKey(): void {
  if (consumedNow) return;
  consumedNow = true;
  queueMicrotask(() => {
    consumedNow = false;
  });
}

export function isConsumed(): boolean {
  return consumedNow;
}
