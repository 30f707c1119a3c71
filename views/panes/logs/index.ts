// The Logs pane's registration: component and keys.
import type { PaneDef } from '../registry.ts';
import { logsBindings } from './bindings.ts';
import { LogsPane } from './LogsPane.tsx';

export const logsPane: PaneDef = {
  id: 'logs',
  title: 'Logs',
  key: '5',
  component: LogsPane,
  bindings: logsBindings,
};
