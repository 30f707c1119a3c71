// The Run pane's registration: component and keys.
import type { PaneDef } from '../registry.ts';
import { runBindings } from './bindings.ts';
import { RunPane } from './RunPane.tsx';

export const runPane: PaneDef = {
  id: 'run',
  title: 'Run',
  key: '3',
  component: RunPane,
  bindings: runBindings,
};
