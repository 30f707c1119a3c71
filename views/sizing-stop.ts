// Stopping a sizing run from a pane that starts one (Run, Logs): `z` again or `esc`. The hint
// shows only while a run measures: it is the one way out short of quitting.
import type { StudioState } from '../src/store/index.ts';
import type { Binding, Scope } from './keymap.ts';
import { paneBinding } from './pane-binding.ts';

export const sizingMeasuring = (s: StudioState): boolean => s.sizing.status === 'measuring';

/** esc: stop the sizing run (only the Run pane's carries the palette command: one entry there). */
export function stopSizingBinding(scope: Scope, command?: string): Binding {
  return paneBinding(scope)(
    ['escape'],
    'stop the sizing run that measures (z again does too): ends its program, Occlum.json stays as it is',
    ({ store }) => void store.getState().sizingStop(),
    command,
    { key: 'z/esc', label: (s) => (sizingMeasuring(s) ? 'stop sizing' : null), priority: 1 },
  );
}
