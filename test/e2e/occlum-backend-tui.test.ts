// The studio in a real pseudo-terminal with an Occlum install found (the stand-in install: Occlum's
// own script over stand-ins for its SGX tools; skipped without ../shared): the occlum backend is
// chosen automatically, a program built by `occlum build` runs from the Run pane through
// `occlum run`, its exit status is explained as Occlum means it, the Files pane reads the image
// and run layer the script's build and run wrote.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OcclumBackend } from '../../src/core/backend/occlum/index.ts';
import { findServerProcesses } from '../../src/core/detect/processes.ts';
import { runFromPane, startTui, KEY, type Tui } from '../helpers/tui.ts';
import { compileHello, OCCLUM_SKIP, occlumEnv, occlumInstall } from '../helpers/occlum.ts';

const tmp = mkdtempSync(join(tmpdir(), 'occlum-tui-'));
const dir = join(tmp, 'inst');
const env = occlumEnv();
const running: Tui[] = [];

before(async () => {
  if (OCCLUM_SKIP) return;
  const b = new OcclumBackend(dir, {}, { install: occlumInstall(env), env, buildDefaults: { sgxMode: 'SIM' } });
  await b.newInstance(dir);
  compileHello(dir);
  const r = await b.build();
  assert.ok(r.ok, r.errors.join('\n'));
});

after(() => {
  running.forEach((t) => t.kill());
  rmSync(tmp, { recursive: true, force: true });
});

test(
  'auto-selects the occlum backend and runs a program through `occlum run` in the Run pane',
  { skip: OCCLUM_SKIP },
  async () => {
    const tui = startTui([dir], { cwd: dir, cols: 110, rows: 30, env: env as Record<string, string> });
    running.push(tui);
    await tui.waitFor(/inst │ occlum/);
    await runFromPane(tui, '/bin/hello pty 5');
    await tui.waitFor('hello pty OCCLUM=yes');
    await tui.waitFor(/status 5/);
    tui.type('q');
    assert.equal(await tui.exited, 0);
  },
);

test('Build pane: `b` builds through `occlum build` and shows its output', { skip: OCCLUM_SKIP }, async () => {
  const tui = startTui([dir], { cwd: dir, cols: 120, rows: 36, env: env as Record<string, string> });
  running.push(tui);
  await tui.waitFor(/inst │ occlum/);
  tui.type('2');
  await tui.waitFor('auto-build');
  await tui.waitFor(/watching/);
  tui.type('b');
  await tui.waitFor('Built the Occlum image and enclave successfully', 60_000);
  assert.doesNotMatch(tui.screen(), /unavailable/);
  tui.type('q');
  assert.equal(await tui.exited, 0);
});

test(
  'Files pane: the image built by `occlum build` and the run layer `occlum run` wrote, read by the native reader',
  { skip: OCCLUM_SKIP },
  async () => {
    const run = await new OcclumBackend(dir, {}, { install: occlumInstall(env), env }).run(
      '/bin/hello',
      ['write-from-occlum-run'],
      { stdio: 'pipe' },
    );
    assert.equal(run.status, 0, run.meaning);
    const tui = startTui([dir], { cwd: dir, cols: 120, rows: 36, env: env as Record<string, string> });
    running.push(tui);
    await tui.waitFor(/inst │ occlum/);
    tui.type('4');
    const mac = readFileSync(join(dir, 'build', 'mount', '.ROOT_MAC'), 'utf8').trim();
    await tui.waitFor(`root MAC ${mac.slice(0, 20)}`);
    await tui.waitFor(/▸ bin\//);
    tui.type(KEY.down);
    tui.type(KEY.enter);
    await tui.waitFor(/hello/);
    // l: merged → image → run. The run layer holds what the program wrote: /root/hello.txt.
    tui.type('l');
    tui.type('l');
    await tui.waitFor(/▸ root\//);
    tui.type(KEY.down);
    tui.type(KEY.enter);
    await tui.waitFor(/hello\.txt/);
    tui.type(KEY.down);
    await tui.waitFor('write-from-occlum-run');
    tui.type('q');
    assert.equal(await tui.exited, 0);
  },
);

test(
  'Run pane: s starts the server (occlum start), x execs into it, S stops it; nothing left running',
  { skip: OCCLUM_SKIP },
  async () => {
    const tui = startTui([dir], { cwd: dir, cols: 120, rows: 36, env: env as Record<string, string> });
    running.push(tui);
    try {
      await tui.waitFor(/inst │ occlum/);
      tui.type('3');
      await tui.waitFor('Nothing is running.');
      tui.type('s');
      await tui.waitFor('occlum start: the server is up');
      assert.equal(findServerProcesses(dir).length, 1);
      tui.type('x');
      await tui.waitFor('Exec a program in the server (occlum exec)');
      tui.type('/bin/hello inside 0');
      tui.type(KEY.enter);
      await tui.waitFor('hello inside OCCLUM=yes');
      await tui.waitFor(/exited normally/); // until then the program has the keyboard
      tui.type('S');
      await tui.waitFor('occlum stop: the server and every program in it ended', 60_000);
      assert.equal(findServerProcesses(dir).length, 0);
      tui.type('q');
      await tui.exited;
    } finally {
      for (const p of findServerProcesses(dir)) process.kill(p.pid, 'SIGKILL');
    }
  },
);

test('--backend occlum without an Occlum: a clear error, exit 1', async () => {
  const noOcclum = { ...env, PATH: '/usr/bin:/bin', OCCLUM_STUDIO_OCCLUM_ROOT: join(tmp, 'none') } as Record<
    string,
    string
  >;
  mkdirSync(dir, { recursive: true }); // made by before() unless the stand-in tests are skipped
  const tui = startTui([dir, '--backend', 'occlum'], { cwd: dir, env: noOcclum });
  running.push(tui);
  const code = await tui.exited;
  assert.equal(code, 1);
  assert.match(tui.screen().replace(/\s+/g, ' '), /--backend occlum was requested but Occlum is not installed here/);
});

test('--sgx-mode SIM: the Build pane builds a new instance in simulation mode', { skip: OCCLUM_SKIP }, async () => {
  const fresh = join(tmp, 'sim');
  await new OcclumBackend(fresh, {}, { install: occlumInstall(env), env }).newInstance(fresh);
  compileHello(fresh);
  const { SGX_MODE: _inherited, ...base } = env as Record<string, string>;
  const tui = startTui([fresh, '--sgx-mode', 'SIM'], { cwd: fresh, cols: 120, rows: 36, env: base });
  running.push(tui);
  await tui.waitFor(/sim │ occlum/);
  tui.type('2');
  await tui.waitFor('auto-build');
  tui.type('b');
  await tui.waitFor('Built the Occlum image and enclave successfully', 60_000);
  // The pane follows the end of the output (sgx_sign's lines); .sgx_mode is what the script wrote.
  assert.equal(readFileSync(join(fresh, '.sgx_mode'), 'utf8').trim(), 'SIM');
  tui.type('q');
  assert.equal(await tui.exited, 0);
});
