// The Build pane's registration: component and keys.
import type { PaneDef } from '../registry.ts';
import { buildBindings } from './bindings.ts';
import { BuildPane } from './BuildPane.tsx';

export const buildPane: PaneDef = {
  id: 'build',
  title: 'Build',
  key: '2',
  component: BuildPane,
  bindings: buildBindings,
};
