// The Files, Logs and Run panes keep their layout when names and records carry escape sequences,
// CR, VT, FF and other controls (issue 11, defect 3): the real shell (App + store) on a
// host-built instance, rendered by ink-testing-library.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { BackendError } from '../../src/core/backend/types.ts';
import { createStudioStore, openInstance, type StudioStore } from '../../src/store/index.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { waitFor } from '../helpers/wait.ts';
import { renderStudio } from '../helpers/render-studio.tsx';

const TITLE = '\x1b]0;owned\x07';
const cleanup: string[] = [];
const stores: StudioStore[] = [];
after(async () => {
  for (const s of stores) await s.getState().buildStopWatching();
  cleanup.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

/** The frame without Ink's own colour codes: what is left must hold no control but newline. */
function inert(frame: string): string {
  const text = frame.replace(/\x1b\[[0-9;]*m/g, '');
  const bad = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]/.exec(text);
  assert.equal(bad, null, `raw ${JSON.stringify(bad?.[0])} in the frame:\n${text}`);
  return text;
}

async function shell(dir: string) {
  const store = createStudioStore({ launchDir: dir, backend: 'host' });
  stores.push(store);
  await openInstance(store, dir);
  const { ui, frame } = renderStudio(store);
  return { store, ui, frame };
}

/** A built instance whose image/bin holds `names` (besides hello). */
async function builtWith(names: string[]): Promise<string> {
  const dir = makeInstance(['hello']);
  cleanup.push(dirname(dir));
  for (const n of names) writeFileSync(join(dir, 'image', 'bin', n), 'x');
  const built = await new HostBackend(dir).build();
  assert.ok(built.ok, built.errors.join('\n'));
  return dir;
}

async function filesFrame(names: string[]): Promise<string> {
  const dir = await builtWith(names);
  const { store, ui, frame } = await shell(dir);
  try {
    ui.stdin.write('4');
    await waitFor(() => store.getState().files.status === 'ready', 'the Files pane opens');
    const s = store.getState();
    s.filesMove(store.getState().files.rows.findIndex((r) => r.entry.path === '/bin') - store.getState().files.cursor);
    s.filesToggle();
    await waitFor(() => store.getState().files.rows.some((r) => r.entry.path === '/bin/hello'), '/bin is listed');
    const at = store.getState().files.rows.findIndex((r) => r.entry.name === names[0]);
    s.filesMove(at - store.getState().files.cursor);
    await tick(100);
    return frame();
  } finally {
    ui.unmount();
  }
}

test('Files pane: hostile names are shown escaped, one row each, and the layout matches plain names', async () => {
  const hostile = [`evil${TITLE}`, 'cr\rvt\x0bff\x0c', 'tab\tnl\nbidi\u202e.txt'];
  const plain = ['evil-plain-name-1', 'cr-vt-ff-plain-2', 'tab-nl-bidi-plain.txt'];
  const bad = inert(await filesFrame(hostile));
  const good = inert(await filesFrame(plain));
  assert.match(bad, /evil\\e\]0;owned\\x07/);
  assert.match(bad, /cr\\rvt\\x0bff\\x0c/);
  assert.equal(bad.split('\n').length, good.split('\n').length, `same number of rows:\n${bad}\n---\n${good}`);
  // Each tree row still ends with its layer column: no name pushed it onto another line.
  const rowOf = (frame: string, needle: string) => frame.split('\n').filter((l) => l.includes(needle));
  assert.equal(rowOf(bad, 'evil\\e]0;owned').length, 2, 'the tree row and the metadata path');
});

test('Logs pane: records with VT, FF, CR and escapes keep one row each', async () => {
  const dir = makeInstance(['hello']);
  cleanup.push(dirname(dir));
  const { store, ui, frame } = await shell(dir);
  try {
    ui.stdin.write('5');
    await tick();
    const records = [
      `[2024-01-01T00:00:00.000Z][ERROR][T1][#2][·Open·] open ${TITLE}/etc\x0bhosts\x0cfailed`,
      '[2024-01-01T00:00:01.000Z][ WARN][T1][#3][·Read·] progress 10%\rprogress 100%',
      `[2024-01-01T00:00:02.000Z][ INFO][T1][#4][·Write·] ${Array.from({ length: 31 }, (_, i) =>
        String.fromCharCode(i + 1),
      )
        .filter((c) => c !== '\n')
        .join('')} end`,
      `program says ${TITLE}\x1b[2Jred\x9b\u202e`,
    ];
    store.getState().appendLogChunk('run', records.join('\n') + '\n');
    store.getState().endLogSource('run');
    store.getState().logsSync();
    await waitFor(() => /program says/.test(frame()), 'the records are shown');
    const text = inert(frame());
    assert.match(text, /\\x0bhosts\\x0cfailed/);
    for (const marker of ['failed', 'progress', '[·Write·]', 'program says']) {
      assert.equal(text.split('\n').filter((l) => l.includes(marker)).length, 1, `one row holds "${marker}":\n${text}`);
    }
    const rows = text.split('\n');
    const first = rows.findIndex((l) => l.includes('failed'));
    assert.ok(
      rows[first + 1]!.includes('progress') &&
        rows[first + 2]!.includes('[·Write·]') &&
        rows[first + 3]!.includes('program says'),
      text,
    );
  } finally {
    ui.unmount();
  }
});

test('Run pane: a hostile program path and refusal message stay in their tab title and banner', async () => {
  const dir = makeInstance(['hello']);
  cleanup.push(dirname(dir));
  const { store, ui, frame } = await shell(dir);
  try {
    ui.stdin.write('3');
    await tick();
    // A stand-in launcher that refuses, as the backend does for a bad path, quoting the path.
    store.getState().runSetLauncher(async (req) => {
      throw new BackendError(`${req.path}: no such program${TITLE}\r\x0b`, 127);
    });
    const path = `/bin/evil${TITLE}\x1b[2J\x1b[Hx`;
    await store.getState().runStart('run', path, [`arg\r\x0c${TITLE}`]);
    await waitFor(() => /was refused/.test(frame()), 'the refusal is shown');
    const text = inert(frame());
    assert.match(text, /evil\\e\]0;owned\\x07\\e\[2J\\e\[Hx/);
    assert.equal(text.split('\n').filter((l) => l.includes('was refused')).length, 1, text);
  } finally {
    store.getState().runDisposeAll();
    ui.unmount();
  }
});
