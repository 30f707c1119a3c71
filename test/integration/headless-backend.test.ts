// The headless lifecycle commands follow the backend choice, through the built CLI: with an Occlum
// install found (the stand-in: Occlum's own script over stand-ins for its SGX tools, through
// $OCCLUM_STUDIO_OCCLUM_ROOT; skipped without ../shared) they drive it (new, build, run,
// start/exec/stop, status), `--backend host` forces the host backend while it is found, and
// `--backend occlum` where no Occlum is installed fails with exit 2 and the fix. One instance per
// backend, built once, reused by every test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.ts';
import { findServerProcesses } from '../../src/core/detect/processes.ts';
import { ROOT_ENV } from '../../src/core/detect/occlum-install.ts';
import { newInstance } from '../../src/core/instance/init.ts';
import { compileHello, OCCLUM_SKIP, occlumEnv, occlumInstall, REAL_OCCLUM } from '../helpers/occlum.ts';

const tmp = mkdtempSync(join(tmpdir(), 'headless-backend-'));
const inst = join(tmp, 'inst');
const hostInst = join(tmp, 'host-inst');
const env = occlumEnv();
/** No Occlum anywhere: the override root is unset (and no `occlum` on this machine's PATH). */
const noOcclumEnv: NodeJS.ProcessEnv = { ...process.env };
delete noOcclumEnv[ROOT_ENV];

function cli(args: string[], extra: NodeJS.ProcessEnv = {}): CliResult {
  return runCli(args, { cwd: tmp, env: { ...env, ...extra } });
}

