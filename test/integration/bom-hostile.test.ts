// Hostile boms through the built CLI (`occlum-studio bom copy/check`): entries that climb out of
// the root, symlinks planted in the root, special files where a bom or a source belongs,
// include bombs, YAML bombs, crafted ELF files for autodep, names with control bytes or invalid
// UTF-8. Each probe checks the outcome on disk (a canary outside the root untouched, nothing
// written on an error) and that the CLI ends promptly with a located, one-line error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.ts';
import { craftElf, elfWithInterp, PT_DYNAMIC, PT_LOAD, PT_NOTE } from '../helpers/crafted-elf.ts';

/** A workspace: ws/app.txt, ws/app.yaml (the bom), ws/inst (cwd; root "image"), a canary dir. */
function workspace(bom: string, files: Record<string, string | Buffer> = {}) {
  const ws = mkdtempSync(join(tmpdir(), 'bom-hostile-'));
  mkdirSync(join(ws, 'inst'));
  writeFileSync(join(ws, 'app.txt'), 'app\n');
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(ws, name, '..'), { recursive: true });
    writeFileSync(join(ws, name), content);
  }
  writeFileSync(join(ws, 'app.yaml'), bom);
  const canary = join(ws, 'canary');
  mkdirSync(canary);
  writeFileSync(join(canary, 'precious'), 'precious\n');
  return { ws, inst: join(ws, 'inst'), root: join(ws, 'inst', 'image'), canary };
}

/** Fails the test on a hang (killed by the timeout) or a crash, not only on a wrong answer. */
function copy(inst: string, extra: string[] = [], env: Record<string, string> = {}): CliResult {
  const r = runCli(['bom', 'copy', '-f', '../app.yaml', '--root', 'image', ...extra], {
    cwd: inst,
    timeout: 60_000,
    env: { NODE_OPTIONS: '--max-old-space-size=256', ...env },
  });
  assert.notEqual(r.status, -1, `killed (a hang?): ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at |heap out of memory|RangeError/, r.stderr);
  return r;
}

/** The canary holds exactly what it was made with. */
function assertCanary(canary: string): void {
  assert.deepEqual(readdirSync(canary), ['precious']);
  assert.equal(readFileSync(join(canary, 'precious'), 'utf8'), 'precious\n');
}

const RAW_CONTROL = /[\x1b\x07\x0b\x0c\r]/;

test('entries that climb out of the root are refused before anything is written', () => {
  const up = '../../canary';
  const cases: [string, string, Record<string, string>?][] = [
    ['target', `targets:\n  - target: /${up}\n    copy:\n      - files: [../app.txt]\n`],
    ['mkdirs', `targets:\n  - target: /bin\n    mkdirs: [../${up}/x]\n`],
    ['createlinks', `targets:\n  - target: /\n    createlinks:\n      - {src: /etc, linkname: ${up}/l}\n`],
    [
      'rename',
      `targets:\n  - target: /bin\n    copy:\n      - files:\n          - {name: ../app.txt, rename: ../${up}/p}\n`,
    ],
    ['a variable holding ".."', 'targets:\n  - target: /$UP\n    copy:\n      - files: [../app.txt]\n', { UP: up }],
    ['".." after a real dir', `targets:\n  - target: /bin/../../canary\n    mkdirs: [x]\n`],
  ];
  for (const [what, bom, env] of cases) {
    const { inst, root, canary } = workspace(bom);
    const r = copy(inst, [], env);
    assert.equal(r.status, 1, `${what}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /outside the root/, what);
    assert.match(r.stderr, /app\.yaml:\d+:\d+: error/, what);
    assert.equal(existsSync(root), false, `${what}: nothing written`);
    assertCanary(canary);
  }
});

