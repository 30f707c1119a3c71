// A one-line text field: printable keys insert, backspace/left/right/home/end edit, enter
// submits, escape cancels. While mounted with `active`, it owns the keyboard. Its text is shown
// through sanitizeForTerminal.
import React, { useRef, useState } from 'react';
import { Text, useInput } from 'ink';
import { consumeKey, keyName } from '../keys.ts';
import { sanitizeForTerminal } from '../../src/core/text/sanitize.ts';

export interface LineEditorProps {
  initial?: string;
  prompt?: string;
  active?: boolean;
  onSubmit(value: string): void;
  onCancel(): void;
  onChange?(value: string): void;
  /** Tab: the line to put in place of the current one (completion), or undefined to ignore it. */
  onTab?(value: string): string | undefined;
}

export function LineEditor({
  initial = '',
  prompt = '',
  active = true,
  onSubmit,
  onCancel,
  onChange,
  onTab,
}: LineEditorProps) {
  const [value, setValueState] = useState(initial);
  const [cursor, setCursorState] = useState(initial.length);
  // Keys can arrive faster than React re-renders (a fast typist, a pty test): read and write the
  // latest value through a ref so that a key never sees a stale value (e.g. enter dropping the
  // last typed character).
  const latest = useRef({ value: initial, cursor: initial.length });
  const setValue = (v: string) => {
    latest.current.value = v;
    setValueState(v);
  };
  const setCursor = (c: number) => {
    latest.current.cursor = c;
    setCursorState(c);
  };

  const update = (v: string, c: number) => {
    setValue(v);
    setCursor(c);
    onChange?.(v);
  };

  useInput(
    (input, key) => {
      consumeKey(); // the shell must not also dispatch this press (views/keys.ts)
      const { value, cursor } = latest.current;
      const k = keyName(input, key);
      if (k === 'enter') return onSubmit(value);
      if (k === 'escape') return onCancel();
      if (k === 'backspace') {
        if (cursor > 0) update(value.slice(0, cursor - 1) + value.slice(cursor), cursor - 1);
        return;
      }
      if (k === 'left') return setCursor(Math.max(0, cursor - 1));
      if (k === 'right') return setCursor(Math.min(value.length, cursor + 1));
      if (k === 'home' || k === 'ctrl+a') return setCursor(0);
      if (k === 'end' || k === 'ctrl+e') return setCursor(value.length);
      if (k === 'ctrl+u') return update(value.slice(cursor), 0);
      if (k === 'tab' && onTab) {
        // Replaced here, through `latest`, so keys typed right after tab edit the completed line.
        const line = onTab(value);
        if (line !== undefined) update(line, line.length);
        return;
      }
      if (key.ctrl || key.meta || key.tab || key.upArrow || key.downArrow || key.pageUp || key.pageDown) return;
      if (!input) return;
      // A paste (or fast typing, or a loaded machine) can deliver several keys in one chunk:
      // text, a tab (completion), the editing keys (ctrl+u, ctrl+a, ctrl+e, backspace) and a
      // newline; each takes effect in order, and the newline submits.
      let next = value;
      let at = cursor;
      for (const part of input.split(/([\t\r\n\x15\x01\x05\x7f\x08])/)) {
        if (part === '\r' || part === '\n') {
          update(next, at);
          return onSubmit(next);
        }
        if (part === '\x15') [next, at] = [next.slice(at), 0];
        else if (part === '\x01') at = 0;
        else if (part === '\x05') at = next.length;
        else if (part === '\x7f' || part === '\x08') {
          if (at > 0) [next, at] = [next.slice(0, at - 1) + next.slice(at), at - 1];
        } else {
          const line = part === '\t' ? onTab?.(next) : undefined;
          if (line !== undefined) [next, at] = [line, line.length];
          else if (part !== '\t' || !onTab) [next, at] = [next.slice(0, at) + part + next.slice(at), at + part.length];
        }
      }
      update(next, at);
    },
    { isActive: active },
  );

  // The text may hold controls (a hostile config value being edited, a paste): shown escaped.
  const before = sanitizeForTerminal(value.slice(0, cursor));
  const at = sanitizeForTerminal(value[cursor] ?? ' ');
  const after = sanitizeForTerminal(value.slice(cursor + 1));
  return (
    <Text>
      {prompt}
      {before}
      <Text inverse>{at}</Text>
      {after}
    </Text>
  );
}
