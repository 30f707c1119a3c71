// The Files pane previewing a file past the old 64 MiB limit through the real binary in a
// pseudo-terminal: text at once (line count still being scanned), PgDn pages, hex rows of the
// whole file.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packImage } from '../../src/core/securefs/index.ts';
import { OWN_TEMPLATE } from '../helpers/paths.ts';
import { startTui, KEY, type Tui } from '../helpers/tui.ts';

const MIB = 80;
const LINES = (MIB * 1048576) / 16;
const line = (i: number) => `line ${String(i).padStart(10, '0')}`;
let dir = '';
const running: Tui[] = [];

before(async () => {
  dir = join(mkdtempSync(join(tmpdir(), 'files-preview-e2e-')), 'inst');
  mkdirSync(join(dir, 'src/data'), { recursive: true });
  cpSync(OWN_TEMPLATE, join(dir, 'Occlum.json'));
  const big = Buffer.allocUnsafe(LINES * 16);
  for (let i = 0; i < LINES; i++) big.write(`${line(i)}\n`, i * 16, 'latin1');
  writeFileSync(join(dir, 'src/data/big.log'), big);
  await packImage({
    src: join(dir, 'src'),
    outRoot: join(dir, 'build/mount/__ROOT'),
    macFile: join(dir, 'build/mount/.ROOT_MAC'),
    key: { kind: 'integrity-only' },
  });
});

after(() => {
  running.forEach((t) => t.kill());
  if (dir) rmSync(join(dir, '..'), { recursive: true, force: true });
});

test(`Files pane: an ${MIB} MiB file previews as text at once, pages with PgDn, and shows hex rows of the whole file`, async () => {
  const tui = startTui([dir], { cwd: dir, cols: 120, rows: 32 });
  running.push(tui);
  await tui.waitFor('host backend');
  tui.type('4');
  await tui.waitFor('▸ data/');
  tui.type('j');
  await tui.waitFor(/ \/data$/m);
  tui.type(KEY.enter);
  await tui.waitFor('▾ data/');
  tui.type('j');
  await tui.waitFor(/ \/data\/big\.log$/m);
  await tui.waitFor(/─ text · lines 1–\d+ of \d+\+ \(0% scanned\)/);
  assert.match(tui.screen(), new RegExp(line(0)));
  assert.doesNotMatch(tui.screen(), /too large|limit/);
  for (let i = 0; i < 3; i++) tui.type('\x1b[6~');
  await tui.waitFor(/─ text · lines 31–/);
  await tui.waitFor(new RegExp(`^\\s*.*${line(30)}$`, 'm'));
  tui.type('h');
  await tui.waitFor(new RegExp(`─ hex \\(forced\\) · lines 1–\\d+ of ${LINES}`));
  assert.match(tui.screen(), /00000000 {1,2}6c ?69 ?6e ?65/);
  tui.type('q');
  assert.equal(await tui.exited, 0);
});
