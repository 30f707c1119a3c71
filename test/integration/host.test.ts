// The host backend in the real sandbox (bubblewrap + overlayfs + seccomp): build, run, what the
// program can and cannot see, and refusals with Occlum's messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, existsSync, readFileSync, writeFileSync, readdirSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HostBackend } from '../../src/core/backend/host/index.ts';
import { BackendError, type RuntimeLogRecord } from '../../src/core/backend/types.ts';
import { makeInstance } from '../helpers/host-instance.ts';
import { waitFor } from '../helpers/wait.ts';
import { descendants } from '../../src/core/backend/host/procs.ts';
import { statTree } from '../../src/core/backend/host/manifest.ts';
import { instancePaths } from '../../src/core/instance/layout.ts';

function backend(dir: string) {
  const out: string[] = [];
  const logs: RuntimeLogRecord[] = [];
  const b = new HostBackend(dir, {
    output: (_s, c) => out.push(c.toString()),
    log: (r) => logs.push(r),
  });
  const run = async (path: string, args: string[] = [], extra = {}) => {
    out.length = 0;
    const exit = await b.run(path, args, {
      stdio: 'pipe',
      env: { EXAMPLE: 'from-caller', SECRET: 'host-only' },
      logLevel: 'debug',
      ...extra,
    });
    return { status: exit.status, out: out.join('') };
  };
  return { b, run, logs };
}

async function built(names: Parameters<typeof makeInstance>[0], edit?: Parameters<typeof makeInstance>[1]) {
  const dir = makeInstance(names, edit);
  const h = backend(dir);
  const r = await h.b.build();
  assert.ok(r.ok, JSON.stringify(r.errors.concat(r.problems.map((p) => p.explanation))));
  return { dir, ...h };
}

test('output and exit codes: normal exit, & 0x7F folding, signal = 128+n', async () => {
  const { run } = await built(['hello', 'sleeper']);
  const ok = await run('/bin/hello', ['a b', 'exit=0']);
  assert.equal(ok.status, 0);
  assert.match(ok.out, /Hello from \/bin\/hello\narg: a b\n/);
  assert.equal((await run('/bin/hello', ['exit=42'])).status, 42);
  assert.equal((await run('/bin/hello', ['exit=255'])).status, 127);
});

test('a program killed by a signal reports 128+n', async () => {
  const { b } = await built(['sleeper']);
  const p = b.run('/bin/sleeper', ['30'], { stdio: 'pipe' });
  // kill the program itself (the sandboxed process), not the launcher
  const isSleeper = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleeper';
    } catch {
      return false;
    }
  };
  const sleeper = await waitFor(
    () => b.lastChild?.pid && descendants([b.lastChild.pid]).find(isSleeper),
    'the sandboxed program runs',
  );
  process.kill(sleeper, 'SIGKILL');
  assert.equal((await p).status, 137);
});

test('environment: only env.default and the env.untrusted names from the caller', async () => {
  const { run } = await built(['env'], (c) => {
    c.env.default.push('MODE=debug');
  });
  const lines = (await run('/bin/env')).out.trim().split('\n').sort();
  // PWD is set by bubblewrap itself after --chdir (documented in docs/backends.md)
  assert.deepEqual(lines, ['EXAMPLE=from-caller', 'MODE=debug', 'OCCLUM=yes', 'PWD=/']);
});

test('isolation: no host /etc/shadow, no build/ of the instance, image layer not writable', async () => {
  const { dir, run } = await built(['writer', 'hello']);
  const probe = await run('/bin/writer', [
    'probe',
    '/etc/shadow',
    `${dir}/build/.Occlum_sys.json`,
    '/host/build/.Occlum_sys.json',
    '/host/Occlum.json',
  ]);
  assert.match(probe.out, /read \/etc\/shadow: No such file or directory/);
  assert.match(
    probe.out,
    /build\/\.Occlum_sys\.json: No such file or directory\n.*\/host\/build\/\.Occlum_sys\.json: No such file or directory/,
  );
  assert.match(probe.out, /read \/host\/Occlum.json: ok/, 'hostfs of the instance works');
  const before = readFileSync(join(dir, 'build/host/rootfs/bin/hello'));
  const w = await run('/bin/writer', ['write', '/bin/hello', '/host/build/x']);
  assert.match(w.out, /write \/bin\/hello: ok/, "writes go to the run layer (copy-up), as in Occlum's union FS");
  assert.match(w.out, /write \/host\/build\/x: Read-only file system/);
  assert.deepEqual(readFileSync(join(dir, 'build/host/rootfs/bin/hello')), before, 'the image layer is unchanged');
  assert.ok(!existsSync(join(dir, 'build/x')));
  assert.ok(existsSync(join(dir, 'run/host/upper/bin/hello')), 'the copy lives in run/');
});

