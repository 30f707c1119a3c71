// The Files pane on hostile images, through the real binary in a pseudo-terminal (issue 11):
// an illegal directory entry is shown as left out, never as an empty directory (defect 4); a FIFO
// in place of `metadata` is a clear error and q and Ctrl-C still quit (defect 2).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { renameEntry } from '../helpers/hostile-image.ts';
import { startTui, KEY, type Tui } from '../helpers/tui.ts';

let dir = '';
let rootNames: string[] = [];
const running: Tui[] = [];

before(async () => {
  dir = makeInstance(['hello']);
  const r = await new HostBackend(dir).build();
  assert.ok(r.ok, r.errors.join('\n'));
  rootNames = (await new HostBackend(dir).openFs({ layer: 'image' })).list('/').map((e) => e.name);
});

after(() => {
  running.forEach((t) => t.kill());
  if (dir) rmSync(dirname(dir), { recursive: true, force: true });
});

async function openPane(): Promise<Tui> {
  const tui = startTui([dir], { cwd: dir, cols: 120, rows: 32 });
  running.push(tui);
  await tui.waitFor(/inst │ host backend/);
  tui.type('4');
  await tui.waitFor('Files · layer');
  return tui;
}

test('Files pane: an entry with an illegal name is reported as left out, not hidden', async () => {
  await renameEntry(join(dir, 'build/mount/__ROOT'), '/bin', 'hello', Buffer.from('..'));
  const tui = await openPane();
  await tui.waitFor('▸ bin/');
  for (let i = 0; i <= rootNames.indexOf('bin'); i++) tui.type('j');
  await tui.waitFor(/ \/bin$/m);
  tui.type(KEY.enter);
  await tui.waitFor('▾ bin/');
  await tui.waitFor('✗ left out: ".."');
  await tui.waitFor(/directory, 0 entries; 1 left out: directory inode \d+ entry 2: the name/);
  tui.type('q');
  assert.equal(await tui.exited, 0);
});

test('Files pane: a FIFO in place of metadata is a clear error; q and Ctrl-C still quit', async () => {
  const meta = join(dir, 'build/mount/__ROOT/metadata');
  rmSync(meta);
  execFileSync('mkfifo', [meta]);
  for (const quit of ['q', KEY.ctrlC]) {
    const tui = await openPane();
    await tui.waitFor(/cannot open the image: .*\/metadata: protected file is a FIFO\s+\(named pipe\)/); // may wrap
    tui.type(quit);
    assert.equal(await tui.exited, 0);
  }
});