function ok(r: CliResult, what: string): void {
  assert.equal(r.status, 0, `${what}: exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

const count = (text: string, re: RegExp) => text.split('\n').filter((l) => re.test(l)).length;

after(() => {
  for (const p of findServerProcesses(inst)) process.kill(p.pid, 'SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

describe('automatic choice with an Occlum install found', { concurrency: false, skip: OCCLUM_SKIP }, () => {
  before(() => {
    const r = cli(['new', inst]);
    ok(r, 'new');
    assert.match(r.stdout, /occlum backend/);
    compileHello(inst);
  });

  test('new ran `occlum new` (its status file and layout)', () => {
    assert.equal(readFileSync(join(inst, '.__occlum_status'), 'utf8'), 'initialized\n');
    assert.ok(existsSync(join(inst, 'initfs', 'bin')));
  });

  test('build passes --sgx-mode through and streams occlum build output', () => {
    const r = cli(['build', '-C', inst, '--sgx-mode', 'SIM']);
    ok(r, 'build');
    // Only Occlum's script prints this; the host backend says "no enclave".
    assert.match(r.stdout, /^Built the Occlum image and enclave successfully$/m);
    assert.match(r.stdout, /^SGX mode: SIM$/m);
    assert.match(r.stdout, /built with the occlum backend/);
    assert.equal(readFileSync(join(inst, '.sgx_mode'), 'utf8').trim(), 'SIM');
  });

  test('build --json says which backend built', () => {
    const r = cli(['build', '-C', inst, '--json']);
    ok(r, 'build --json');
    const j = JSON.parse(r.stdout) as { ok: boolean; backend: string; backendReason: string };
    assert.equal(j.ok, true);
    assert.equal(j.backend, 'occlum');
    assert.match(j.backendReason, /found at/);
    // The instance's SIM mode is kept (a bare `occlum build` would mean HW).
    assert.equal(readFileSync(join(inst, '.sgx_mode'), 'utf8').trim(), 'SIM');
  });

  test('build refuses --keep-run on the occlum backend (occlum always wipes run/)', () => {
    const r = cli(['build', '-C', inst, '--keep-run']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--keep-run is not supported by the occlum backend .*always deletes run\//);
  });

  test('run goes through occlum run: output, exit status, 128+n, 127', () => {
    const r = cli(['run', '-C', inst, '/bin/hello', 'world']);
    ok(r, 'run');
    assert.match(r.stdout, /^hello world OCCLUM=yes$/m);
    assert.equal(cli(['run', '-C', inst, '/bin/hello', 'x', '3']).status, 3);
    assert.equal(cli(['run', '-C', inst, '/bin/hello', 'x', 'segv']).status, 128 + 11);
    const missing = cli(['run', '-C', inst, '/bin/nope']);
    assert.equal(missing.status, 127);
    assert.match(missing.stderr, /occlum_ecall_new_process returns ENOENT/, "occlum-run's own line");
    assert.match(missing.stderr, /^occlum-studio: could not launch \(127\)/m);
  });

  test('run refuses host-only flags on the occlum backend', () => {
    for (const flag of ['--allow-fork', '--full-verify']) {
      const r = cli(['run', '-C', inst, flag, '/bin/hello']);
      assert.equal(r.status, 2, flag);
      assert.match(r.stderr, new RegExp(`${flag} is not supported by the occlum backend`));
    }
    const lf = cli(['run', '-C', inst, '--log-file', join(tmp, 'run.log'), '/bin/hello']);
    assert.equal(lf.status, 2);
    assert.match(lf.stderr, /2>file/);
  });

  test('status names the backend', () => {
    const r = cli(['status', '-C', inst]);
    ok(r, 'status');
    assert.equal(r.stdout, 'built\n');
    assert.match(r.stderr, /occlum backend/);
    const j = JSON.parse(cli(['status', '-C', inst, '--json']).stdout) as { status: string; backend: string };
    assert.deepEqual([j.status, j.backend], ['built', 'occlum']);
  });

  test('start, exec (Error line printed once, exit 1), stop', () => {
    // The server's LibOS reads OCCLUM_LOG_LEVEL when it boots: it applies to every exec.
    const s = cli(['start', '-C', inst], { OCCLUM_LOG_LEVEL: 'info' });
    ok(s, 'start');
    assert.equal(s.stdout, 'server is running.\n');
    try {
      assert.ok(findServerProcesses(inst).length > 0, "the double's exec server is running");
      assert.equal(cli(['status', '-C', inst]).stdout, 'serving\n');

      const e = cli(['exec', '-C', inst, '/bin/hello', 'there']);
      ok(e, 'exec');
      assert.match(e.stdout, /^hello there OCCLUM=yes$/m);

      const f = cli(['exec', '-C', inst, '/bin/hello', 'x', '3']);
      assert.equal(f.status, 1);
      assert.equal(count(f.stderr, /^Error: 768$/), 1, `occlum exec's line, not repeated:\n${f.stderr}`);
      assert.equal(cli(['exec', '-C', inst, '--exit-status', '/bin/hello', 'x', '3']).status, 3);

      const logFile = join(tmp, 'exec.log');
      const l = cli(['exec', '-C', inst, '--log-file', logFile, '/bin/hello', 'logged']);
      ok(l, 'exec --log-file');
      assert.match(
        readFileSync(logFile, 'utf8'),
        /Process created: elf = \/bin\/hello/,
        "the server's LibOS log for this exec",
      );

      const launch = cli(['exec', '-C', inst, '/bin/nope']);
      assert.equal(launch.status, 1, 'occlum exec exits 1 for launch failures');
      assert.match(launch.stderr, /could not launch \(127\)/);
    } finally {
      const st = cli(['stop', '-C', inst]);
      ok(st, 'stop');
      assert.equal(st.stdout, 'server is stopping.\nserver stopped.\n');
    }
    assert.equal(findServerProcesses(inst).length, 0);
    assert.equal(cli(['status', '-C', inst]).stdout, 'built\n');
  });

  test("exec without a server: Occlum's refusal once, the fix, exit 1", () => {
    const r = cli(['exec', '-C', inst, '/bin/hello']);
    assert.equal(r.status, 1);
    assert.equal(count(r.stderr, /^Error: the server of current Occlum instance has not been started\.$/), 1, r.stderr);
    assert.match(r.stderr, /start it first/);
  });

  test('a failed occlum build exits 1 with its cause', () => {
    const cfg = join(inst, 'Occlum.json');
    const good = readFileSync(cfg, 'utf8');
    writeFileSync(cfg, good.replace('{', '{ "oops": ,'));
    try {
      const r = cli(['build', '-C', inst]);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /^error: occlum build exited with status/m);
      assert.match(r.stderr, /occlum build failed/);
    } finally {
      writeFileSync(cfg, good);
    }
  });

  test('build passes --image-key (relative to the caller), --buildin-image-key and -f through', () => {
    mkdirSync(join(tmp, 'keys'));
    const g = spawnSync(occlumInstall(env).bin, ['gen-image-key', join(tmp, 'keys', 'image.key')], {
      cwd: tmp,
      env,
      encoding: 'utf8',
    });
    assert.equal(g.status, 0, g.stdout + g.stderr);
    const r = runCli(['build', '-C', inst, '--image-key', 'keys/image.key', '--buildin-image-key', '-f'], {
      cwd: tmp,
      env,
    });
    ok(r, 'encrypted build');
    assert.match(
      r.stdout,
      new RegExp(`^Image encryption key: ${join(tmp, 'keys', 'image.key')}$`, 'm'),
      'made absolute for occlum',
    );
    // make echoes the clean step of occlum_build.mk.
    assert.match(r.stdout, new RegExp(`^rm -rf ${inst}/build$`, 'm'), '-f reached occlum build');
    assert.ok(existsSync(join(inst, 'initfs', 'etc', 'image_key')), 'the key was built into initfs');
    const run = cli(['run', '-C', inst, '/bin/hello', 'sealed']);
    ok(run, 'run of the encrypted image');
    assert.match(run.stdout, /^hello sealed OCCLUM=yes$/m);
  });
});