test('the run layer persists across runs and a build wipes it (unless --keep-run)', async () => {
  const { b, run } = await built(['writer']);
  assert.match((await run('/bin/writer')).out, /has 1 line/);
  assert.match((await run('/bin/writer')).out, /has 2 line/);
  assert.ok((await b.build({ keepRun: true })).ok);
  assert.match((await run('/bin/writer')).out, /has 3 line/);
  assert.ok((await b.build()).ok);
  assert.match((await run('/bin/writer')).out, /has 1 line/);
});

test('fork() fails like in Occlum; posix_spawn works; the fidelity switch allows fork', async () => {
  const { run } = await built(['forker', 'spawner', 'hello']);
  const f = await run('/bin/forker');
  assert.equal(f.status, 1);
  assert.match(f.out, /fork failed: Function not implemented/);
  const s = await run('/bin/spawner', ['/bin/hello']);
  assert.equal(s.status, 0);
  assert.match(s.out, /arg: from-spawn\nchild exited: 0/);
  const allowed = await run('/bin/forker', [], { denyFork: false });
  assert.match(allowed.out, /fork succeeded/);
});

test('rlimits come from process.default_stack_size and user_space_size', async () => {
  const { run } = await built(['limits'], (c) => {
    c.process.default_stack_size = '8MB';
    c.resource_limits.user_space_size = '512MB';
  });
  const out = (await run('/bin/limits')).out;
  assert.match(out, new RegExp(`as=${512 * 1024 * 1024}\n`));
  assert.match(out, new RegExp(`stack=${8 * 1024 * 1024}\n`));
});

async function refused(p: Promise<unknown>, code: number, pattern: RegExp): Promise<BackendError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof BackendError, String(err));
    assert.equal(err.exitCode, code);
    assert.match([...err.occlumLines, err.message].join('\n'), pattern);
    return err;
  }
  assert.fail('expected a refusal');
}

test('path checks: relative, "..", outside the entry points, missing, not executable', async () => {
  const { dir, b, logs } = await built(['hello']);
  await refused(b.run('bin/hello', []), 127, /program path must be absolute/);
  await refused(b.run('/bin/../bin/hello', []), 127, /cannot contain any parent component/);
  const e = await refused(
    b.run('/lib/libc.so', [], { logLevel: 'error' }),
    127,
    /program path is NOT a valid entry point/,
  );
  assert.match(e.occlumLines[1], /occlum_ecall_new_process returns EACCES/);
  assert.ok(
    logs.some((r) => r.level === 'error' && /NOT a valid entry point/.test(r.message)),
    'policy denial is logged',
  );
  await refused(b.run('/bin/nope', []), 127, /cannot find the file/);
  void dir;
});

test('a tampered image layer and a tampered protected config are refused', async () => {
  const { dir, b, run } = await built(['hello']);
  appendFileSync(join(dir, 'build/host/rootfs/bin/hello'), 'x');
  await refused(b.run('/bin/hello', []), 1, /tampered.*\/bin\/hello: size changed/);
  assert.ok((await b.build()).ok);
  // same size, different content: caught by the hash (stat cache invalidated by ctime)
  const f = join(dir, 'build/host/rootfs/etc/hosts');
  const text = readFileSync(f, 'utf8');
  writeFileSync(f, text.replace('localhost', 'localhosT'));
  await refused(b.run('/bin/hello', []), 1, /\/etc\/hosts: content differs/);
  assert.ok((await b.build()).ok);
  const cfg = join(dir, 'build/.Occlum_sys.json.protected');
  writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('"EXAMPLE"', '"SECRET"'));
  await refused(b.run('/bin/hello', []), 1, /protected config .* was modified after the build/);
  assert.ok((await b.build()).ok);
  assert.equal((await run('/bin/hello')).status, 0);
});

