// The Files pane through the real binary in a pseudo-terminal, on a host-backend instance built
// here (secure image packed by the native engine): open the pane, expand directories, preview a
// text file and a binary one, verify with the result on screen, switch layers, quit.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { startTui, KEY, type Tui } from '../helpers/tui.ts';

let dir = '';
let rootNames: string[] = [];
let etcNames: string[] = [];
const running: Tui[] = [];

/** Presses j from paths[from] to paths[to], one key at a time, each time waiting for the selection. */
async function down(tui: Tui, paths: string[], from: number, to: number): Promise<void> {
  for (let i = from + 1; i <= to; i++) {
    tui.type('j');
    const p = paths[i]!.replace(/[.+]/g, '\\$&');
    await tui.waitFor(new RegExp(` ${p}$`, 'm'));
  }
}

before(async () => {
  dir = makeInstance(['hello']);
  const b = new HostBackend(dir);
  const r = await b.build();
  assert.ok(r.ok, r.errors.join('\n'));
  // Where things are in the tree (the instance template decides), so the keys below reach them.
  const fs = await b.openFs({ layer: 'image' });
  rootNames = fs.list('/').map((e) => e.name);
  etcNames = fs.list('/etc').map((e) => e.name);
});

after(() => {
  running.forEach((t) => t.kill());
  if (dir) rmSync(dirname(dir), { recursive: true, force: true });
});

test('Files pane: expand, preview text and hex, verify, switch layer', async () => {
  const tui = startTui([dir], { cwd: dir, cols: 120, rows: 32 });
  running.push(tui);
  await tui.waitFor(/inst │ host backend/);
  tui.type('4');
  await tui.waitFor('Files · layer');
  await tui.waitFor('▸ bin/');
  assert.match(tui.screen(), /merged view \(run layer over image\)/);

  // /bin → expand → /bin/hello: an ELF, previewed as hex.
  await down(tui, ['/', ...rootNames.map((n) => `/${n}`)], 0, rootNames.indexOf('bin') + 1);
  tui.type(KEY.enter);
  await tui.waitFor('▾ bin/');
  tui.type('j');
  await tui.waitFor('/bin/hello');
  await tui.waitFor(/─ hex · lines 1–/);
  assert.match(tui.screen(), /00000000 {1,2}7f ?45 ?4c ?46/);
  assert.match(tui.screen(), /-rwxr-xr-x \(0755\)/);
  assert.match(tui.screen(), /host file __ROOT\/[0-9a-f]{32}/);

  // Collapse bin, go to /etc, expand, preview hosts as text.
  tui.type(KEY.left);
  await tui.waitFor(/ \/bin$/m);
  tui.type(KEY.left);
  await tui.waitFor('▸ bin/');
  await down(
    tui,
    rootNames.map((n) => `/${n}`),
    rootNames.indexOf('bin'),
    rootNames.indexOf('etc'),
  );
  tui.type(KEY.right);
  await tui.waitFor('▾ etc/');
  await down(tui, ['/etc', ...etcNames.map((n) => `/etc/${n}`)], 0, etcNames.indexOf('hosts') + 1);
  await tui.waitFor(/─ text · lines 1–2 of 2/);
  assert.match(tui.screen(), /127\.0\.0\.1 +localhost/);

  // Verify: progress, then the result, while the pane stays responsive.
  tui.type('v');
  await tui.waitFor(/─ verify \(merged\)/);
  await tui.waitFor(/✓ OK: \d+ files/, 30_000);
  assert.match(tui.screen(), /100% · (\d+)\/\1 files/);
  assert.match(tui.screen(), /note: integrity-only image/);
  tui.type('p');
  await tui.waitFor(/─ text · lines 1–2 of 2/);

  // Layer switch: image alone.
  tui.type('l');
  await tui.waitFor('image layer (build/mount)');
  tui.type('l');
  await tui.waitFor('run layer only');
  tui.type('l');
  await tui.waitFor('merged view (run layer over image)');

  tui.type('q');
  assert.equal(await tui.exited, 0);
});
