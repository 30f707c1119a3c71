// `occlum-studio fs …` run as users run it (built CLI) on the real Occlum 0.28 instance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { runCli } from '../helpers/cli.ts';
import { newInstance } from '../../src/core/instance/init.ts';
import { CLI, PF_VECTORS, WAMR_FIXTURE, needsCorpus } from '../helpers/paths.ts';

const F = WAMR_FIXTURE;
const MAC = needsCorpus(F) ? '' : readFileSync(join(F, 'build/mount/.ROOT_MAC'), 'utf8').trim();

test('fs ls/stat/cat/tree on the real instance', { skip: needsCorpus(F) }, () => {
  const ls = runCli(['fs', 'ls', '-C', F, '/bin', '--json']);
  assert.equal(ls.status, 0, ls.stderr);
  const entries = JSON.parse(ls.stdout) as { name: string; size: number; inode: number }[];
  assert.deepEqual(
    entries.map((e) => e.name),
    ['hello.aot', 'hello.wasm', 'mywamrc', 'wamrc', 'writefile'],
  );
  const stat = JSON.parse(
    runCli(['fs', 'stat', '-C', F, '/opt/occlum/glibc/lib/ld-linux-x86-64.so.2', '--json']).stdout,
  );
  assert.equal(stat.type, 'symlink');
  assert.equal(stat.target, '/lib64/ld-linux-x86-64.so.2');
  const cat = runCli(['fs', 'cat', '-C', F, '/etc/hosts']);
  assert.equal(cat.stdout, readFileSync(join(F, 'image/etc/hosts'), 'utf8'));
  const tree = runCli(['fs', 'tree', '-C', F, '--json']);
  assert.equal(JSON.parse(tree.stdout).length, 35);
  // A bare __ROOT works too.
  const bare = runCli(['fs', 'ls', '-C', join(F, 'build/mount/__ROOT')]);
  assert.match(bare.stdout, /opt\//);
  const missing = runCli(['fs', 'cat', '-C', F, '/bin/wamrc']);
  assert.equal(missing.status, 2, 'a path the image lacks is an input error');
  assert.match(missing.stderr, /missing/);
  const usage = runCli(['fs', 'stat', '-C', F]);
  assert.equal(usage.status, 2);
});

test(
  'fs verify reports the five missing files against .ROOT_MAC and the integrity-only caveat',
  { skip: needsCorpus(F) },
  () => {
    const r = runCli(['fs', 'verify', '-C', F, '--json']);
    assert.equal(r.status, 1);
    const rep = JSON.parse(r.stdout);
    assert.equal(rep.rootMac, MAC);
    assert.equal(rep.expectedRootMac, MAC);
    assert.equal(rep.problems.length, 5);
    assert.ok(rep.problems.every((p: { kind: string }) => p.kind === 'missing'));
    assert.match(rep.note, /not that it is untampered/);
    const wrong = runCli(['fs', 'verify', '-C', F, '--mac', '00-11-22-33-44-55-66-77-88-99-aa-bb-cc-dd-ee-ff']);
    assert.match(wrong.stdout, /mac-mismatch +\/ /);
    const merged = runCli(['fs', 'ls', '-C', F, '--layer', 'merged']);
    assert.equal(merged.status, 2);
    assert.match(merged.stderr, /hardware/);
  },
);

test('fs pack + verify + diff + extract round trip, incremental and with an image key', () => {
  const d = mkdtempSync(join(tmpdir(), 'fs-cli-'));
  try {
    // A fresh instance's image/ (our own case: etc/hosts, musl when present, empty dirs).
    const inst = join(d, 'inst');
    newInstance(inst);
    writeFileSync(join(inst, 'image/bin/tool'), Buffer.alloc(200_000, 7));
    const p1 = runCli(['fs', 'pack', '-C', inst, '--json']);
    assert.equal(p1.status, 0, p1.stderr);
    const r1 = JSON.parse(p1.stdout);
    assert.equal(readFileSync(join(inst, 'build/mount/.ROOT_MAC'), 'utf8'), r1.rootMac);
    assert.equal(runCli(['fs', 'verify', '-C', inst]).status, 0);
    assert.equal(runCli(['fs', 'diff', '-C', inst]).status, 0);
    writeFileSync(join(inst, 'image/etc/hosts'), '10.0.0.1 changed\n');
    const diff = runCli(['fs', 'diff', '-C', inst, '--json']);
    assert.deepEqual(
      JSON.parse(diff.stdout).items.map((i: { path: string; change: string }) => [i.path, i.change]),
      [['/etc/hosts', 'changed']],
    );
    const p2 = JSON.parse(runCli(['fs', 'pack', '-C', inst, '--json']).stdout);
    assert.equal(p2.filesPacked, 1);
    assert.equal(runCli(['fs', 'cat', '-C', inst, '/etc/hosts']).stdout, '10.0.0.1 changed\n');
    const ex = runCli(['fs', 'extract', '-C', inst, '/etc', join(d, 'out')]);
    assert.equal(ex.status, 0, ex.stdout + ex.stderr);
    assert.equal(readFileSync(join(d, 'out/etc/hosts'), 'utf8'), '10.0.0.1 changed\n');
    // Image key.
    writeFileSync(join(d, 'key'), '00-11-22-33-44-55-66-77-88-99-aa-bb-cc-dd-ee-ff');
    const enc = join(d, 'enc');
    mkdirSync(enc);
    const pe = runCli(['fs', 'pack', '-C', enc, join(inst, 'image'), '--image-key', join(d, 'key')]);
    assert.equal(pe.status, 0, pe.stderr);
    assert.equal(runCli(['fs', 'verify', '-C', enc, '--image-key', join(d, 'key')]).status, 0);
    const nokey = runCli(['fs', 'ls', '-C', enc]);
    assert.equal(nokey.status, 2);
    assert.match(nokey.stderr, /--image-key/);
    assert.ok(!existsSync(join(d, 'enc/build/mount/__ROOT.tmp-')));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('fs pf info|cat|verify on single protected files', { skip: needsCorpus(PF_VECTORS) }, () => {
  const info = runCli(['fs', 'pf', 'info', join(PF_VECTORS, 'io-14000000'), '--json']);
  assert.equal(info.status, 0, info.stderr);
  const j = JSON.parse(info.stdout);
  assert.equal(j.info.mac, '1c-6b-60-40-ca-d0-de-67-6d-1e-aa-f2-27-61-8b-4a');
  assert.equal(j.info.nodes, 3455);
  const d = mkdtempSync(join(tmpdir(), 'fs-pf-'));
  try {
    writeFileSync(join(d, 'key'), '00-11-22-33-44-55-66-77-88-99-aa-bb-cc-dd-ee-ff');
    const cat = runCli(['fs', 'pf', 'cat', join(PF_VECTORS, 'uk-5000'), '--image-key', join(d, 'key')], {
      encoding: 'buffer',
    } as never);
    assert.equal(cat.status, 0);
    const sim = runCli(['fs', 'pf', 'verify', join(PF_VECTORS, 'sim-dbg-100'), '--sgx-sim', '--json']);
    assert.equal(JSON.parse(sim.stdout).ok, true);
    const rel = runCli(['fs', 'pf', 'verify', join(PF_VECTORS, 'sim-dbg-100'), '--sgx-sim', '--release', '--json']);
    assert.equal(rel.status, 1);
    assert.equal(JSON.parse(rel.stdout).code, 'EWRONGKEY');
    const mode = runCli(['fs', 'pf', 'verify', join(PF_VECTORS, 'uk-100')]);
    assert.match(mode.stdout, /--image-key/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test(
  'fs --layer merged|run --sgx-sim on a simulation-mode instance (run layer sealed with the SIM auto key)',
  { skip: needsCorpus(F) },
  async () => {
    const { loadNative } = await import('../../src/core/securefs/native.ts');
    const d = mkdtempSync(join(tmpdir(), 'fs-sim-'));
    try {
      const inst = join(d, 'inst');
      cpSync(join(F, 'image'), join(inst, 'image'), { recursive: true });
      writeFileSync(join(inst, '.sgx_mode'), 'SIM');
      writeFileSync(
        join(inst, 'Occlum.json'),
        JSON.stringify({ metadata: { product_id: 0, version_number: 0, debuggable: true } }),
      );
      const packed = JSON.parse(runCli(['fs', 'pack', '-C', inst, '--json']).stdout);
      // Test double for what a simulation-mode enclave leaves in run/mount/__ROOT: a run layer
      // written by our PF writer under the SIM auto key (Occlum's default identity), bound to the image.
      const run = join(d, 'runsrc');
      mkdirSync(join(run, 'etc'), { recursive: true });
      mkdirSync(join(run, 'root'), { recursive: true });
      writeFileSync(join(run, '.ufs.mac'), Buffer.from(packed.rootMac.split('-').map((h: string) => parseInt(h, 16))));
      writeFileSync(join(run, 'etc/hosts'), '10.1.1.1 written-at-run-time\n');
      writeFileSync(join(run, 'etc/.ufs.wh.localtime'), '');
      writeFileSync(join(run, 'root/.history'), 'ls\n');
      const sim = 'sim:83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e:0:0:1';
      loadNative().call('pack', [run, join(inst, 'run/mount/__ROOT'), join(d, 'run.ROOT_MAC'), sim, '0']);
      const ls = runCli(['fs', 'ls', '-C', inst, '--layer', 'merged', '--sgx-sim', '/etc', '--json']);
      assert.equal(ls.status, 0, ls.stderr);
      assert.deepEqual(
        JSON.parse(ls.stdout).map((e: { name: string; layer: string }) => [e.name, e.layer]),
        [
          ['hosts', 'run'],
          ['localtime', 'deleted'],
        ],
      );
      assert.equal(
        runCli(['fs', 'cat', '-C', inst, '--layer', 'merged', '--sgx-sim', '/etc/hosts']).stdout,
        '10.1.1.1 written-at-run-time\n',
      );
      assert.equal(
        runCli(['fs', 'cat', '-C', inst, '--layer', 'merged', '--sgx-sim', '/bin/hello.aot']).stdout,
        readFileSync(join(F, 'image/bin/hello.aot'), 'utf8'),
      );
      const tree = runCli(['fs', 'tree', '-C', inst, '--layer', 'run', '--sgx-sim']);
      assert.match(tree.stdout, /\.history/);
      const v = runCli(['fs', 'verify', '-C', inst, '--layer', 'merged', '--sgx-sim', '--json']);
      assert.equal(v.status, 0, v.stdout);
      const nokey = runCli(['fs', 'ls', '-C', inst, '--layer', 'run']);
      assert.equal(nokey.status, 2);
      assert.match(nokey.stderr, /--sgx-sim/);
      const rel = runCli(['fs', 'ls', '-C', inst, '--layer', 'run', '--sgx-sim', '--release']);
      assert.equal(rel.status, 2, 'a key that does not fit is an input error');
      assert.match(rel.stderr, /wrong SGX-simulation identity/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  },
);

test(
  'fs verify takes the expected root MAC from the generated config when .ROOT_MAC is absent',
  { skip: needsCorpus(F) },
  () => {
    const d = mkdtempSync(join(tmpdir(), 'fs-cfg-'));
    try {
      cpSync(join(F, 'build/mount/__ROOT'), join(d, 'build/mount/__ROOT'), { recursive: true });
      cpSync(join(F, 'build/Occlum.json'), join(d, 'build/Occlum.json'));
      cpSync(join(F, 'build/.Occlum_sys.json'), join(d, 'build/.Occlum_sys.json'));
      const r = JSON.parse(runCli(['fs', 'verify', '-C', d, '--json']).stdout);
      // 0.28 keeps the image MAC in build/Occlum.json; .Occlum_sys.json only has the initfs MAC.
      assert.equal(r.expectedFrom, 'build/Occlum.json');
      assert.equal(r.expectedRootMac, MAC);
      assert.ok(r.problems.every((p: { kind: string }) => p.kind === 'missing'));
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  },
);

test('fs cat streams a file bigger than one read chunk; a reader that goes away ends it quietly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-cat-big-'));
  try {
    mkdirSync(join(dir, 'src'));
    const big = randomBytes(20 * 1048576 + 12345); // three 8 MiB ranged reads
    writeFileSync(join(dir, 'src/big'), big);
    const root = join(dir, '__ROOT');
    assert.equal(
      runCli(['fs', 'pack', join(dir, 'src'), '--out', root, '--mac-file', join(dir, '.ROOT_MAC')]).status,
      0,
    );
    const cat = runCli(['fs', 'cat', '-C', root, '/big'], { encoding: 'latin1', maxBuffer: 64 * 1048576 });
    assert.equal(cat.status, 0, cat.stderr);
    assert.ok(Buffer.from(cat.stdout, 'latin1').equals(big), 'fs cat output equals the packed file');
    const head = spawnSync(
      'bash',
      ['-c', `"${process.execPath}" "${CLI}" fs cat -C "${root}" /big | head -c 10 | wc -c; echo "\${PIPESTATUS[0]}"`],
      { encoding: 'utf8' },
    );
    assert.deepEqual(head.stdout.trim().split(/\s+/), ['10', '0'], head.stderr);
    assert.equal(head.stderr, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