test('the packed secure image (Occlum SEFS) is verified against the config MAC before each run', async () => {
  const { dir, b, run } = await built(['hello']);
  const mac = readFileSync(join(dir, 'build/mount/.ROOT_MAC'), 'utf8');
  assert.match(mac, /^([0-9a-f]{2}-){15}[0-9a-f]{2}$/);
  assert.ok(
    readFileSync(join(dir, 'build/.Occlum_sys.json'), 'utf8').includes(`"MAC": "${mac}"`),
    'image MAC filled into the internal config',
  );
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'build/image_config.json'), 'utf8')), {
    image_type: 'integrity-only',
  });
  const root = join(dir, 'build/mount/__ROOT');
  const victim = readdirSync(root)
    .filter((n) => /^[0-9a-f]{32}$/.test(n))
    .sort()[0];
  const f = join(root, victim);
  const bytes = readFileSync(f);
  bytes[bytes.length - 100] ^= 0xff;
  writeFileSync(f, bytes);
  await refused(b.run('/bin/hello', []), 1, /secure image build\/mount\/__ROOT does not match the image MAC/);
  assert.ok((await b.build({ force: true })).ok);
  assert.equal((await run('/bin/hello')).status, 0);
});

test("build refuses non-PIE and glibc programs with Occlum's explanation and keeps the last good build", async () => {
  const { dir, b, run } = await built(['hello']);
  const { installFixtures } = await import('../helpers/fixtures.ts');
  installFixtures(dir, ['nonpie', 'glibc']);
  const r = await b.build();
  assert.equal(r.ok, false);
  const codes = r.problems.map((p) => `${p.path} ${p.code}`).sort();
  assert.deepEqual(codes, ['/bin/glibc loader-missing', '/bin/nonpie not-pie']);
  assert.match(r.problems.find((p) => p.code === 'loader-missing')!.explanation, /glibc/);
  assert.equal((await run('/bin/hello')).status, 0, 'the previous build still runs');
  assert.ok(!readdirSync(dir).some((n) => n.startsWith('.build')), 'no temp build dirs left');
});

test('build stops on config errors; runs use the built config, not later edits', async () => {
  const { dir, b, run } = await built(['env']);
  const cfgPath = join(dir, 'Occlum.json');
  const good = readFileSync(cfgPath, 'utf8');
  writeFileSync(cfgPath, good.replace('"OCCLUM=yes"', '"OCCLUM=changed"'));
  assert.match((await run('/bin/env')).out, /OCCLUM=yes/, 'edits need a rebuild, as in Occlum');
  writeFileSync(cfgPath, good.replace('"300MB"', '"300mb"'));
  const r = await b.build();
  assert.equal(r.ok, false);
  assert.ok(
    r.errors.some((e) => /user_space_size/.test(e)),
    r.errors.join('\n'),
  );
  assert.equal((await run('/bin/env')).status, 0);
});

test('state checks: not initialised, not built', async () => {
  const dir = makeInstance(['hello']);
  const b = new HostBackend(dir);
  await refused(b.run('/bin/hello', []), 1, /not built yet\. Need to run "occlum build" first/);
  const fresh = new HostBackend(join(dir, 'image'));
  await refused(fresh.run('/bin/hello', []), 1, /not initialized as an Occlum instance/);
  assert.equal(await b.status(), 'initialized');
});