test("an absolute mkdirs, link name or rename (copy_bom's join puts it in place of the target) is refused, named as such", () => {
  const cases: [string, (canary: string) => string, RegExp][] = [
    [
      'mkdirs',
      (c) => `targets:\n  - target: /bin\n    mkdirs: [${c}/made]\n`,
      /app\.yaml:3:14: error: mkdirs ".*\/canary\/made" is an absolute path/,
    ],
    [
      'linkname',
      (c) => `targets:\n  - target: /bin\n    createlinks:\n      - {src: /etc/passwd, linkname: ${c}/l}\n`,
      /app\.yaml:4:38: error: linkname ".*\/canary\/l" is an absolute path/,
    ],
    [
      'rename',
      (c) =>
        `targets:\n  - target: /bin\n    copy:\n      - files:\n          - {name: ../app.txt, rename: ${c}/precious}\n`,
      /app\.yaml:5:40: error: rename ".*\/canary\/precious" is an absolute path/,
    ],
  ];
  for (const [what, bomOf, message] of cases) {
    const { ws, inst, root, canary } = workspace('');
    writeFileSync(join(ws, 'app.yaml'), bomOf(canary));
    const r = copy(inst);
    assert.equal(r.status, 1, `${what}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, message, what);
    assert.match(r.stderr, /write it relative to the target/, what);
    assert.equal(existsSync(root), false, `${what}: nothing written`);
    assertCanary(canary);
    // check knows no root, but an absolute name never lands in the image: a warning.
    const c = runCli(['bom', 'check', join(ws, 'app.yaml')]);
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, new RegExp(`warning: ${what} ".*" is an absolute path`), what);
  }
});

test('a symlink planted in the root is not written through (a parent dir, or the file itself)', () => {
  const bom = 'targets:\n  - target: /bin\n    mkdirs: [sub]\n    copy:\n      - files: [../app.txt]\n';
  // /bin -> the canary: refused, naming the link.
  const a = workspace(bom);
  mkdirSync(a.root);
  symlinkSync(a.canary, join(a.root, 'bin'));
  const r = copy(a.inst);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /\/bin exists in the root as a symlink, where a directory is needed; remove it/);
  assertCanary(a.canary);
  // /bin/app.txt -> the canary's file: the link is replaced by the file, the canary not written.
  const b = workspace(bom);
  mkdirSync(join(b.root, 'bin'), { recursive: true });
  symlinkSync(join(b.canary, 'precious'), join(b.root, 'bin', 'app.txt'));
  const r2 = copy(b.inst);
  assert.equal(r2.status, 0, r2.stderr);
  assertCanary(b.canary);
  assert.equal(lstatSync(join(b.root, 'bin', 'app.txt')).isFile(), true);
  assert.equal(readFileSync(join(b.root, 'bin', 'app.txt'), 'utf8'), 'app\n');
  // A createlink made by one run is not followed by the next bom's files.
  const c = workspace('targets:\n  - target: /\n    createlinks:\n      - {src: /tmp, linkname: lib}\n');
  assert.equal(copy(c.inst).status, 0);
  writeFileSync(join(c.ws, 'app.yaml'), 'targets:\n  - target: /lib\n    copy:\n      - files: [../app.txt]\n');
  const r3 = copy(c.inst);
  assert.equal(r3.status, 1);
  assert.match(r3.stderr, /\/lib exists in the root as a symlink/);
});

test('a root that is itself a symlink: one error naming it and the directory to pass, nothing written', () => {
  const { inst, root, canary } = workspace('targets:\n  - target: /bin\n    copy:\n      - files: [../app.txt]\n');
  symlinkSync(canary, root);
  for (const extra of [[], ['--dry-run']]) {
    const r = copy(inst, extra);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    const errs = r.stderr.split('\n').filter((l) => /error:/.test(l));
    assert.equal(errs.length, 1, r.stderr);
    assert.match(errs[0]!, /the root .*\/inst\/image is a symlink \(-> .*canary\): .*--root .*canary\)$/);
    assert.match(r.stdout, /^bom copy.* (failed|would fail) \(1 error above\)/m);
  }
  assertCanary(canary);
});

test('a symlink in a copied dir that leaves it is copied as what it points to, inside the root', () => {
  const { ws, inst, root, canary } = workspace('targets:\n  - target: /data\n    copy:\n      - dirs: [../tree/]\n');
  mkdirSync(join(ws, 'tree'));
  symlinkSync(canary, join(ws, 'tree', 'up'));
  symlinkSync('../canary/precious', join(ws, 'tree', 'rel'));
  const r = copy(inst);
  assert.equal(r.status, 0, r.stderr);
  // rsync --copy-unsafe-links: content copied into the image, never a link out of it.
  assert.equal(lstatSync(join(root, 'data', 'up')).isDirectory(), true);
  assert.equal(lstatSync(join(root, 'data', 'rel')).isFile(), true);
  assertCanary(canary);
});

test('a bom or an include that is a FIFO, /dev/zero, a directory or huge: a clear error at once', () => {
  const { ws, inst } = workspace('includes: [inc.yaml]\n');
  spawnSync('mkfifo', [join(ws, 'fifo.yaml')]);
  for (const [inc, why] of [
    ['/dev/zero', /a character device, not a regular file/],
    ['fifo.yaml', /a FIFO \(named pipe\), not a regular file/],
    ['big.yaml', /more than the 4194304 it may hold/],
  ] as const) {
    writeFileSync(join(ws, 'big.yaml'), `# ${'x'.repeat(5 << 20)}\n`);
    writeFileSync(join(ws, 'app.yaml'), `includes: [${inc}]\n`);
    const r = copy(inst);
    assert.equal(r.status, 1, `${inc}: ${r.stderr}`);
    assert.match(r.stderr, why, inc);
    const c = runCli(['bom', 'check', '../app.yaml'], { cwd: inst, timeout: 60_000 });
    assert.equal(c.status, 1, `check ${inc}: ${c.stderr}`);
    assert.match(c.stderr + c.stdout, why, `check ${inc}`);
  }
  // The top bom itself a FIFO.
  const top = runCli(['bom', 'copy', '-f', '../fifo.yaml', '--root', 'image'], { cwd: inst, timeout: 60_000 });
  assert.equal(top.status, 1, top.stderr);
  assert.match(top.stderr, /FIFO/);
});

test('"files" naming a FIFO or a device is refused before any copy or hash (no hang, no disk filled)', () => {
  const { ws, inst, root } = workspace('');
  spawnSync('mkfifo', [join(ws, 'pipe')]);
  const hash = 'A'.repeat(64);
  for (const entry of [
    '../pipe',
    '/dev/zero',
    `{name: ../pipe, hash: ${hash}}`,
    `{name: /dev/urandom, hash: ${hash}}`,
  ]) {
    writeFileSync(join(ws, 'app.yaml'), `targets:\n  - target: /bin\n    copy:\n      - files: [${entry}]\n`);
    const r = copy(inst);
    assert.equal(r.status, 1, `${entry}: ${r.stderr}`);
    assert.match(r.stderr, /is a (FIFO|character device).*"files" copies regular files/, entry);
    assert.equal(existsSync(root), false, `${entry}: nothing written`);
  }
});

test("includes that fan out (each bom includes the next twice, 30 levels) stop at copy_bom's bound", () => {
  const { ws, inst } = workspace('includes: [b0.yaml, b0.yaml]\n');
  for (let i = 0; i < 30; i++) writeFileSync(join(ws, `b${i}.yaml`), `includes: [b${i + 1}.yaml, b${i + 1}.yaml]\n`);
  writeFileSync(join(ws, 'b30.yaml'), 'targets:\n  - target: /bin\n');
  const r = copy(inst);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /more than 100 bom files to read \(copy_bom's bound\).*include each bom once/);
  // Cycles are named, not followed.
  writeFileSync(join(ws, 'app.yaml'), 'includes: [c1.yaml]\n');
  writeFileSync(join(ws, 'c1.yaml'), 'includes: [c2.yaml]\n');
  writeFileSync(join(ws, 'c2.yaml'), 'includes: [c1.yaml, ../app.yaml]\n');
  const c = copy(inst);
  assert.equal(c.status, 1);
  assert.match(c.stderr, /include cycle: .*c1\.yaml -> .*c2\.yaml -> .*c1\.yaml/);
});

test('YAML bombs: a billion laughs of aliases and 50,000 levels of nesting end with an error', () => {
  const laughs = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 10; i++)
    laughs.push(
      `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(', ')}]`,
    );
  const { ws, inst, root } = workspace(`${laughs.join('\n')}\ntargets: *a9\n`);
  const r = copy(inst);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /app\.yaml:\d+:\d+: error/);
  assert.equal(existsSync(root), false);
  // An alias where a target list belongs is read like the list it names, as serde_yaml does.
  writeFileSync(join(ws, 'app.yaml'), `t: &t\n  - target: /bin\ntargets: *t\n`);
  const alias = copy(inst);
  assert.equal(alias.status, 0, alias.stderr);
  assert.ok(lstatSync(join(root, 'bin')).isDirectory());
  writeFileSync(join(ws, 'app.yaml'), `targets: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`);
  const deep = copy(inst);
  assert.equal(deep.status, 1, deep.stderr);
  assert.match(deep.stderr, /app\.yaml:\d+:\d+: error/);
});

