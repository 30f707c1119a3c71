// One hint line: an optional title, then `key label` pairs that shorten by priority to fit the
// width (views/hint-line.ts), `? all keys` last unless the keys go elsewhere (a text field, a
// program). Never wraps, never cut in the middle of a key.
import React from 'react';
import { Text } from 'ink';
import { cutTitle, fitHints, HELP_HINT, hintsText, SEPARATOR, type Hint } from '../hint-line.ts';
import { theme } from '../theme.ts';

export interface HintLineProps {
  hints: Hint[];
  width: number;
  /** Bold text in front (a list's title); cut only if the hints are already gone. */
  title?: string;
  /** Adds `? all keys` (priority 0): off where `?` would be typed into a field or a program. */
  help?: boolean;
  /** Colour of labels (default muted) and whether the line is drawn inverse (a mode banner). */
  color?: string;
  inverse?: boolean;
}

export function HintLine({ hints, width, title, help = true, color = theme.muted, inverse }: HintLineProps) {
  const all = help ? [...hints, HELP_HINT] : hints;
  const pad = inverse ? 1 : 0;
  const room = width - 2 * pad;
  const items = fitHints(all, room, title ? title.length + SEPARATOR.length : 0);
  // The hints left after shortening win over the title: it is cut to what remains.
  const text = hintsText(items);
  const lead = title ? cutTitle(title, room - text.length - (text ? SEPARATOR.length : 0)) : '';
  return (
    <Text wrap="truncate-end" inverse={inverse}>
      {pad ? ' ' : ''}
      {lead ? (
        <Text bold>
          {lead}
          {text ? SEPARATOR : ''}
        </Text>
      ) : null}
      {items.map((h, i) => (
        <Text key={`${h.key}:${i}`}>
          {i > 0 ? SEPARATOR : ''}
          {h.key ? <Text color={theme.key}>{h.key}</Text> : null}
          {h.key && h.label ? ' ' : ''}
          {h.label ? <Text color={color}>{h.label}</Text> : null}
        </Text>
      ))}
      {pad ? ' ' : ''}
    </Text>
  );
}
