// The key tables of docs/keymap.md, generated from the keymap: `npm run docs:keymap` rewrites the
// marked regions of that file and a unit test fails when it is stale, so the document says what
// the keys do. The prose around the regions is written by hand.
import type { PaneId } from '../src/store/app-slice.ts';
import { globalBindings, startBindings, type Binding } from './keymap.ts';
import { panes } from './panes/registry.ts';

/** The page that explains each pane (and its keys) in depth. */
const PANE_DOCS: Record<PaneId, string> = {
  config: 'config.md',
  build: 'dev-loop.md',
  run: 'run-pane.md',
  files: 'files-pane.md',
  logs: 'logs.md#logs-pane-keys',
};

const cell = (text: string) => text.replace(/\|/g, '\\|');
const code = (key: string) => '`' + cell(key) + '`';

function bindingTable(bindings: Binding[]): string {
  const rows = bindings.map(
    (b) => `| ${b.keys.map(code).join(' / ')} | ${b.command ?? '—'} | ${cell(b.description)} |`,
  );
  return ['| key | command | what it does |', '|---|---|---|', ...rows].join('\n');
}

function panesSection(): string {
  const index = panes.map(
    (p) => `| \`${p.key}\` | ${p.title} | [${PANE_DOCS[p.id].split('#')[0]}](${PANE_DOCS[p.id]}) |`,
  );
  const out = ['| key | pane | keys documented in |', '|---|---|---|', ...index];
  for (const p of panes) out.push('', `### ${p.title} (\`${p.key}\`)`, '', bindingTable(p.bindings));
  return out.join('\n');
}

/** The generated regions by name: `<!-- generated:NAME -->` … `<!-- end generated -->`. */
const REGIONS: Record<string, () => string> = {
  global: () => bindingTable(globalBindings),
  start: () => bindingTable(startBindings),
  panes: panesSection,
};

const REGION_RE = /(<!-- generated:(\w+) \(npm run docs:keymap\) -->)[\s\S]*?(<!-- end generated -->)/g;

/** `doc` with every generated region rewritten from the keymap (throws on an unknown region). */
export function renderKeymapDoc(doc: string): string {
  return doc.replace(REGION_RE, (_all, open: string, name: string, close: string) => {
    const render = REGIONS[name];
    if (!render) throw new Error(`docs/keymap.md: unknown generated region "${name}"`);
    return `${open}\n${render()}\n${close}`;
  });
}

/** Names of the regions `doc` has, in order (the test checks none is missing). */
export function keymapDocRegions(doc: string): string[] {
  return [...doc.matchAll(REGION_RE)].map((m) => m[2]!);
}

export const KEYMAP_DOC_REGIONS = Object.keys(REGIONS);