test("an ELF's .interp naming a program of the workspace is not run by autodep", () => {
  const { ws, inst, root } = workspace('');
  const marker = join(ws, 'ran');
  writeFileSync(join(ws, 'evil.sh'), `#!/bin/sh\necho pwned > ${marker}\n`);
  chmodSync(join(ws, 'evil.sh'), 0o755);
  mkdirSync(join(ws, 'tree'));
  writeFileSync(join(ws, 'tree', 'prog'), elfWithInterp(join(ws, 'evil.sh')));
  writeFileSync(join(ws, 'prog'), elfWithInterp(join(ws, 'evil.sh')));
  for (const entry of ['files: [../prog]', 'dirs: [../tree]']) {
    writeFileSync(join(ws, 'app.yaml'), `targets:\n  - target: /bin\n    copy:\n      - ${entry}\n`);
    const r = copy(inst);
    assert.equal(existsSync(marker), false, `${entry}: the .interp program ran`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /is not in the loader config.*not run/, entry);
  }
  assert.equal(existsSync(join(root, 'bin', 'prog')), true);
  assert.equal(existsSync(join(root, ws, 'evil.sh')), false, 'the named loader is not copied either');
});

test('crafted ELF files in a copied dir: a note loop, a 16 MiB string table, a huge program header', () => {
  const { ws, inst } = workspace('targets:\n  - target: /bin\n    copy:\n      - dirs: [../tree]\n');
  mkdirSync(join(ws, 'tree'));
  // A note whose 32-bit-wrapped size makes the walk over the notes step by 0.
  const note = Buffer.alloc(12);
  note.writeUInt32LE(0xfffffff4, 0);
  writeFileSync(join(ws, 'tree', 'note'), craftElf([{ type: PT_NOTE, offset: 1024, filesz: 12 }], [[1024, note]]));
  // 4096 DT_NEEDED entries at offset 0 of a 16 MiB string table without a NUL.
  const n = 4096;
  const dyn = Buffer.alloc((n + 3) * 16);
  for (let i = 0; i < n; i++) dyn.writeBigInt64LE(1n, i * 16);
  dyn.writeBigInt64LE(5n, n * 16);
  dyn.writeBigUInt64LE(0x100000n, n * 16 + 8);
  dyn.writeBigInt64LE(10n, n * 16 + 16);
  dyn.writeBigUInt64LE(BigInt((1 << 24) - 1), n * 16 + 24);
  const size = 0x100000 + (1 << 24);
  const strings = craftElf(
    [
      { type: PT_DYNAMIC, offset: 4096, filesz: dyn.length },
      { type: PT_LOAD, offset: 0, filesz: size, vaddr: 0 },
    ],
    [[4096, dyn]],
    size,
  );
  strings.fill(0x41, 0x100000);
  writeFileSync(join(ws, 'tree', 'strings'), strings);
  // e_phentsize 65535 x 4095 entries: a 268 MB table read.
  const ph = craftElf([], [], 8192);
  ph.writeUInt16LE(65535, 54);
  ph.writeUInt16LE(4095, 56);
  writeFileSync(join(ws, 'tree', 'ph'), ph);
  const r = copy(inst);
  assert.equal(r.status, 0, r.stderr);
  // Also what `run` checks before starting a program (the same ELF reader).
  assert.equal(
    readdirSync(join(inst, 'image', 'bin', 'tree'))
      .sort()
      .join(),
    'note,ph,strings',
  );
});

