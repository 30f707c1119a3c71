// Without the secure-FS engine (the addon cannot load: another platform, no prebuilt, no cargo),
// through the built CLI: every feature that needs it says so with the same message and fix,
// `doctor` tells which backends still run, and a build made where the engine was is not called
// tampered. The engine is made unavailable by pointing OCCLUM_STUDIO_NATIVE at a missing file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { NATIVE_FIX } from '../../src/core/securefs/native.ts';
import type { MachineReport } from '../../src/core/detect/machine.ts';

const NO_ENGINE = { OCCLUM_STUDIO_NATIVE: '/nonexistent/occlum_studio.node' };
const ENGINE_MESSAGE =
  'the secure-FS engine (native addon) is not available: OCCLUM_STUDIO_NATIVE=/nonexistent/occlum_studio.node ' +
  `does not exist; fix: ${NATIVE_FIX}`;

test('doctor without the engine: host backend ready with its limits, the one message and fix', () => {
  const r = runCli(['doctor', '--json'], { env: NO_ENGINE });
  const report = JSON.parse(r.stdout) as MachineReport;
  const engine = report.probes.find((p) => p.id === 'native-addon')!;
  assert.equal(engine.ok, false);
  assert.equal(
    `the secure-FS engine (native addon) is not available: ${engine.detail}; fix: ${engine.fix}`,
    ENGINE_MESSAGE,
  );
  const host = report.backends.find((b) => b.backend === 'host')!;
  assert.equal(host.ready, true, host.summary);
  assert.match(
    host.summary,
    /^ready: .*; limited: no secure-FS engine: .*Files pane and `fs` commands are unavailable/,
  );
  assert.equal(r.status, 0);
});

test('doctor reports only what is on PATH (cargo under ~/.cargo/bin is not on PATH)', () => {
  const bin = mkdtempSync(join(tmpdir(), 'doctor-bin-'));
  try {
    // node itself is all the CLI needs on this PATH.
    symlinkSync(process.execPath, join(bin, 'node'));
    const r = runCli(['doctor', '--json'], { env: { PATH: bin } });
    const cargo = (JSON.parse(r.stdout) as MachineReport).probes.find((p) => p.id === 'cargo')!;
    assert.equal(cargo.ok, false, `cargo found at ${cargo.detail} although PATH=${bin}`);
    assert.match(cargo.detail, /not on PATH/);
    if (existsSync(join(homedir(), '.cargo', 'bin', 'cargo'))) assert.doesNotMatch(cargo.detail, /\.cargo/);
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

test('a build made elsewhere runs without the engine (not "tampered"); fs commands give the one message', () => {
  const dir = makeInstance(['hello']);
  try {
    const b = runCli(['build'], { cwd: dir });
    assert.equal(b.status, 0, b.stderr);
    // A copy is "built elsewhere": its files' ctimes differ from the build's stamp, so the
    // secure image would have to be checked again, which needs the engine.
    const copy = join(dir, '..', 'copy');
    cpSync(dir, copy, { recursive: true, verbatimSymlinks: true });
    const run = runCli(['run', '/bin/hello'], { cwd: copy, env: { ...NO_ENGINE, OCCLUM_LOG_LEVEL: 'warn' } });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, 'Hello from /bin/hello\n');
    assert.doesNotMatch(run.stderr, /tampered/);
    assert.ok(
      run.stderr.includes(`the secure image build/mount/__ROOT was not checked: ${ENGINE_MESSAGE}`),
      run.stderr,
    );
    for (const args of [
      ['fs', 'verify', '-C', dir],
      ['fs', 'ls', '-C', dir],
    ]) {
      const r = runCli(args, { env: NO_ENGINE });
      assert.notEqual(r.status, 0, args.join(' '));
      assert.ok(r.stderr.includes(ENGINE_MESSAGE), `${args.join(' ')}: ${r.stderr}`);
    }
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});

test('a build without the engine: done, no secure image, and the note says why', () => {
  const dir = makeInstance(['hello']);
  try {
    const b = runCli(['build'], { cwd: dir, env: NO_ENGINE });
    assert.equal(b.status, 0, b.stderr);
    assert.ok(`${b.stdout}${b.stderr}`.includes(ENGINE_MESSAGE), `${b.stdout}${b.stderr}`);
    assert.equal(runCli(['run', '/bin/hello'], { cwd: dir, env: NO_ENGINE }).status, 0);
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});
