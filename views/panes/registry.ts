// The panes the studio shows, in tab order. A pane is listed only once its capability is real.
import type React from 'react';
import type { PaneId } from '../../src/store/app-slice.ts';
import type { Binding } from '../keymap.ts';
import { buildPane } from './build/index.ts';
import { configPane } from './config/index.ts';
import { filesPane } from './files/index.ts';
import { logsPane } from './logs/index.ts';
import { runPane } from './run/index.ts';

export interface PaneDef {
  id: PaneId;
  title: string;
  /** Number key that focuses it (fixed per pane, so muscle memory survives new panes). */
  key: '1' | '2' | '3' | '4' | '5';
  component: React.ComponentType;
  /** Keys active while this pane has focus; listed by `?` and the palette. */
  bindings: Binding[];
}

export const panes: PaneDef[] = [configPane, buildPane, runPane, filesPane, logsPane];