test('names with escape sequences and newlines: human output escaped, --json exact', () => {
  const { ws, inst } = workspace('targets:\n  - target: /data\n    copy:\n      - dirs: [../tree]\n');
  const evil = 'x\x1b]0;pwned\x07\ny\rz\x0b\u202e';
  mkdirSync(join(ws, 'tree'));
  writeFileSync(join(ws, 'tree', evil), 'e');
  const dry = copy(inst, ['--dry-run']);
  assert.equal(dry.status, 0, dry.stderr);
  assert.doesNotMatch(dry.stdout + dry.stderr, RAW_CONTROL);
  assert.match(dry.stdout, /x\\e\]0;pwned\\x07\\ny\\rz\\x0b\\u202e/);
  const j = JSON.parse(copy(inst, ['--json']).stdout);
  assert.ok(
    j.actions.some((a: { inner: string }) => a.inner === `/data/tree/${evil}`),
    'JSON keeps the name',
  );
  assert.equal(readFileSync(join(inst, 'image', 'data', 'tree', evil), 'utf8'), 'e');
  // An escape sequence in a variable's value and in a bom entry reaching an error line.
  writeFileSync(join(ws, 'app.yaml'), 'targets:\n  - target: /bin\n    copy:\n      - files: ["../\\e]0;t\\a$V"]\n');
  const r = copy(inst, [], { V: '\x1b[2J' });
  assert.equal(r.status, 1);
  assert.doesNotMatch(r.stdout + r.stderr, RAW_CONTROL);
});

