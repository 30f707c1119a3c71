// Mouse support: xterm's button-event reporting with SGR coordinates (1000 + 1006), read from
// the terminal before Ink sees the input, so no widget (a text field, a program the Run pane
// forwards keys to) ever receives a report as typed text. Reports become events; the rest of the
// input reaches Ink unchanged through a stream that stands in for stdin.
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';

export const MOUSE_ON = '\x1b[?1000h\x1b[?1006h';
export const MOUSE_OFF = '\x1b[?1006l\x1b[?1000l';

export type MouseKind = 'wheelup' | 'wheeldown' | 'press';

export interface MouseEvent {
  kind: MouseKind;
  /** 1-based column and row, as the terminal reports them. */
  x: number;
  y: number;
}

const REPORT = /\x1b\[<(\d+);(\d+);(\d+)([Mm])/g;
// A report cut by a chunk boundary: kept until the next chunk completes it.
const PARTIAL = /\x1b(\[(<[\d;]*)?)?$/;

export function parseReports(text: string): { rest: string; events: MouseEvent[] } {
  const events: MouseEvent[] = [];
  const rest = text.replace(REPORT, (_all, b: string, x: string, y: string, final: string) => {
    const button = Number(b);
    const at = { x: Number(x), y: Number(y) };
    if (button === 64) events.push({ kind: 'wheelup', ...at });
    else if (button === 65) events.push({ kind: 'wheeldown', ...at });
    else if (final === 'M' && (button & 3) === 0 && button < 32) events.push({ kind: 'press', ...at });
    return '';
  });
  return { rest, events };
}

/** Mouse events of the running studio. */
export const mouse = new EventEmitter<{ event: [MouseEvent] }>();

/**
 * A stdin for Ink that passes everything but mouse reports. Raw mode, ref and unref go to the
 * real terminal; `stop()` detaches it.
 */
export function mouseFilteredStdin(stdin: NodeJS.ReadStream): { input: NodeJS.ReadStream; stop(): void } {
  const input = new PassThrough({ encoding: 'utf8' }) as unknown as NodeJS.ReadStream & PassThrough;
  let held = '';
  const onData = (chunk: Buffer | string) => {
    const text = held + chunk.toString();
    const cut = PARTIAL.exec(text);
    // A lone ESC at the end is the escape key, not the start of a report: only hold `ESC [` and more.
    held = cut && cut[0].length > 1 ? cut[0] : '';
    const { rest, events } = parseReports(held ? text.slice(0, -held.length) : text);
    if (rest) input.write(rest);
    for (const e of events) mouse.emit('event', e);
  };
  Object.assign(input, {
    isTTY: true,
    setRawMode: (mode: boolean) => {
      stdin.setRawMode(mode);
      return input;
    },
    ref: () => {
      stdin.ref();
      return input;
    },
    unref: () => {
      stdin.unref();
      return input;
    },
  });
  stdin.on('data', onData);
  return {
    input,
    stop: () => {
      stdin.off('data', onData);
      stdin.pause();
    },
  };
}
