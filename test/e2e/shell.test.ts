// The studio shell driven through the real binary in a pseudo-terminal.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTui, KEY, type Tui } from '../helpers/tui.ts';

const work = mkdtempSync(join(tmpdir(), 'studio-shell-'));
const running: Tui[] = [];
after(() => {
  running.forEach((t) => t.kill());
  rmSync(work, { recursive: true, force: true });
});

function instance(rel: string, status?: string) {
  const dir = join(work, rel);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Occlum.json'), '{}\n');
  if (status) writeFileSync(join(dir, '.__occlum_status'), status + '\n');
}

test('outside an instance the start screen lists the instances below, help and palette work, q quits', async () => {
  instance('apps/web', 'built');
  instance('hello');
  mkdirSync(join(work, 'node_modules', 'x'), { recursive: true });
  writeFileSync(join(work, 'node_modules', 'x', 'Occlum.json'), '{}');

  const tui = startTui([], { cwd: work });
  running.push(tui);
  await tui.waitFor('Instances below this directory');
  const screen = tui.screen();
  assert.match(screen, /apps\/web\s+built/);
  assert.match(screen, /hello\s+no status file/);
  assert.doesNotMatch(screen, /node_modules/);

  tui.type('?');
  await tui.waitFor('Keys (? or escape closes)');
  assert.match(tui.screen(), /q \/ ctrl\+c\s+quit/);
  tui.type(KEY.escape);
  await tui.waitForGone('Keys (? or escape closes)');

  tui.type(':');
  await tui.waitFor(/help\s+show or hide this help/);
  tui.type('help');
  tui.type(KEY.enter);
  await tui.waitFor('Keys (? or escape closes)');
  tui.type('q');
  await tui.waitForGone('Keys (? or escape closes)');

  tui.type('q');
  assert.equal(await tui.exited, 0);
});

test('enter on a listed instance opens it and the status bar names it', async () => {
  instance('solo', 'initialized');
  const dir = join(work, 'solo');
  const tui = startTui([], { cwd: dir });
  running.push(tui);
  await tui.waitFor(/solo │ host backend \(no enclave\) │ Occlum .* │ initialized/);
  tui.type('q');
  assert.equal(await tui.exited, 0);
});
