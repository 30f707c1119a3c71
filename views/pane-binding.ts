// The shorthand every pane's bindings.ts writes its keys with: one pane scope, an optional
// palette command and an optional hint-line entry.
import type { Binding, Scope } from './keymap.ts';
import type { HintSpec } from './hint-line.ts';

export function paneBinding(scope: Scope) {
  return (keys: string[], description: string, run: Binding['run'], command?: string, hint?: HintSpec): Binding => ({
    keys,
    description,
    scope,
    run,
    ...(command ? { command } : {}),
    ...(hint ? { hint } : {}),
  });
}