test('a name that is not UTF-8 in a copied dir is reported, not silently dropped', () => {
  const { ws, inst } = workspace('targets:\n  - target: /data\n    copy:\n      - dirs: [../tree]\n');
  mkdirSync(join(ws, 'tree'));
  writeFileSync(join(ws, 'tree', 'ok'), 'ok');
  // Node cannot name it: made by the shell from raw bytes.
  assert.equal(spawnSync('sh', ['-c', `printf x > "$(printf 'bad\\377name')"`], { cwd: join(ws, 'tree') }).status, 0);
  const r = copy(inst);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /tree\/bad\\xffname: the name is not valid UTF-8.*not copied/);
  assert.equal(readFileSync(join(inst, 'image', 'data', 'tree', 'ok'), 'utf8'), 'ok');
});

test('hash entries in odd forms: each a located error or warning, nothing copied on an error', () => {
  const { ws, inst, root } = workspace('');
  const real = spawnSync('sha256sum', [join(ws, 'app.txt')], { encoding: 'utf8' }).stdout.split(' ')[0]!;
  for (const [hash, why] of [
    [real.slice(0, 63), /must be a SHA-256 in hex \(64 characters\)/],
    [`${real.slice(0, 63)}G`, /must be a SHA-256 in hex/],
    ['1234', /must be a SHA-256 in hex/],
    ['[a, b]', /"hash" of \.\.\/app\.txt must be a string/],
    [`" ${real.toUpperCase()}"`, /must be a SHA-256 in hex/],
    ['B'.repeat(64), /hash mismatch for \.\.\/app\.txt/],
  ] as const) {
    writeFileSync(
      join(ws, 'app.yaml'),
      `targets:\n  - target: /bin\n    copy:\n      - files:\n          - {name: ../app.txt, hash: ${hash}}\n`,
    );
    const r = copy(inst);
    assert.equal(r.status, 1, `${hash}: ${r.stderr}`);
    assert.match(r.stderr, why, hash);
    assert.equal(existsSync(root), false);
  }
  writeFileSync(
    join(ws, 'app.yaml'),
    `targets:\n  - target: /bin\n    copy:\n      - files:\n          - {name: ../app.txt, hash: ${real.toLowerCase()}}\n`,
  );
  // copy_bom compares the text with its upper-case digest, so it refuses this one: so does the studio.
  const lower = copy(inst);
  assert.equal(lower.status, 1, lower.stderr);
  assert.match(
    lower.stderr,
    new RegExp(`is lower case: copy_bom compares upper-case hex and rejects it; write ${real.toUpperCase()}`),
  );
  assert.equal(existsSync(root), false);
});

