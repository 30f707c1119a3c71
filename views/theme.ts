// Colours in one place; NO_COLOR (https://no-color.org) turns every colour off while keeping
// bold/inverse, which carry meaning without colour.
const noColor = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '';

function c(name: string): string | undefined {
  return noColor ? undefined : name;
}

export const theme = {
  noColor,
  accent: c('cyan'),
  muted: c('gray'),
  error: c('red'),
  warning: c('yellow'),
  info: c('blue'),
  ok: c('green'),
  key: c('magenta'),
} as const;

export function severityColor(sev: 'error' | 'warning' | 'info'): string | undefined {
  return sev === 'error' ? theme.error : sev === 'warning' ? theme.warning : theme.info;
}
