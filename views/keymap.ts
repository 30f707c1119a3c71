// The one keymap: it dispatches keys, and the `?` help and the `:` palette are generated from it.
import { openInstance, unsavedWork, type StudioStore } from '../src/store/index.ts';
import { createInstance } from '../src/store/instance-actions.ts';
import type { PaneId } from '../src/store/app-slice.ts';
import { panes } from './panes/registry.ts';
import type { HintSpec } from './hint-line.ts';

export interface KeyContext {
  store: StudioStore;
  exit(): void;
}

export type Scope = 'global' | 'start' | PaneId;

export interface Binding {
  /** Canonical key names (views/keys.ts): 'q', 'tab', 'ctrl+s', 'up' … First one is shown in help. */
  keys: string[];
  description: string;
  /** Name in the `:` command palette; bindings without one are keys only. */
  command?: string;
  scope: Scope;
  run(ctx: KeyContext): void;
  /**
   * For destructive keys: what pressing it now would destroy ("1 program running (quitting
   * stops it)"), or null when nothing is at stake. The first press says so; the second runs it.
   */
  confirm?(store: StudioStore): string | null;
  /** How it shows in its pane's hint line (views/hint-line.ts); without one it is in `?` only. */
  hint?: HintSpec;
}

function focusPane(store: StudioStore, id: PaneId): void {
  if (panes.some((p) => p.id === id)) store.getState().setPane(id);
}

function cyclePane(store: StudioStore, step: 1 | -1): void {
  if (panes.length === 0) return;
  const i = panes.findIndex((p) => p.id === store.getState().pane);
  const next = panes[(i + step + panes.length) % panes.length];
  if (next) store.getState().setPane(next.id);
}

function atStakeOnQuit(store: StudioStore): string | null {
  const s = store.getState();
  const unsaved = s.instanceDir ? unsavedWork(s) : [];
  return unsaved.length > 0 ? unsaved.join('; ') : null;
}

export const globalBindings: Binding[] = [
  {
    keys: ['?'],
    description: 'show or hide this help',
    command: 'help',
    scope: 'global',
    run: ({ store }) => store.getState().setOverlay(store.getState().overlay === 'help' ? 'none' : 'help'),
  },
  {
    keys: [':'],
    description: 'command palette',
    scope: 'global',
    run: ({ store }) => store.getState().setOverlay('palette'),
  },
  {
    keys: ['tab'],
    description: 'next pane',
    command: 'next-pane',
    scope: 'global',
    run: ({ store }) => cyclePane(store, 1),
  },
  {
    keys: ['shift+tab'],
    description: 'previous pane',
    command: 'previous-pane',
    scope: 'global',
    run: ({ store }) => cyclePane(store, -1),
  },
  ...panes.map((p): Binding => ({
    keys: [p.key],
    description: `${p.title} pane`,
    command: `pane-${p.id}`,
    scope: 'global',
    run: ({ store }) => focusPane(store, p.id),
  })),
  {
    keys: ['q', 'ctrl+c'],
    description: 'quit',
    command: 'quit',
    scope: 'global',
    run: ({ exit }) => exit(),
    confirm: atStakeOnQuit,
  },
];

/** Keys of the start screen (launched outside an instance). */
export const startBindings: Binding[] = [
  {
    keys: ['down', 'j'],
    description: 'next instance',
    scope: 'start',
    hint: { key: '↑/↓', label: (s) => (s.startInstances.length > 1 ? 'choose' : null), priority: 2 },
    run: ({ store }) => store.getState().moveStartSelection(1),
  },
  {
    keys: ['up', 'k'],
    description: 'previous instance',
    scope: 'start',
    run: ({ store }) => store.getState().moveStartSelection(-1),
  },
  {
    keys: ['enter'],
    description: 'open the selected instance',
    command: 'open',
    scope: 'start',
    hint: { label: (s) => (s.startInstances.length > 0 ? 'open' : null), priority: 1 },
    run: ({ store }) => {
      const s = store.getState();
      const chosen = s.startInstances[s.startIndex];
      if (chosen) void openInstance(store, chosen.dir);
    },
  },
  {
    keys: ['i'],
    description: 'init an Occlum instance in this directory',
    command: 'init',
    scope: 'start',
    hint: { label: 'init one here', short: 'init', priority: 1 },
    run: ({ store }) => void createInstance(store, 'init', store.getState().launchDir),
  },
  {
    keys: ['n'],
    description: 'new instance in a new directory (asks for its path)',
    command: 'new',
    scope: 'start',
    hint: { label: 'new one in a new directory', short: 'new', priority: 1 },
    run: ({ store }) => store.getState().setStartPrompt('new'),
  },
];

