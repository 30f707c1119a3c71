// Secure-FS facade over the native engine, on the real Occlum 0.28 image and the PF vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PF_VECTORS, WAMR_FIXTURE, needsCorpus } from '../helpers/paths.ts';
import {
  extract,
  imageInfo,
  mrsignerFromPem,
  openImage,
  openUnion,
  packImage,
  pfHeader,
  pfRead,
  pfVerify,
  readImageKeyFile,
  sgxSimKey,
  diffWithSource,
  type KeyMode,
  type Progress,
} from '../../src/core/securefs/index.ts';

const ROOT = join(WAMR_FIXTURE, 'build/mount/__ROOT');
const ROOT_MAC = needsCorpus(WAMR_FIXTURE)
  ? ''
  : readFileSync(join(WAMR_FIXTURE, 'build/mount/.ROOT_MAC'), 'utf8').trim();
const MISSING = [
  '/bin/mywamrc',
  '/bin/wamrc',
  '/lib/libstdc++.so.6',
  '/opt/occlum/glibc/lib/libc.so.6',
  '/opt/occlum/glibc/lib/libm.so.6',
];
const KEY1: KeyMode = {
  kind: 'image-key',
  key: Uint8Array.from(Buffer.from('00112233445566778899aabbccddeeff', 'hex')),
};

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'securefs-test-'));
}

test(
  'real image: lists the whole tree with metadata, reads files back, verifies to .ROOT_MAC',
  { skip: needsCorpus(WAMR_FIXTURE) },
  async () => {
    const v = openImage(ROOT);
    assert.equal(v.rootMac, ROOT_MAC);
    const all = v.walk();
    assert.equal(all.length, 35);
    const hosts = v.stat('/etc/hosts');
    assert.deepEqual(
      [hosts.type, hosts.size, hosts.inode, hosts.hostFile],
      ['file', 22, 11, '0b000000000000000000000000000000'],
    );
    assert.match(hosts.mac ?? '', /^([0-9a-f]{2}-){15}[0-9a-f]{2}$/);
    assert.deepEqual(
      v.list('/bin').map((e) => e.name),
      ['hello.aot', 'hello.wasm', 'mywamrc', 'wamrc', 'writefile'],
    );
    assert.equal(
      v.readlink('/opt/occlum/glibc/lib/ld-linux-x86-64.so.2'),
      readFileSync(join(WAMR_FIXTURE, 'image/opt/occlum/glibc/lib/ld-linux-x86-64.so.2'), 'utf8'),
    );
    assert.ok(v.readFile('/bin/hello.wasm').equals(readFileSync(join(WAMR_FIXTURE, 'image/bin/hello.wasm'))));
    assert.ok(
      (await v.readFileAsync('/opt/occlum/glibc/lib/libpthread.so.0')).equals(
        readFileSync(join(WAMR_FIXTURE, 'image/opt/occlum/glibc/lib/libpthread.so.0')),
      ),
    );
    assert.throws(
      () => v.readFile('/bin/wamrc'),
      (e: NodeJS.ErrnoException) => e.code === 'EMISSING' && /missing/.test(e.message),
    );
    assert.throws(
      () => v.stat('/nope'),
      (e: NodeJS.ErrnoException) => e.code === 'EMISSING',
    );
    const seen: Progress[] = [];
    const r = await v.verify({ onProgress: (p) => seen.push(p) });
    assert.equal(r.rootMac, ROOT_MAC);
    assert.equal(r.expectedRootMac, ROOT_MAC);
    assert.deepEqual(
      r.problems.map((p) => [p.path, p.kind]).sort(),
      MISSING.map((p) => [p, 'missing']),
    );
    assert.match(r.note ?? '', /consistent.*not that it is untampered/);
    assert.ok(seen.length > 0 && seen.at(-1)!.done === 35 && seen.at(-1)!.total === 35);
    assert.equal(imageInfo(ROOT).garbagePad, true);
  },
);

