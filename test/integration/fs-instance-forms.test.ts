// Instances as users bring them from elsewhere: encrypted with the key built into the initfs
// (`occlum build --buildin-image-key`), and packaged (`occlum package`: no image/, no
// image_config.json, no plain generated configs). `fs` must read them as Occlum's init would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { WAMR_FIXTURE, needsCorpus } from '../helpers/paths.ts';

const KEY = '00-11-22-33-44-55-66-77-88-99-aa-bb-cc-dd-ee-ff';

/** An instance whose image is encrypted with KEY; `initfsKey`: the content of the initfs /etc/image_key. */
function encrypted(d: string, name: string, initfsKey?: string): string {
  const inst = join(d, name);
  mkdirSync(join(inst, 'build'), { recursive: true });
  writeFileSync(join(inst, '.__occlum_status'), 'built\n');
  writeFileSync(join(inst, 'Occlum.json'), '{}\n');
  const src = join(d, `${name}-image`);
  mkdirSync(join(src, 'etc'), { recursive: true });
  writeFileSync(join(src, 'etc/hosts'), 'secret hosts\n');
  writeFileSync(join(d, 'key'), KEY + '\n');
  assert.equal(runCli(['fs', 'pack', src, '-C', inst, '--image-key', join(d, 'key')]).status, 0);
  if (initfsKey !== undefined) {
    const initfs = join(d, `${name}-initfs`);
    mkdirSync(join(initfs, 'etc'), { recursive: true });
    writeFileSync(join(initfs, 'etc/image_key'), initfsKey);
    writeFileSync(join(initfs, 'etc/image_config.json'), '{"image_type":"encrypted"}\n');
    const out = join(inst, 'build/initfs/__ROOT');
    const p = runCli([
      'fs',
      'pack',
      initfs,
      '-C',
      inst,
      '--out',
      out,
      '--mac-file',
      join(inst, 'build/initfs/.ROOT_MAC'),
    ]);
    assert.equal(p.status, 0, p.stderr);
  }
  return inst;
}

