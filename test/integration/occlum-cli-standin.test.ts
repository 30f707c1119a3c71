// Occlum's own `occlum` script and makefile (../shared/reference, copied byte for byte) on the
// stand-in install, carrying an instance through new, init, build (SIM, --image-key, -f), run,
// start/exec/stop, status, print and package: the CLI contract the backend relies on (messages,
// the stream each goes to, exit codes, files written, quirks), shown by the real script. With
// OCCLUM_STUDIO_REAL_OCCLUM=1 the same expectations hold for a real install, except where noted.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findServerProcesses } from '../../src/core/detect/processes.ts';
import { OcclumBackend } from '../../src/core/backend/occlum/index.ts';
import { runCli } from '../helpers/cli.ts';
import { compileHello, OCCLUM_SKIP, occlumEnv, occlumInstall } from '../helpers/occlum.ts';

const tmp = mkdtempSync(join(tmpdir(), 'occlum-cli-'));
const env = occlumEnv();
const bin = OCCLUM_SKIP ? '' : occlumInstall(env).bin;
after(() => {
  for (const p of findServerProcesses(join(tmp, 'inst'))) process.kill(p.pid, 'SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

function occlum(cwd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(bin, args, { cwd, env: { ...env, PWD: cwd, ...extraEnv }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('occlum CLI contract (spec 1.2, 1.3)', { concurrency: false, skip: OCCLUM_SKIP }, () => {
  const inst = join(tmp, 'inst');

  test('no or unknown subcommand: error on stderr, usage on stdout, exit 1', () => {
    const none = occlum(tmp, []);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /^Error: no sub-command is given$/m);
    assert.match(none.stdout, /Usage:/);
    const bad = occlum(tmp, ['frobnicate']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^Error: unknown sub-command frobnicate$/m);
  });

  test('state checks print on stdout and exit 1', () => {
    const r = occlum(tmp, ['build']);
    assert.equal(r.status, 1);
    assert.equal(
      r.stdout.trim(),
      'Error: the current working directory is not initialized as an Occlum instance. Need to run "occlum init" first.',
    );
    assert.equal(r.stderr, '');
    assert.equal(occlum(tmp, ['new']).stdout.trim(), 'Error: target directory is not set');
    assert.equal(occlum(tmp, ['gen-image-key']).stdout.trim(), 'Error: target file is not set');
  });

  test('new, init twice, build before run', () => {
    const r = occlum(tmp, ['new', 'inst']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(readFileSync(join(inst, '.__occlum_status'), 'utf8'), 'initialized\n');
    for (const d of ['image/bin', 'image/lib', 'image/etc', 'initfs/bin']) assert.ok(existsSync(join(inst, d)), d);
    assert.equal(occlum(tmp, ['new', 'inst']).stdout.trim(), `Error: destination "${inst}" already exists`);
    assert.equal(
      occlum(inst, ['init']).stdout.trim(),
      'Error: the current working directory has been initialized as an Occlum instance',
    );
    const run = occlum(inst, ['run', '/bin/hello']);
    assert.equal(run.status, 1);
    assert.match(run.stdout, /not built yet/);
  });

  // Occlum's option loop spins without shifting: this busy-loops one CPU for 1.5 s.
  test('`occlum init foo` hangs (the backend must never pass it)', async () => {
    const d = join(tmp, 'hang');
    mkdirSync(d);
    const child = spawn(bin, ['init', 'foo'], { cwd: d, env, stdio: 'ignore', detached: true });
    const ended = await Promise.race([
      new Promise((r) => child.on('exit', () => r('exited'))),
      new Promise((r) => setTimeout(() => r('still running'), 1500)),
    ]);
    process.kill(-child.pid!, 'SIGKILL'); // the whole group: nothing of it may outlive the test
    assert.equal(ended, 'still running');
  });

  test('build option errors: stderr, exit 1', () => {
    const u = occlum(inst, ['build', '--bogus']);
    assert.equal(u.status, 1);
    assert.equal(u.stderr.trim(), 'Error: Unknown option: --bogus');
    assert.equal(
      occlum(inst, ['build', '--sign-key', join(tmp, 'none.pem')]).stderr.trim(),
      `Error: invalid signing key path: ${join(tmp, 'none.pem')}`,
    );
    assert.equal(occlum(inst, ['build', '--image-key']).stderr.trim(), 'Error: empty secure image key path');
  });

  test('build: output order, layout, run/ wiped, status and mode files', () => {
    compileHello(inst);
    const r = occlum(inst, ['build', '--sgx-mode', 'SIM']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const lines = r.stdout.split('\n');
    assert.ok(lines[0]!.startsWith('Enclave sign-tool: '));
    assert.ok(lines[1]!.startsWith('Enclave sign-key: '));
    assert.equal(lines[2], 'SGX mode: SIM');
    assert.equal(lines.filter(Boolean).at(-1), 'Built the Occlum image and enclave successfully');
    assert.equal(readFileSync(join(inst, '.sgx_mode'), 'utf8'), 'SIM\n');
    assert.equal(readFileSync(join(inst, '.__occlum_status'), 'utf8'), 'built\n');
    assert.match(readFileSync(join(inst, 'build', 'mount', '.ROOT_MAC'), 'utf8'), /^[0-9a-f]{2}(-[0-9a-f]{2}){15}$/);
    for (const f of [
      'build/bin/occlum-run',
      'build/lib/libocclum-libos.signed.so',
      'build/.Occlum_sys.json.protected',
      'build/initfs/.ROOT_MAC',
      'run/initfs/__ROOT',
    ]) {
      assert.ok(existsSync(join(inst, f)), f);
    }
    writeFileSync(join(inst, 'run', 'mount', '__ROOT', 'metadata'), 'x');
    assert.equal(occlum(inst, ['build', '--sgx-mode', 'SIM']).status, 0);
    assert.ok(!existsSync(join(inst, 'run', 'mount', '__ROOT', 'metadata')), 'every build wipes run/');
  });

  test('a build without --sgx-mode is a clean HW build, whatever the last mode was', () => {
    const other = join(tmp, 'modes');
    occlum(tmp, ['new', 'modes']);
    assert.equal(occlum(other, ['build', '--sgx-mode', 'SIM']).status, 0);
    const hw = occlum(other, ['build']);
    assert.match(hw.stdout, /^SGX mode: HW$/m);
    assert.match(hw.stdout, new RegExp(`^rm -rf ${other}/build$`, 'm'), 'a mode change forces a clean build');
    assert.equal(readFileSync(join(other, '.sgx_mode'), 'utf8'), 'HW\n');
  });

  test('a key change alone is not noticed without -f (image_config.json stays)', () => {
    occlum(inst, ['gen-image-key', 'k']);
    const key = readFileSync(join(inst, 'k'), 'utf8');
    assert.match(key, /^[0-9a-f]{2}(-[0-9a-f]{2}){15}\n$/);
    assert.equal(occlum(inst, ['build', '--sgx-mode', 'SIM', '--image-key', 'k']).status, 0);
    assert.equal(
      JSON.parse(readFileSync(join(inst, 'build', 'image_config.json'), 'utf8')).image_type,
      'integrity-only',
    );
    const f = occlum(inst, ['build', '--sgx-mode', 'SIM', '--image-key', 'k', '-f']);
    assert.match(f.stdout, new RegExp(`^rm -rf ${inst}/build$`, 'm'));
    assert.equal(JSON.parse(readFileSync(join(inst, 'build', 'image_config.json'), 'utf8')).image_type, 'encrypted');
    // Without --buildin-image-key the init stage has no key: boot fails with exit 1 (issue #1579).
    const boot = occlum(inst, ['run', '/bin/hello']);
    assert.equal(boot.status, 1);
    assert.match(boot.stderr, /\[ERROR\] occlum-pal: The init process exit with code: 1/);
    assert.equal(occlum(inst, ['build', '--sgx-mode', 'SIM', '-f']).status, 0);
  });

  test('a semantic config error: gen_internal_conf says why on stdout and exits 0, sgx_sign then fails', () => {
    const cfgPath = join(inst, 'Occlum.json');
    const good = readFileSync(cfgPath, 'utf8');
    try {
      writeFileSync(cfgPath, good.replace('"300MB"', '"300mb"'));
      const r = occlum(inst, ['build', '--sgx-mode', 'SIM']);
      assert.equal(r.status, 2, 'make failed');
      assert.match(r.stdout, /^The user_space_size "300mb" is not correct\.$/m);
      assert.match(r.stdout + r.stderr, /Configuration file format is not correct\./);
      assert.equal(readFileSync(join(inst, 'build', 'Enclave.xml'), 'utf8'), '', 'truncated by the argument validator');
    } finally {
      writeFileSync(cfgPath, good);
    }
    assert.equal(occlum(inst, ['build', '--sgx-mode', 'SIM']).status, 0);
  });

  test('run: statuses, log lines in Occlum format only with OCCLUM_LOG_LEVEL', () => {
    const ok = occlum(inst, ['run', '/bin/hello', 'a'], { OCCLUM_LOG_LEVEL: 'TRACE' });
    assert.equal(ok.status, 0);
    assert.match(ok.stdout, /hello a OCCLUM=yes/);
    assert.match(
      ok.stderr,
      /^\x1b\[32m\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\]\[ INFO\]\[T\d+\]\[#\d+\]\[process\] Process created: elf = \/bin\/hello/m,
    );
    assert.equal(occlum(inst, ['run', '/bin/hello']).stderr, '', 'log off by default');
    assert.equal(occlum(inst, ['run', '/bin/hello', 'a', '255']).status, 127, 'exit codes keep 7 bits');
    const fail = occlum(inst, ['run', '/bin/hello', 'a', '2']);
    assert.equal(fail.status, 2);
    assert.equal(
      readFileSync(join(inst, '.__occlum_status'), 'utf8'),
      'running\n',
      'set -e leaves the status file at running',
    );
    assert.equal(occlum(inst, ['status']).stdout, 'running\n');
  });

  test('the image and run layer the script wrote: `occlum-studio fs verify` accepts the image; the backend reads the run layer', async () => {
    assert.equal(occlum(inst, ['run', '/bin/hello', 'write-by-occlum-run']).status, 0);
    const v = runCli(['fs', 'verify', '-C', inst], { cwd: inst, env });
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /^OK: \d+ files/);
    // Built and run by the script alone (no studio key record): the SIM run layer's key comes from
    // the install's own signing key.
    const merged = await new OcclumBackend(inst, {}, { install: occlumInstall(env), env }).openFs();
    assert.equal(merged.readFile('/root/hello.txt').toString(), 'write-by-occlum-run');
  });

  test('start / exec / stop: messages, exec status, launch errors on the server stderr', async () => {
    const start = spawn(bin, ['start'], { cwd: inst, env: { ...env, PWD: inst }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let serverErr = '';
    start.stdout.on('data', (c) => (out += c));
    start.stderr.on('data', (c) => (serverErr += c));
    const code = await new Promise((r) => start.on('exit', r));
    assert.equal(code, 0);
    assert.equal(out.trim(), 'server is running.');
    assert.equal(readFileSync(join(inst, '.__occlum_status'), 'utf8'), 'built\n');
    assert.equal(findServerProcesses(inst).length, 1);
    assert.match(occlum(inst, ['start']).stdout, /^Error: the server of current Occlum instance has been started\.$/m);

    const fail = occlum(inst, ['exec', '/bin/hello', 'x', '1']);
    assert.equal(fail.status, 1);
    assert.equal(fail.stderr.trim(), 'Error: 256');
    const missing = occlum(inst, ['exec', '/bin/missing']);
    assert.equal(missing.status, 1);
    assert.equal(missing.stderr, '', 'the client says nothing on a launch failure');
    for (let i = 0; i < 40 && !/failed to boot up LibOS: ENOENT/.test(serverErr); i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.match(serverErr, /failed to boot up LibOS: ENOENT/);

    const stop = occlum(inst, ['stop']);
    assert.equal(stop.status, 0);
    assert.equal(stop.stdout, 'server is stopping.\nserver stopped.\n');
    assert.equal(findServerProcesses(inst).length, 0);
    assert.match(occlum(inst, ['exec', '/bin/hello']).stdout, /has not been started/);
    start.stderr.destroy();
  });

  test('print and package', () => {
    assert.match(occlum(inst, ['print', 'mrenclave']).stdout, /^[0-9a-f]{64}\n$/);
    assert.equal(occlum(inst, ['print', 'other']).stderr.trim(), 'Error: No valid info name provided');
    assert.equal(
      occlum(tmp, ['print', 'mrsigner']).stderr.trim(),
      'Error: No build/lib/libocclum-libos.signed.so existed',
    );
    const dbg = occlum(inst, ['package']);
    assert.equal(dbg.status, 1);
    assert.match(dbg.stdout, /^Warning: current Occlum instance is configured as "debuggable"\.$/m);
    const pkg = occlum(inst, ['package', '--debug', 'app']);
    assert.equal(pkg.status, 0, pkg.stderr);
    assert.match(pkg.stdout, /The package app.tar.gz is generated successfully/);
    const list = spawnSync('tar', ['-tzf', join(inst, 'app.tar.gz')], { encoding: 'utf8' }).stdout;
    assert.match(list, /^app\/build\/lib\/libocclum-libos\.signed\.so$/m);
    assert.match(list, /^app\/\.sgx_mode$/m);
  });
});