/** Bindings active now: the focused pane's (or the start screen's) first, then global ones. */
export function activeBindings(store: StudioStore): Binding[] {
  const s = store.getState();
  const local = s.instanceDir === null ? startBindings : (panes.find((p) => p.id === s.pane)?.bindings ?? []);
  // Pane numbers only make sense with an instance open.
  const global =
    s.instanceDir === null
      ? globalBindings.filter((b) => !b.command?.startsWith('pane-') && !b.command?.endsWith('-pane'))
      : globalBindings;
  return [...local, ...global];
}

export interface PaletteEntry {
  binding: Binding;
  /** The pane the command belongs to, focused before it runs (its selection is what it acts on). */
  pane: PaneId | null;
}

/**
 * The `:` palette's commands: with an instance open, every pane's (the focused pane's first),
 * then the global ones, so any command runs from anywhere; else the start screen's and global.
 */
export function paletteEntries(store: StudioStore): PaletteEntry[] {
  const s = store.getState();
  const named = (bs: Binding[], pane: PaneId | null) =>
    bs.filter((b) => b.command).map((binding) => ({ binding, pane }));
  if (s.instanceDir === null) return named(activeBindings(store), null);
  const ordered = [...panes.filter((p) => p.id === s.pane), ...panes.filter((p) => p.id !== s.pane)];
  return [...ordered.flatMap((p) => named(p.bindings, p.id)), ...named(globalBindings, null)];
}

/** Runs a palette entry: focuses its pane first, then runs it as its key would (without confirming: choosing it is the confirmation). */
export function runPaletteEntry(entry: PaletteEntry, ctx: KeyContext): void {
  const s = ctx.store.getState();
  if (entry.pane && s.pane !== entry.pane) s.setPane(entry.pane);
  if (s.armed !== null) disarm(ctx.store);
  entry.binding.run(ctx);
}

const bindingId = (b: Binding) => b.command ?? `${b.scope}:${b.keys[0]}`;

/** The confirmation on screen: which key armed it and the notice it put in the status bar. */
let armedBy: { binding: Binding; key: string; notice: string } | null = null;

// The key first: on a narrow status bar the end of the notice is what gets cut.
const notice = (atStake: string, key: string) => `press ${key} again: ${atStake}`;

/** Disarms, taking the notice down unless another message replaced it. */
function disarm(store: StudioStore): void {
  const was = armedBy;
  armedBy = null;
  const s = store.getState();
  if (s.armed !== null) s.setArmed(null);
  if (was && store.getState().flash?.text === was.notice) s.setFlash(null);
}

/**
 * Keeps an armed confirmation true to the state: when what was at stake is gone (undo back to
 * the saved text, the program ended) it disarms and takes its notice down; when it changed, the
 * notice says what is at stake now. Called on every store change while something is armed.
 */
export function reviewArmed(store: StudioStore): void {
  const s = store.getState();
  if (s.armed === null) {
    armedBy = null;
    return;
  }
  if (!armedBy || bindingId(armedBy.binding) !== s.armed) return;
  const atStake = armedBy.binding.confirm?.(store) ?? null;
  if (atStake === null) return disarm(store);
  const text = notice(atStake, armedBy.key);
  if (text !== armedBy.notice) {
    const shown = s.flash?.text === armedBy.notice;
    armedBy = { ...armedBy, notice: text };
    if (shown) s.setFlash(text, 'error');
  }
}

/** Runs the binding for a key, if any. Returns whether one ran. */
export function dispatchKey(name: string, ctx: KeyContext): boolean {
  const binding = activeBindings(ctx.store).find((b) => b.keys.includes(name));
  if (!binding) return false;
  const s = ctx.store.getState();
  const id = bindingId(binding);
  const atStake = binding.confirm?.(ctx.store) ?? null;
  if (atStake !== null && s.armed !== id) {
    armedBy = { binding, key: name, notice: notice(atStake, name) };
    s.setArmed(id);
    s.setFlash(armedBy.notice, 'error');
    return true;
  }
  // Any other key cancels a confirmation: its "press … again" would no longer be true.
  if (s.armed !== null) disarm(ctx.store);
  binding.run(ctx);
  return true;
}