test('a path longer than Linux allows (mkdirs 6000 bytes deep, a 300-byte rename) is refused before writing', () => {
  const deep = Array(3000).fill('a').join('/');
  for (const bom of [
    `targets:\n  - target: /bin\n    mkdirs: [${deep}]\n`,
    `targets:\n  - target: /bin\n    copy:\n      - files:\n          - {name: ../app.txt, rename: ${'b'.repeat(300)}}\n`,
  ]) {
    const { inst, root } = workspace(bom);
    const r = copy(inst);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /app\.yaml:\d+:\d+: error: (mkdirs|rename) ".*" writes to a path of \d+ bytes .*shorten it/);
    assert.equal(existsSync(root), false, 'nothing written');
  }
});

test('excludes: an invalid class is a located error; a backtracking pattern on a deep path of "a"s ends', () => {
  const bom = (pattern: string) =>
    `excludes: ["${pattern}"]\ntargets:\n  - target: /d\n    copy:\n      - dirs: [../tree]\n`;
  const { ws, inst, root } = workspace(bom('[z-a]'));
  mkdirSync(join(ws, 'tree', ...Array(15).fill('a'.repeat(200))), { recursive: true });
  const bad = copy(inst);
  assert.equal(bad.status, 1, bad.stderr);
  assert.match(bad.stderr, /app\.yaml:1:\d+: error: exclude pattern "\[z-a\]" is not a valid rsync pattern/);
  assert.equal(existsSync(root), false);
  writeFileSync(join(ws, 'app.yaml'), bom('**a**a**a**a**a**a**a**a**b'));
  const slow = copy(inst, ['--dry-run']);
  assert.equal(slow.status, 0, slow.stderr);
  assert.match(slow.stdout, /bom copy \(dry run, nothing written\): would create \d+,/);
});

test('a link in a copied tree to "/" or /proc, or a dirs entry of /proc, copies nothing of them', () => {
  const { ws, inst, root } = workspace('targets:\n  - target: /d\n    copy:\n      - dirs: [../tree, /proc/sys/]\n');
  mkdirSync(join(ws, 'tree'));
  writeFileSync(join(ws, 'tree', 'keep'), 'k');
  symlinkSync('/', join(ws, 'tree', 'everything'));
  symlinkSync('/proc/self', join(ws, 'tree', 'me'));
  const r = copy(inst);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /everything -> \/: the link leads to the host's whole file system; not copied/);
  assert.match(r.stdout, /me -> \/proc\/self: the link leads to \/proc\/\d+, a kernel file system; not copied/);
  assert.match(r.stdout, /\/proc\/sys\/?: \/proc\/sys, a kernel file system; not copied/);
  assert.deepEqual(readdirSync(join(root, 'd')).sort(), ['tree']);
  assert.deepEqual(readdirSync(join(root, 'd', 'tree')), ['keep']);
});