test('packImage reproduces a verifiable image; incremental reuses unchanged inodes; diff shows the change', async () => {
  const d = scratch();
  try {
    const src = join(d, 'image');
    mkdirSync(join(src, 'bin'), { recursive: true });
    writeFileSync(join(src, 'bin/app'), Buffer.alloc(100_000, 7));
    writeFileSync(join(src, 'hello.txt'), 'hello\n');
    symlinkSync('bin/app', join(src, 'app'));
    const opts = {
      src,
      outRoot: join(d, 'build/mount/__ROOT'),
      macFile: join(d, 'build/mount/.ROOT_MAC'),
      key: { kind: 'integrity-only' } as KeyMode,
      incremental: true,
    };
    const r1 = await packImage(opts);
    assert.equal(readFileSync(opts.macFile, 'utf8'), r1.rootMac);
    assert.equal(r1.filesPacked, 5);
    const v = openImage(opts.outRoot);
    assert.equal((await v.verify()).ok, true);
    assert.equal(v.readFile('/hello.txt').toString(), 'hello\n');
    assert.deepEqual(await diffWithSource(v, src), []);
    writeFileSync(join(src, 'hello.txt'), 'changed\n');
    assert.deepEqual(
      (await diffWithSource(v, src)).map((i) => [i.path, i.change]),
      [['/hello.txt', 'changed']],
    );
    const r2 = await packImage(opts);
    assert.equal(r2.filesPacked, 1);
    assert.equal(r2.filesReused, 4);
    const v2 = openImage(opts.outRoot);
    assert.equal(v2.readFile('/hello.txt').toString(), 'changed\n');
    assert.equal((await v2.verify()).ok, true);
    // Image key: readable only with the key.
    const enc = { ...opts, outRoot: join(d, 'enc/__ROOT'), macFile: join(d, 'enc/.ROOT_MAC'), key: KEY1 };
    await packImage(enc);
    assert.equal(openImage(enc.outRoot, KEY1).readFile('/hello.txt').toString(), 'changed\n');
    assert.throws(
      () => openImage(enc.outRoot),
      (e: NodeJS.ErrnoException) => e.code === 'EWRONGMODE',
    );
    assert.equal((await openImage(enc.outRoot, KEY1).verify()).note, undefined);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('union view: run layer over image with whiteouts, opaque dirs and the .ufs.mac binding', async () => {
  const d = scratch();
  try {
    const img = join(d, 'img');
    mkdirSync(join(img, 'etc'), { recursive: true });
    mkdirSync(join(img, 'opt/keep'), { recursive: true });
    writeFileSync(join(img, 'etc/hosts'), 'image hosts');
    writeFileSync(join(img, 'etc/gone'), 'deleted later');
    writeFileSync(join(img, 'opt/keep/x'), 'hidden by opaque');
    const im = await packImage({
      src: img,
      outRoot: join(d, 'build/__ROOT'),
      macFile: join(d, 'build/.ROOT_MAC'),
      key: KEY1,
    });
    const run = join(d, 'runsrc');
    mkdirSync(join(run, 'etc'), { recursive: true });
    mkdirSync(join(run, 'opt/keep'), { recursive: true });
    writeFileSync(join(run, '.ufs.mac'), Buffer.from(im.rootMac.split('-').map((h) => parseInt(h, 16))));
    writeFileSync(join(run, 'etc/hosts'), 'run hosts');
    writeFileSync(join(run, 'etc/.ufs.wh.gone'), '');
    writeFileSync(join(run, 'opt/.ufs.opq.keep'), '');
    writeFileSync(join(run, 'opt/keep/y'), 'new');
    await packImage({ src: run, outRoot: join(d, 'run/__ROOT'), macFile: join(d, 'run/.ROOT_MAC'), key: KEY1 });
    const u = openUnion(join(d, 'build/__ROOT'), join(d, 'run/__ROOT'), { imageKey: KEY1 });
    assert.equal(u.info().binding, 'ok');
    assert.deepEqual(
      u.list('/etc').map((e) => [e.name, e.layer]),
      [
        ['gone', 'deleted'],
        ['hosts', 'run'],
      ],
    );
    assert.equal(u.readFile('/etc/hosts').toString(), 'run hosts');
    assert.deepEqual(
      u.list('/opt/keep').map((e) => e.name),
      ['y'],
    );
    assert.deepEqual(
      u.list('/').map((e) => e.name),
      ['etc', 'opt'],
    );
    assert.throws(() => u.stat('/etc/gone'), /whiteout/);
    const r = await u.verify();
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    assert.throws(() => openUnion(join(d, 'build/__ROOT'), join(d, 'run/__ROOT')), /auto key/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test(
  'protected files: vectors in all three modes, wrong keys, foreign formats',
  { skip: needsCorpus(PF_VECTORS, WAMR_FIXTURE) },
  async () => {
    const plain = (n: string) => readFileSync(join(PF_VECTORS, `${n}.plain`));
    assert.ok((await pfRead(join(PF_VECTORS, 'io-3073'))).equals(plain('io-3073')));
    assert.ok((await pfRead(join(PF_VECTORS, 'uk-500000'), KEY1)).equals(plain('uk-500000')));
    const sim = await pfVerify(join(PF_VECTORS, 'sim-dbg-500000'), sgxSimKey());
    assert.equal(sim.mac, '1f-5e-b2-7c-79-3b-5b-9c-9c-e1-ad-e9-d4-1a-5e-20');
    const rec = await pfVerify(join(PF_VECTORS, 'io-interrupted'));
    assert.equal(rec.recovered, true);
    assert.equal(
      createHash('sha256')
        .update(await pfRead(join(PF_VECTORS, 'io-interrupted')))
        .digest('hex'),
      'd8a95ba4b891f42c94b72d9a62b6cb3bcaa6f6ff7e98430377d0c1680512742a',
    );
    await assert.rejects(
      pfVerify(join(PF_VECTORS, 'sim-dbg-100'), sgxSimKey({ debuggable: false })),
      (e: NodeJS.ErrnoException) => e.code === 'EWRONGKEY',
    );
    await assert.rejects(
      pfVerify(join(PF_VECTORS, 'uk-100')),
      (e: NodeJS.ErrnoException) => e.code === 'EWRONGMODE' && /--image-key/.test(e.message),
    );
    const hw = join(WAMR_FIXTURE, 'run/mount/__ROOT/metadata');
    await assert.rejects(
      pfVerify(hw, sgxSimKey()),
      (e: NodeJS.ErrnoException) => e.code === 'EWRONGKEY' && /hardware/.test(e.message),
    );
    assert.equal(pfHeader(hw).useUserKdkKey, 0);
  },
);

test('keys: image key files, MRSIGNER from a PEM sign key (little-endian modulus)', () => {
  const d = scratch();
  try {
    writeFileSync(join(d, 'key'), '00-11-22-33-44-55-66-77-88-99-aa-bb-cc-dd-ee-ff\n');
    assert.deepEqual(readImageKeyFile(join(d, 'key')), KEY1);
    writeFileSync(join(d, 'bad'), '0011');
    assert.throws(() => readImageKeyFile(join(d, 'bad')), /gen-image-key/);
    assert.throws(() => readImageKeyFile(join(d, 'none')), /not found/);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 3 });
    const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const n = Buffer.from((privateKey.export({ format: 'jwk' }) as { n: string }).n, 'base64url');
    const expected = createHash('sha256').update(Buffer.from(n).reverse()).digest('hex');
    assert.equal(Buffer.from(mrsignerFromPem(pem)).toString('hex'), expected);
    assert.throws(() => sgxSimKey({ mrsignerHex: 'abc' }), /64 hex digits/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('extract writes the subtree and never outside the destination', { skip: needsCorpus(WAMR_FIXTURE) }, async () => {
  const d = scratch();
  try {
    const v = openImage(ROOT);
    const r = await extract(v, '/opt/occlum/glibc', join(d, 'out'));
    assert.equal(r.symlinks, 1);
    assert.ok(
      readFileSync(join(d, 'out/glibc/lib/libgcc_s.so.1')).equals(
        readFileSync(join(WAMR_FIXTURE, 'image/opt/occlum/glibc/lib/libgcc_s.so.1')),
      ),
    );
    assert.equal(
      readlinkSync(join(d, 'out/glibc/lib/ld-linux-x86-64.so.2')),
      readFileSync(join(WAMR_FIXTURE, 'image/opt/occlum/glibc/lib/ld-linux-x86-64.so.2'), 'utf8'),
    );
    // Image symlinks are created last and never written through; a symlink already in the
    // destination that leads outside is refused instead of followed.
    const src = join(d, 'hostile');
    mkdirSync(join(src, 'etc'), { recursive: true });
    writeFileSync(join(src, 'etc/hosts'), 'x');
    symlinkSync('/', join(src, 'root-link'));
    await packImage({
      src,
      outRoot: join(d, 'h/__ROOT'),
      macFile: join(d, 'h/.ROOT_MAC'),
      key: { kind: 'integrity-only' },
    });
    const img = openImage(join(d, 'h/__ROOT'));
    await extract(img, '/', join(d, 'out2'));
    assert.equal(readlinkSync(join(d, 'out2/root-link')), '/');
    assert.equal(readFileSync(join(d, 'out2/etc/hosts'), 'utf8'), 'x');
    const outside = join(d, 'outside');
    mkdirSync(outside);
    mkdirSync(join(d, 'out3'));
    symlinkSync(outside, join(d, 'out3/etc'));
    await assert.rejects(() => extract(img, '/', join(d, 'out3')), /not a directory|outside/);
    assert.equal(readdirSync(outside).length, 0);
    await assert.rejects(
      () => extract(img, '/', join(d, 'out2')),
      /etc\/hosts: already exists; extract does not overwrite/,
    );
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('verify and pack run off the main thread (the event loop keeps turning meanwhile)', async () => {
  const d = scratch();
  try {
    const src = join(d, 'src');
    mkdirSync(src);
    for (let i = 0; i < 40; i++) writeFileSync(join(src, `f${i}`), Buffer.alloc(1 << 20, i));
    let turns = 0;
    let spinning = true;
    const spin = () => {
      turns++;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    const r = await packImage({ src, outRoot: join(d, '__ROOT'), macFile: join(d, '.ROOT_MAC'), key: KEY1 });
    const packTurns = turns;
    const v = await openImage(join(d, '__ROOT'), KEY1).verify();
    spinning = false;
    assert.equal(v.ok, true);
    assert.equal(v.rootMac, r.rootMac);
    // A synchronous native call would block the loop: zero turns while it runs.
    assert.ok(packTurns > 1, `event loop turned ${packTurns} times during pack`);
    assert.ok(turns > packTurns + 1, `event loop turned ${turns - packTurns} times during verify`);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
