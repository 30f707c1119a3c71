// The Config pane's registration: component and keys.
import type { PaneDef } from '../registry.ts';
import { configBindings } from './bindings.ts';
import { ConfigPane } from './ConfigPane.tsx';

export const configPane: PaneDef = {
  id: 'config',
  title: 'Config',
  key: '1',
  component: ConfigPane,
  bindings: configBindings,
};
