// The occlum backend driving the `occlum` CLI: Occlum's own script and makefile on the stand-in
// install (test/helpers/occlum-standin.ts; skipped without ../shared), or a real install with
// OCCLUM_STUDIO_REAL_OCCLUM=1. Real files, real processes, a real pseudo-terminal for the Run-pane path.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pty from 'node-pty';
import { OcclumBackend, checkProgramPath, planMount, readBuildKeys } from '../../src/core/backend/occlum/index.ts';
import { initArgs, buildArgs, buildEnv } from '../../src/core/backend/occlum/args.ts';
import { BackendError, type RuntimeLogRecord } from '../../src/core/backend/types.ts';
import { findRunProcesses, findServerProcesses } from '../../src/core/detect/processes.ts';
import { compileHello, OCCLUM_SKIP, occlumEnv, occlumInstall, REAL_OCCLUM } from '../helpers/occlum.ts';
import { ROOT } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';

const tmp = mkdtempSync(join(tmpdir(), 'occlum-backend-'));
after(() => {
  // Never leave a server behind, whatever failed.
  for (const p of findServerProcesses(join(tmp, 'inst'))) process.kill(p.pid, 'SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

const env = occlumEnv();
const install = OCCLUM_SKIP ? undefined : occlumInstall(env);
const dir = join(tmp, 'inst');

function backend(events: ConstructorParameters<typeof OcclumBackend>[1] = {}, extraEnv: NodeJS.ProcessEnv = {}) {
  return new OcclumBackend(dir, events, {
    install: install!,
    env: { ...env, ...extraEnv },
    buildDefaults: { sgxMode: 'SIM' },
  });
}

describe('arguments never hang or mislead occlum', () => {
  test('init passes only --init-ra with a known value', () => {
    assert.deepEqual(initArgs(), []);
    assert.deepEqual(initArgs({ initRa: 'aecs' }), ['--init-ra', 'aecs']);
    assert.throws(() => initArgs({ initRa: 'foo' }), /grpc_ratls or aecs/);
  });
  test('build flags', () => {
    assert.deepEqual(buildArgs({ sgxMode: 'SIM', imageKey: 'k', buildinImageKey: true, force: true }), [
      '--sgx-mode',
      'SIM',
      '--image-key',
      'k',
      '--buildin-image-key',
      '-f',
    ]);
    assert.throws(() => buildArgs({ sgxMode: 'sim' as never }), /HW, SIM or HYPER/);
    assert.throws(() => buildArgs({ buildinImageKey: true }), /needs --image-key/);
    assert.throws(() => buildArgs({ signKey: '' }), /empty/);
  });
  test('build environment makes the flags mean what they say', () => {
    assert.equal(
      buildEnv({ sgxMode: 'HW' }, { SGX_MODE: 'SIM' }).SGX_MODE,
      undefined,
      'an inherited SGX_MODE=SIM would survive --sgx-mode HW',
    );
    assert.equal(buildEnv({ sgxMode: 'HYPER' }, {}).SGX_MODE, 'HYPER', 'selects the hyper sign tool');
    assert.equal(buildEnv({ enableEdmm: false }, { ENABLE_EDMM: 'Y' }).ENABLE_EDMM, undefined);
    assert.equal(buildEnv({}, { SGX_MODE: 'SIM' }).SGX_MODE, 'SIM');
  });
  test('program path rules', () => {
    assert.match(checkProgramPath('bin/x', ['/bin'])!, /absolute/);
    assert.match(checkProgramPath('/bin/../x', ['/bin'])!, /\.\./);
    assert.match(checkProgramPath('/binary', ['/bin'])!, /entry point/);
    assert.equal(checkProgramPath('/bin/x', ['/bin/']), null);
  });
});

describe('SGX modes', { concurrency: false, skip: OCCLUM_SKIP }, () => {
  const hwDir = join(tmp, 'hw');
  test('--sgx-mode HW wins over an inherited SGX_MODE=SIM; a HW run without aesmd fails at once with the fix', async () => {
    const b = new OcclumBackend(hwDir, {}, { install: install!, env: { ...env, SGX_MODE: 'SIM' } });
    await b.newInstance(hwDir);
    compileHello(hwDir);
    const r = await b.build({ sgxMode: 'HW' });
    assert.ok(r.ok, r.errors.join('\n'));
    assert.equal(readFileSync(join(hwDir, '.sgx_mode'), 'utf8').trim(), 'HW');
    if (!existsSync('/var/run/aesmd/aesm.socket')) {
      const t0 = Date.now();
      await assert.rejects(
        b.run('/bin/hello', []),
        (e: BackendError) => /AESM service is not running/.test(e.message) && /--sgx-mode SIM/.test(e.message),
      );
      assert.ok(Date.now() - t0 < 5000, 'no 15 s AESM wait');
    }
    // Without a mode, a SIM instance stays SIM (occlum build alone would rebuild it for HW).
    assert.ok((await b.build({ sgxMode: 'SIM' })).ok);
    assert.ok((await new OcclumBackend(hwDir, {}, { install: install!, env }).build()).ok);
    assert.equal(readFileSync(join(hwDir, '.sgx_mode'), 'utf8').trim(), 'SIM');
  });
});

describe('occlum backend over the CLI', { concurrency: false, skip: OCCLUM_SKIP }, () => {
  let hello: string;

  before(async () => {
    await backend().newInstance(dir);
    hello = compileHello(dir);
  });

  test('new: initialised instance; a second init/new is refused with a clear error', async () => {
    assert.equal(readFileSync(join(dir, '.__occlum_status'), 'utf8').trim(), 'initialized');
    assert.ok(existsSync(join(dir, 'Occlum.json')));
    assert.equal(await backend().status(), 'initialized');
    await assert.rejects(backend().init(dir), (e: BackendError) => /already an Occlum instance/.test(e.message));
    await assert.rejects(backend().newInstance(dir), (e: BackendError) => /already exists/.test(e.message));
  });

  test('init in an existing empty directory', async () => {
    const other = join(tmp, 'other');
    mkdirSync(other);
    await new OcclumBackend(other, {}, { install: install!, env }).init(other);
    assert.equal(readFileSync(join(other, '.__occlum_status'), 'utf8').trim(), 'initialized');
  });

  test('run before build: refused with the reason', async () => {
    await assert.rejects(backend().run(hello, []), (e: BackendError) => /not built/.test(e.message));
  });

  test('build (SIM): status, .sgx_mode, run/ layout, progress events, key record', async () => {
    const phases: string[] = [];
    const r = await backend({ buildProgress: (p) => phases.push(`${p.phase}:${p.message}`) }).build();
    assert.ok(r.ok, r.errors.join('\n'));
    assert.match(r.rootMac ?? '', /^[0-9a-f]{2}(-[0-9a-f]{2}){15}$/);
    assert.equal(readFileSync(join(dir, '.sgx_mode'), 'utf8').trim(), 'SIM');
    assert.equal(readFileSync(join(dir, '.__occlum_status'), 'utf8').trim(), 'built');
    assert.ok(existsSync(join(dir, 'run', 'mount', '__ROOT')));
    assert.ok(
      phases.some((p) => p.startsWith('commit:Built the Occlum image and enclave successfully')),
      phases.join('\n'),
    );
    assert.ok(readBuildKeys(dir));
    assert.equal(await backend().status(), 'built');
  });

  test('secure FS of the build through the native reader: image and initfs, verified; tampering found', async () => {
    const b = backend();
    const fs = await b.openFs({ layer: 'image' });
    assert.ok(fs.list('/bin').some((e) => e.name === 'hello' && e.type === 'file'));
    assert.equal(fs.rootMac, readFileSync(join(dir, 'build', 'mount', '.ROOT_MAC'), 'utf8').trim());
    assert.ok((await b.openFs({ layer: 'initfs' })).list('/etc').some((e) => e.name === 'image_config.json'));
    const v = await b.verify();
    assert.ok(v.ok, v.problems.join('\n'));
    assert.ok(v.image && v.image.files > 0);
    // Flip a byte in one node file of the image: the MAC chain names it.
    const victim = join(dir, 'build', 'mount', '__ROOT', fs.stat('/bin/hello').hostFile!);
    const bytes = readFileSync(victim);
    bytes[bytes.length - 100] ^= 0xff;
    writeFileSync(victim, bytes);
    const bad = await b.verify();
    assert.equal(bad.ok, false);
    assert.ok(
      bad.problems.some((p) => /image/.test(p)),
      bad.problems.join('\n'),
    );
    assert.ok((await b.build({ force: true })).ok);
    assert.ok((await b.verify()).ok);
  });

  test('secure FS: what a SIM run wrote to its run layer, merged over the image; a HW one is refused', async () => {
    const b = backend();
    assert.equal((await b.run(hello, ['write-in-the-run-layer'], { stdio: 'pipe' })).status, 0);
    const merged = await b.openFs();
    assert.equal(merged.kind, 'union');
    assert.equal(merged.readFile('/root/hello.txt').toString(), 'write-in-the-run-layer');
    assert.ok(merged.list('/root').some((e) => e.name === 'hello.txt' && e.layer === 'run'));
    assert.ok(merged.list('/bin').some((e) => e.name === 'hello' && e.layer === 'image'));
    assert.ok((await merged.verify()).ok);
    writeFileSync(join(dir, '.sgx_mode'), 'HW\n');
    try {
      await assert.rejects(b.openFs(), /sealed with this machine's SGX key.*occlum mount/);
      assert.equal((await b.openFs({ layer: 'image' })).kind, 'image', 'the image layer alone still opens');
    } finally {
      writeFileSync(join(dir, '.sgx_mode'), 'SIM\n');
    }
  });

  test('run with logs: output, LibOS log records at the chosen level, exit status', async () => {
    const logs: RuntimeLogRecord[] = [];
    const out: string[] = [];
    const b = backend({ log: (r) => logs.push(r), output: (s, c) => s === 'stdout' && out.push(c.toString()) });
    const exit = await b.run(hello, ['world'], { logLevel: 'info', stdio: 'pipe' });
    assert.equal(exit.status, 0, exit.meaning);
    assert.match(out.join(''), /hello world OCCLUM=yes/);
    assert.ok(
      logs.some((l) => l.level === 'info' && /Process created/.test(l.message)),
      JSON.stringify(logs),
    );
    assert.ok(!logs.some((l) => l.level === 'trace'), 'info level hides trace lines');

    const quiet: RuntimeLogRecord[] = [];
    await backend({ log: (r) => quiet.push(r) }).run(hello, ['x'], { stdio: 'pipe' });
    assert.equal(quiet.length, 0, 'OCCLUM_LOG_LEVEL unset: no LibOS log');
  });

  test('exit statuses per Occlum: code, 127 launch failures with the reason, 128+n', async () => {
    assert.equal((await backend().run(hello, ['x', '5'], { stdio: 'pipe' })).status, 5);
    const rel = await backend().run('bin/hello', [], { stdio: 'pipe' });
    assert.equal(rel.status, 127);
    assert.match(rel.meaning, /absolute/);
    const missing = await backend().run('/bin/nope', [], { stdio: 'pipe' });
    assert.equal(missing.status, 127);
    assert.match(missing.meaning, /could not launch/);
    const segv = await backend().run(hello, ['x', 'segv'], { stdio: 'pipe' });
    assert.equal(segv.status, 128 + 11);
    assert.match(segv.meaning, /SIGSEGV/);
  });

  test('status correction: the file says "running" after a failing run, the backend says built', async () => {
    await backend().run(hello, ['x', '3'], { stdio: 'pipe' });
    assert.equal(readFileSync(join(dir, '.__occlum_status'), 'utf8').trim(), 'running');
    const s = backend().state();
    assert.equal(s.status, 'built');
    assert.match(s.correction ?? '', /no occlum-run process is alive/);
    assert.equal(await backend().status(), 'built');
  });

  test('a build warns before wiping run/', async () => {
    writeFileSync(join(dir, 'run', 'mount', '__ROOT', 'metadata'), 'written at run time');
    const notes: string[] = [];
    const r = await backend({ buildProgress: (p) => notes.push(p.message) }).build();
    assert.ok(r.ok, r.errors.join('\n'));
    assert.ok(
      r.warnings.some((w) => /deletes run\//.test(w)),
      r.warnings.join('\n'),
    );
    assert.ok(notes[0]?.startsWith('warning:'), 'the warning comes before the build runs');
    assert.ok(!existsSync(join(dir, 'run', 'mount', '__ROOT', 'metadata')));
  });

  test('a build failure is explained by its cause; run/ is gone until a build succeeds', async () => {
    const cfgPath = join(dir, 'Occlum.json');
    const good = readFileSync(cfgPath, 'utf8');
    try {
      const cfg = JSON.parse(good);
      delete cfg.feature;
      writeFileSync(cfgPath, JSON.stringify(cfg, null, 4));
      const r = await backend().build();
      assert.equal(r.ok, false);
      assert.match(
        r.errors[0]!,
        /^Occlum.json is not valid for this Occlum: missing field `feature` \(line \d+, column \d+\)$/,
      );
      assert.ok(
        r.errors.some((e) => /occlum build exited with status 2/.test(e)),
        r.errors.join('\n'),
      );
      assert.ok(
        r.warnings.some((w) => /run\/ was already deleted/.test(w)),
        r.warnings.join('\n'),
      );
      assert.equal(backend().state().status, 'built-stale');
      await assert.rejects(backend().run(hello, []), (e: BackendError) => /not runnable/.test(e.message));
    } finally {
      writeFileSync(cfgPath, good);
    }
    assert.ok((await backend().build()).ok);
    assert.equal(backend().state().status, 'built');
  });

  test('gen-image-key, then a build with the key adds -f (occlum alone would not notice)', async () => {
    const key = await backend().genImageKey('image.key');
    assert.match(key, /^[0-9a-f]{2}(-[0-9a-f]{2}){15}$/);
    const r = await backend().build({ imageKey: join(dir, 'image.key'), buildinImageKey: true });
    assert.ok(r.ok, r.errors.join('\n'));
    assert.ok(
      r.warnings.some((w) => /-f: image key added/.test(w)),
      r.warnings.join('\n'),
    );
    assert.equal(JSON.parse(readFileSync(join(dir, 'build', 'image_config.json'), 'utf8')).image_type, 'encrypted');
    assert.equal((await backend().run(hello, ['enc'], { stdio: 'pipe' })).status, 0);
    // The encrypted image opens with the recorded key.
    assert.ok((await backend().openFs({ layer: 'image' })).list('/bin').some((e) => e.name === 'hello'));
    // Same keys again: no forced rebuild.
    const again = await backend().build({ imageKey: join(dir, 'image.key'), buildinImageKey: true });
    assert.ok(again.ok);
    assert.ok(!again.warnings.some((w) => /-f/.test(w)), again.warnings.join('\n'));
    // The key without --buildin-image-key: the init stage cannot decrypt the image, boot fails.
    const nokey = await backend().build({ imageKey: join(dir, 'image.key') });
    assert.ok(
      nokey.warnings.some((w) => /--buildin-image-key changed/.test(w)),
      nokey.warnings.join('\n'),
    );
    const boot = await backend().run(hello, [], { stdio: 'pipe' });
    assert.equal(boot.status, 1);
    assert.match(boot.meaning, /failed to boot \(1\): \[ERROR\] occlum-pal: The init process exit with code: 1/);
    await assert.rejects(backend().start(), (e: BackendError) =>
      /did not start: \[ERROR\] occlum-pal: The init process exit/.test(e.message),
    );
    assert.equal(findServerProcesses(dir).length, 0);
    assert.equal(backend().state().status, 'built', 'the status file says running after the failed start; corrected');
    // Back to integrity-only: forced again.
    const plain = await backend().build();
    assert.ok(
      plain.warnings.some((w) => /image key removed/.test(w)),
      plain.warnings.join('\n'),
    );
    assert.equal(
      JSON.parse(readFileSync(join(dir, 'build', 'image_config.json'), 'utf8')).image_type,
      'integrity-only',
    );
  });

  test('an older Occlum gets "needs Occlum ≥ X" instead of an unknown-option error', async () => {
    const old = new OcclumBackend(dir, {}, { install: { ...install!, version: '0.29.0' }, env });
    await assert.rejects(old.print('mrenclave'), (e: BackendError) => /needs Occlum 0\.29\.1 or later/.test(e.message));
    const r = await old.build({ sgxMode: 'SIM', enableEdmm: true });
    assert.equal(r.ok, false);
    assert.match(r.errors[0]!, /--enable-edmm needs Occlum 0\.30\.0/);
    await assert.rejects(old.newInstance(join(tmp, 'ra'), { initRa: 'aecs' }), /--init-ra needs Occlum 0\.30\.0/);
  });

  test('print mrenclave/mrsigner; package refuses debuggable and SIM instances with the fix', async () => {
    assert.match(await backend().print('mrenclave'), /^[0-9a-f]{64}$/);
    assert.match(await backend().print('mrsigner'), /^[0-9a-f]{64}$/);
    await assert.rejects(backend().package(), (e: BackendError) => /debuggable/.test(e.message));
  });

  test('start / exec / stop: statuses, launch errors from the server, nothing left running', async () => {
    const serverLines: string[] = [];
    const b = backend({ output: (s, c) => s === 'stderr' && serverLines.push(c.toString()) });
    await b.start({ logLevel: 'info' });
    assert.equal(await b.status(), 'serving');
    assert.equal(findServerProcesses(dir).length, 1);
    await assert.rejects(backend().start(), (e: BackendError) => /already running/.test(e.message));

    assert.equal((await b.exec(hello, ['one'], { stdio: 'pipe' })).status, 0);
    const three = await b.exec(hello, ['two', '3'], { stdio: 'pipe' });
    assert.equal(three.status, 3, 'the app status decoded from "Error: 768"');
    assert.match(three.meaning, /exited with status 3 .*Error: 768/);
    const big = await b.exec(hello, ['big', '200'], { stdio: 'pipe' });
    assert.equal(big.status, 200, 'exec keeps all 8 bits of the exit code');
    const segv = await b.exec(hello, ['x', 'segv'], { stdio: 'pipe' });
    assert.equal(segv.status, 128 + 11);
    assert.match(segv.meaning, /SIGSEGV.*Error: 11/);
    const missing = await b.exec('/bin/nope', [], { stdio: 'pipe' });
    assert.equal(missing.status, 127);
    assert.match(missing.meaning, /ENOENT/, 'the reason comes from the server stderr');
    // Another backend object of this process (the store makes one per action) sees it too.
    const other = await backend().exec('/bin/gone', [], { stdio: 'pipe' });
    assert.equal(other.status, 127);
    assert.match(other.meaning, /failed to boot up LibOS: ENOENT/);
    assert.ok(serverLines.join('').includes('Process created'), 'server log lines are captured');

    await b.stop();
    assert.equal(findServerProcesses(dir).length, 0);
    assert.equal(findRunProcesses(dir).length, 0);
    assert.equal(await b.status(), 'built');
    await assert.rejects(b.exec(hello, []), (e: BackendError) => /not running: start it first/.test(e.message));
    await b.stop(); // idempotent
  });

  test('the server outlives the studio process that started it, and its launch errors stay readable', async () => {
    // A separate process starts the server and exits (like quitting the TUI).
    const code = `import { createOcclumBackend } from './src/core/backend/occlum/index.ts';
      await createOcclumBackend(${JSON.stringify(dir)}, {}, { env: process.env, buildDefaults: { sgxMode: 'SIM' } }).start({ logLevel: 'info' });`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(findServerProcesses(dir).length, 1);
    // The server writes after its starter is gone: with a pipe it would die of SIGPIPE here.
    const missing = await backend().exec('/bin/absent', [], { stdio: 'pipe' });
    assert.equal(missing.status, 127);
    assert.match(missing.meaning, /failed to boot up LibOS: ENOENT/);
    assert.equal(findServerProcesses(dir).length, 1, 'the server is still alive');
    assert.equal((await backend().exec(hello, ['after'], { stdio: 'pipe' })).status, 0);
    await backend().stop();
    assert.equal(findServerProcesses(dir).length, 0);
  });

  test('stop when the server does not answer: the CLI call is cut short and the server killed', async () => {
    const b = backend();
    await b.start();
    const [server] = findServerProcesses(dir);
    process.kill(server!.pid, 'SIGSTOP'); // a wedged enclave: alive, answers nothing
    const notes: string[] = [];
    await backend({ output: (_s, c) => notes.push(c.toString()) }).stop(3000);
    assert.equal(findServerProcesses(dir).length, 0);
    assert.match(notes.join(''), /left the server running.*killed it/);
    // The enclave dies with its server process: nothing is left working in the instance.
    const inInstance = () =>
      readdirSync('/proc').filter((p) => {
        try {
          return /^\d+$/.test(p) && readlinkSync(`/proc/${p}/cwd`) === dir;
        } catch {
          return false;
        }
      });
    await waitFor(() => inInstance().length === 0, `no process left in the instance (${inInstance().join(' ')})`);
  });

  test('run in a real pseudo-terminal through prepareRun (the Run pane path)', async () => {
    const launch = await backend().prepareRun(hello, ['tty', '4'], { logLevel: 'info' });
    const p = pty.spawn(launch.file, launch.args, { cwd: launch.cwd, env: launch.env, cols: 80, rows: 24 });
    let screen = '';
    p.onData((d) => (screen += d));
    const code = await new Promise<number>((res) => p.onExit(({ exitCode }) => res(exitCode)));
    const exit = launch.finish(code, null);
    assert.equal(exit.status, 4);
    assert.match(screen, /hello tty OCCLUM=yes/);
    assert.match(screen, /Process created/, 'log lines reach the terminal');
  });

  test(
    "gdb gets the whole terminal (the stand-in's sgx-gdb prompt)",
    { skip: REAL_OCCLUM && 'interactive gdb' },
    async () => {
      const launch = backend().prepareGdb(hello, ['dbg']);
      const p = pty.spawn(launch.file, launch.args, { cwd: launch.cwd, env: launch.env, cols: 80, rows: 24 });
      let screen = '';
      p.onData((d) => (screen += d));
      const exited = new Promise<number>((res) => p.onExit(({ exitCode }) => res(exitCode)));
      const waitFor = async (re: RegExp) => {
        for (let i = 0; i < 200 && !re.test(screen); i++) await new Promise((r) => setTimeout(r, 25));
        assert.match(screen, re);
      };
      await waitFor(/\(gdb\) /);
      p.write('run\r');
      await waitFor(/hello dbg OCCLUM=yes/);
      p.write('quit\r');
      assert.equal(await exited, 0);
      assert.equal(readFileSync(join(dir, '.__occlum_status'), 'utf8').trim(), 'built');
    },
  );

  test(
    'mount: requirements checked first; the CLI failure is reported',
    { skip: REAL_OCCLUM && 'mounts for real' },
    async () => {
      const full = join(tmp, 'full');
      mkdirSync(full);
      writeFileSync(join(full, 'x'), '');
      assert.ok(planMount({ dir, mountPoint: full }).problems.some((p) => /not empty/.test(p)));
      assert.ok(planMount({ dir, mountPoint: join(tmp, 'nope') }).problems.some((p) => /does not exist/.test(p)));
      const mnt = join(tmp, 'mnt');
      mkdirSync(mnt);
      const plan = planMount(
        { dir, mountPoint: mnt },
        { fuse: join(tmp, 'no-fuse'), enclave: '/x', provision: '/x', legacy: '/x' },
      );
      assert.ok(
        plan.problems.some((p) => /FUSE/.test(p)),
        plan.problems.join('\n'),
      );
      if (existsSync('/dev/fuse')) {
        const h = backend().mount(mnt);
        assert.equal(await h.exited, 1);
        assert.match(h.output(), /Start to mount the FS/);
        assert.match(h.output(), /sefs-cli mount needs FUSE and an SGX enclave/);
      }
    },
  );
});
