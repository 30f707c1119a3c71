// The Files pane's registration: component and keys.
import type { PaneDef } from '../registry.ts';
import { filesBindings } from './bindings.ts';
import { FilesPane } from './FilesPane.tsx';

export const filesPane: PaneDef = {
  id: 'files',
  title: 'Files',
  key: '4',
  component: FilesPane,
  bindings: filesBindings,
};