describe('--backend host while an Occlum install is found', { concurrency: false, skip: OCCLUM_SKIP }, () => {
  before(() => {
    ok(cli(['new', '--backend', 'host', hostInst]), 'new --backend host');
    compileHello(hostInst);
  });

  test('new --backend host writes the studio template (no `occlum new`)', () => {
    assert.ok(existsSync(join(hostInst, 'Occlum.json')));
    assert.equal(existsSync(join(hostInst, 'init_ra_conf.json')), false);
  });

  test('build, run and status go through the host backend', () => {
    const b = cli(['build', '--backend', 'host', '-C', hostInst]);
    ok(b, 'build --backend host');
    assert.match(b.stdout, /host backend, no enclave/);
    assert.doesNotMatch(b.stdout, /enclave successfully/);
    assert.equal(existsSync(join(hostInst, 'build', 'host')), true, "the host backend's build tree");
    const r = cli(['run', '--backend', 'host', '-C', hostInst, '/bin/hello', 'host']);
    ok(r, 'run --backend host');
    assert.match(r.stdout, /^hello host OCCLUM=yes$/m);
    const j = JSON.parse(cli(['status', '--backend', 'host', '-C', hostInst, '--json']).stdout) as {
      backend: string;
      backendReason: string;
    };
    assert.equal(j.backend, 'host');
    assert.match(j.backendReason, /--backend host/);
  });

  test('the host backend refuses occlum-only build flags, naming the flag and the fix', () => {
    const key = join(tmp, 'key.pem');
    writeFileSync(key, 'not a key');
    for (const args of [
      ['--sgx-mode', 'SIM'],
      ['--sign-key', key],
      ['--sign-tool', key],
      ['--enable-edmm', 'N'],
      ['--image-key', key, '--buildin-image-key'],
    ]) {
      const r = cli(['build', '--backend', 'host', '-C', hostInst, ...args]);
      assert.equal(r.status, 2, args.join(' '));
      const flag = args.includes('--buildin-image-key') ? '--buildin-image-key' : args[0]!;
      assert.match(
        r.stderr,
        new RegExp(`${flag} is not supported by the host backend \\(chosen: requested with --backend host\\)`),
      );
    }
  });

  test('--help after an option value still prints the usage (it is not the program path)', () => {
    for (const name of ['run', 'exec']) {
      const r = cli([name, '--backend', 'host', '-C', hostInst, '--help']);
      ok(r, `${name} --help`);
      assert.match(r.stdout, new RegExp(`^usage: occlum-studio ${name} .*--backend occlum\\|host`));
    }
  });

  test('init --init-ra is occlum-only', () => {
    const r = cli(['init', '--backend', 'host', '--init-ra', 'aecs', join(tmp, 'ra')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--init-ra is not supported by the host backend/);
  });
});

describe('--backend occlum without an install', { skip: REAL_OCCLUM && 'a real Occlum is installed here' }, () => {
  // An instance of its own: the ones above are made by Occlum's script, which a clone may lack.
  const bare = join(tmp, 'bare-inst');
  before(() => newInstance(bare));

  test('every lifecycle command fails with exit 2 and the fix', () => {
    for (const args of [
      ['build', '-C', bare],
      ['run', '-C', bare, '/bin/hello'],
      ['status', '-C', bare],
      ['start', '-C', bare],
      ['init', join(tmp, 'x')],
    ]) {
      const [name, ...rest] = args;
      const r = runCli([name!, '--backend', 'occlum', ...rest], { cwd: tmp, env: noOcclumEnv });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /--backend occlum was requested but Occlum is not installed here/);
      assert.match(r.stderr, /put its build\/bin on PATH|or use --backend host/);
    }
  });

  test('a misspelt backend is a usage error', () => {
    const r = runCli(['status', '--backend', 'ocelot', '-C', bare], { cwd: tmp, env: noOcclumEnv });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown backend "ocelot"/);
  });
});
