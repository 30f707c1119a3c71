// The studio shell driven through the real binary in a pseudo-terminal.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTui, KEY, type Tui } from '../helpers/tui.ts';
import { runCli } from '../helpers/cli.ts';

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

test('the start screen creates instances: n asks for a path (new), i initialises the launch directory', async () => {
  const empty = join(work, 'empty');
  mkdirSync(empty);
  const tui = startTui([], { cwd: empty });
  running.push(tui);
  await tui.waitFor('No instances found below this directory');
  tui.type('n');
  await tui.waitFor('new instance directory:');
  for (const ch of 'demo1') tui.type(ch);
  tui.type(KEY.enter);
  // The status line gives room to the "created …" message: the details shorten (`host`, `0.31.0`).
  await tui.waitFor(
    /demo1 │ host( backend \(no enclave\))? │ (Occlum )?[\d.]+ │ initialized\s+created an Occlum instance/,
  );
  assert.ok(existsSync(join(empty, 'demo1', 'image', 'etc', 'hosts')));
  assert.equal(readFileSync(join(empty, 'demo1', '.__occlum_status'), 'utf8').trim(), 'initialized');
  tui.type('q');
  assert.equal(await tui.exited, 0);

  const here = join(work, 'here');
  mkdirSync(here);
  const tui2 = startTui([], { cwd: here });
  running.push(tui2);
  await tui2.waitFor('No instances found below this directory');
  tui2.type('i');
  await tui2.waitFor(/here │ host( backend \(no enclave\))? │ (Occlum )?[\d.]+ │ initialized/);
  // What to do next, as `init` prints it.
  await tui2.waitFor('created an Occlum instance: fill image/ (bom copy), then b in the Build pane');
  assert.ok(existsSync(join(here, 'Occlum.json')));
  tui2.type('q');
  assert.equal(await tui2.exited, 0);
});

test('NO_COLOR turns every colour off (bold and inverse stay); without it the same screen is coloured', async () => {
  const dir = join(work, 'colours');
  mkdirSync(dir);
  // An invalid size: the Config pane shows a red error.
  writeFileSync(join(dir, 'Occlum.json'), '{ "resource_limits": { "user_space_size": "300mb" } }\n');
  const colourSgr = /\x1b\[(?:[0-9;]*;)?(?:3[0-7]|9[0-7]|38;[25];[0-9;]+)m/;
  for (const noColor of [false, true]) {
    // FORCE_COLOR=1: colours would be on (the test runner sets FORCE_COLOR=0 for its own output).
    const tui = startTui([dir], { cwd: dir, env: { FORCE_COLOR: '1', ...(noColor ? { NO_COLOR: '1' } : {}) } });
    running.push(tui);
    await tui.waitFor('"300mb" is not a valid size');
    if (noColor) assert.doesNotMatch(tui.raw(), colourSgr);
    else assert.match(tui.raw(), colourSgr);
    assert.match(tui.raw(), /\x1b\[7m/); // inverse (status bar) is not a colour
    tui.type('q');
    assert.equal(await tui.exited, 0);
  }
});

test('without a terminal the studio prints what `check` prints, with its exit status', () => {
  const dir = join(work, 'piped');
  mkdirSync(dir);
  writeFileSync(join(dir, 'Occlum.json'), '{ "resource_limits": { "user_space_size": "300mb" } }\n');
  const tui = runCli([dir]);
  const check = runCli(['check', dir]);
  assert.equal(tui.status, 1);
  assert.equal(tui.status, check.status);
  assert.equal(tui.stdout, check.stdout);
  assert.match(tui.stdout, /Occlum\.json:1:\d+: error: .*300mb/);
});