test('mount table: ramfs is a fresh tmpfs per run, missing mount points refused', async () => {
  const { dir, b, run } = await built(['writer'], (c) => {
    c.mount.push({ target: '/tmp', type: 'ramfs' });
  });
  assert.match((await run('/bin/writer', ['/tmp/f'])).out, /has 1 line/);
  assert.match((await run('/bin/writer', ['/tmp/f'])).out, /has 1 line/, 'ramfs does not persist across runs');
  const cfg = JSON.parse(readFileSync(join(dir, 'Occlum.json'), 'utf8'));
  cfg.mount.push({ target: '/data', type: 'sefs', source: './data' });
  writeFileSync(join(dir, 'Occlum.json'), JSON.stringify(cfg, null, 4));
  assert.ok((await b.build()).ok);
  await refused(b.run('/bin/writer', []), 1, /mount point .*\/data missing/);
  mkdirSync(join(dir, 'image/data'));
  assert.ok((await b.build()).ok);
  assert.match((await run('/bin/writer', ['/data/f'])).out, /has 1 line/);
  assert.match((await run('/bin/writer', ['/data/f'])).out, /has 2 line/, 'non-root sefs persists under run/');
  chmodSync(join(dir, 'image/data'), 0o755);
});

test('incremental build: unchanged files are reused, a changed file is staged again and runs', async () => {
  const { dir, b, run } = await built(['hello', 'env']);
  const again = await b.build();
  assert.ok(again.ok);
  const fileCount =
    readdirSync(join(dir, 'image/bin')).length +
    readdirSync(join(dir, 'image/lib')).length +
    readdirSync(join(dir, 'image/etc')).length;
  assert.equal(again.filesReused, fileCount, 'every file reused');
  const { installFixtures } = await import('../helpers/fixtures.ts');
  installFixtures(dir, ['env']);
  const { copyFileSync } = await import('node:fs');
  copyFileSync(join(dir, 'image/bin/hello'), join(dir, 'image/bin/env'));
  const third = await b.build();
  assert.equal(third.filesReused, fileCount - 1);
  assert.match((await run('/bin/env')).out, /Hello from \/bin\/env/);
});

test('the stat cache a build writes has every layer file as it is (keys from the copy, or a walk after links)', async () => {
  const { dir, b } = await built(['hello']);
  const p = instancePaths(dir);
  const asNow = () =>
    Object.fromEntries(
      statTree(p.hostRootfs)
        .filter((e) => e.type === 'file')
        .map((e) => [`/${e.rel}`, e.key]),
    );
  // The first build copied every file: its keys are the copy's own.
  assert.deepEqual(JSON.parse(readFileSync(p.hostStatCache, 'utf8')), asNow());
  writeFileSync(join(dir, 'image/bin/data'), 'changed');
  // Staged again: one file copied, the rest linked from the build before (their ctimes moved).
  const again = await b.build();
  assert.ok(again.ok && again.filesReused > 0);
  assert.deepEqual(JSON.parse(readFileSync(p.hostStatCache, 'utf8')), asNow());
  // And once more, so the build before the last is removed (unlinks of shared inodes) first.
  assert.ok((await b.build()).ok);
  assert.deepEqual(JSON.parse(readFileSync(p.hostStatCache, 'utf8')), asNow());
});

test('--image-key: the image is packed encrypted, verified with the key, and runs', async () => {
  const { dir, b, run } = await built(['hello']);
  const keyFile = join(dir, '..', 'image_key');
  writeFileSync(
    keyFile,
    Array.from({ length: 16 }, (_, i) => ((i * 17 + 3) % 256).toString(16).padStart(2, '0')).join('-') + '\n',
  );
  const r = await b.build({ imageKey: keyFile, force: true });
  assert.ok(r.ok, r.warnings.join('\n'));
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'build/image_config.json'), 'utf8')), { image_type: 'encrypted' });
  assert.equal((await run('/bin/hello')).status, 0);
  assert.equal((await b.verify()).ok, true);
  const fs = await b.openFs({ layer: 'image' });
  assert.equal(fs.readFile('/etc/hosts').toString(), '127.0.0.1   localhost\n');
});

test('--image-key with a malformed key file fails the build and keeps the last one', async () => {
  const { dir, b, run } = await built(['hello']);
  const keyFile = join(dir, '..', 'bad_key');
  writeFileSync(keyFile, 'not-a-key\n');
  const r = await b.build({ imageKey: keyFile });
  assert.equal(r.ok, false);
  assert.match(r.errors.join('\n'), /image key file .*bad_key: expected 16 hex bytes/);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'build/image_config.json'), 'utf8')), {
    image_type: 'integrity-only',
  });
  assert.equal((await run('/bin/hello')).status, 0);
});