test('an encrypted instance is read with the key built into its initfs, with or without image_config.json', () => {
  const d = mkdtempSync(join(tmpdir(), 'fs-forms-'));
  try {
    const inst = encrypted(d, 'builtin', KEY + '\n');
    writeFileSync(join(inst, 'build/image_config.json'), '{"image_type":"encrypted"}\n');
    const cat = runCli(['fs', 'cat', '-C', inst, '/etc/hosts']);
    assert.equal(cat.status, 0, cat.stderr);
    assert.equal(cat.stdout, 'secret hosts\n');
    assert.equal(runCli(['fs', 'verify', '-C', inst]).status, 0);
    // Packaged: no image_config.json; the metadata header says the image is encrypted.
    rmSync(join(inst, 'build/image_config.json'));
    assert.equal(runCli(['fs', 'cat', '-C', inst, '/etc/hosts']).stdout, 'secret hosts\n');

    // The initfs itself, as a layer: integrity-only whatever the image's key, checked against its own MAC.
    const ini = runCli(['fs', 'cat', '-C', inst, '--layer', 'initfs', '/etc/image_config.json']);
    assert.equal(ini.stdout, '{"image_type":"encrypted"}\n');
    const iv = runCli(['fs', 'verify', '-C', inst, '--layer', 'initfs']);
    assert.equal(iv.status, 0, iv.stdout + iv.stderr);
    assert.match(iv.stdout, /from .*build\/initfs\/\.ROOT_MAC/);

    // A stale image_config.json (a key change built without -f) does not outvote the header.
    const plain = join(d, 'plain');
    mkdirSync(join(plain, 'src/etc'), { recursive: true });
    writeFileSync(join(plain, 'src/etc/hosts'), 'plain\n');
    writeFileSync(join(plain, '.__occlum_status'), 'built\n');
    assert.equal(runCli(['fs', 'pack', join(plain, 'src'), '-C', plain]).status, 0);
    writeFileSync(join(plain, 'build/image_config.json'), '{"image_type":"encrypted"}\n');
    const stale = runCli(['fs', 'cat', '-C', plain, '/etc/hosts']);
    assert.equal(stale.status, 0, stale.stderr);
    assert.equal(stale.stdout, 'plain\n');

    // No key built in: the message names both ways out.
    const none = encrypted(d, 'none');
    const r = runCli(['fs', 'ls', '-C', none]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /the image is encrypted \(its metadata's header\): pass --image-key FILE/);
    assert.match(r.stderr, /\/etc\/image_key/);
    assert.equal(runCli(['fs', 'ls', '-C', none, '--image-key', join(d, 'key')]).status, 0);
    const noInitfs = runCli(['fs', 'ls', '-C', none, '--layer', 'initfs']);
    assert.equal(noInitfs.status, 2);
    assert.match(noInitfs.stderr, /no initfs image \(build\/initfs\/__ROOT\/metadata is missing\)/);

    // A built-in "key" that is not one (hostile or damaged initfs): said, never shown raw.
    const bad = encrypted(d, 'bad', '\x1b[2Jnot-a-key');
    const b = runCli(['fs', 'ls', '-C', bad]);
    assert.equal(b.status, 2);
    assert.match(b.stderr, /built-in key cannot be read \(initfs \/etc\/image_key is not an image key/);
    assert.doesNotMatch(b.stderr, /\x1b/);
    const huge = encrypted(d, 'huge', 'x'.repeat(100_000));
    assert.match(runCli(['fs', 'ls', '-C', huge]).stderr, /is 100000 bytes: not an image key file/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test(
  'a packaged 0.28 instance (no .ROOT_MAC, no plain configs) is verified against the MAC in build/Occlum.json.protected',
  { skip: needsCorpus(WAMR_FIXTURE) },
  () => {
    const d = mkdtempSync(join(tmpdir(), 'fs-forms-'));
    try {
      const inst = join(d, 'pkg');
      cpSync(WAMR_FIXTURE, inst, { recursive: true });
      // The corpus is read-only; the copy must not be (files are removed, the copy is cleaned up).
      assert.equal(spawnSync('chmod', ['-R', 'u+w', inst]).status, 0);
      const mac = readFileSync(join(inst, 'build/mount/.ROOT_MAC'), 'utf8').trim();
      for (const f of [
        'build/mount/.ROOT_MAC',
        'build/Occlum.json',
        'build/.Occlum_sys.json',
        'build/image_config.json',
      ])
        rmSync(join(inst, f));
      const r = runCli(['fs', 'verify', '-C', inst, '--json']);
      const rep = JSON.parse(r.stdout) as { expectedRootMac: string; problems: { kind: string }[] };
      assert.equal(rep.expectedRootMac, mac);
      assert.ok(
        rep.problems.every((p) => p.kind === 'missing'),
        'only the files the fixture lacks',
      );
      assert.match(runCli(['fs', 'verify', '-C', inst]).stdout, /from build\/Occlum\.json\.protected/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  },
);

test('fs verify fails an image that matches .ROOT_MAC but not the root MAC the enclave config expects', () => {
  const d = mkdtempSync(join(tmpdir(), 'fs-forms-'));
  try {
    const inst = join(d, 'inst');
    mkdirSync(join(inst, 'image/etc'), { recursive: true });
    writeFileSync(join(inst, 'image/etc/hosts'), 'one\n');
    writeFileSync(join(inst, '.__occlum_status'), 'built\n');
    assert.equal(runCli(['fs', 'pack', '-C', inst]).status, 0);
    const built = readFileSync(join(inst, 'build/mount/.ROOT_MAC'), 'utf8').trim();
    // What a build writes: the image layer's MAC in the generated config.
    const layer = { target: '/', type: 'sefs', source: './build/mount/__ROOT', options: { MAC: built } };
    writeFileSync(
      join(inst, 'build/.Occlum_sys.json'),
      JSON.stringify({ mount: [{ target: '/', type: 'unionfs', options: { layers: [layer] } }] }),
    );
    assert.equal(runCli(['fs', 'verify', '-C', inst]).status, 0);
    // Repacked after the build: consistent with .ROOT_MAC, refused by the enclave.
    writeFileSync(join(inst, 'image/etc/hosts'), 'two\n');
    assert.equal(runCli(['fs', 'pack', '-C', inst]).status, 0);
    const v = runCli(['fs', 'verify', '-C', inst]);
    assert.equal(v.status, 1);
    assert.match(v.stdout, /^FAILED: /);
    assert.match(
      v.stdout,
      new RegExp(`stale-config +the enclave config \\(build/\\.Occlum_sys\\.json\\) expects root MAC ${built}, not `),
    );
    const j = JSON.parse(runCli(['fs', 'verify', '-C', inst, '--json']).stdout);
    assert.equal(j.ok, false);
    assert.equal(j.configRootMac, built);
    assert.deepEqual(j.problems, []);
    // An explicit --mac is the caller's word: no cross-check.
    const mac = readFileSync(join(inst, 'build/mount/.ROOT_MAC'), 'utf8').trim();
    assert.equal(runCli(['fs', 'verify', '-C', inst, '--mac', mac]).status, 0);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
