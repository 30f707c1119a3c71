// ELF preflight: Occlum's loader checks with Occlum's messages, on real compiled binaries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readElfInfo, libcOf } from '../../src/core/elf/header.ts';
import {
  describeLinkage,
  preflightFile,
  preflightImage,
  preflightErrors,
  occlumLaunchError,
} from '../../src/core/elf/preflight.ts';
import { execFileSync } from 'node:child_process';
import { newInstance } from '../../src/core/instance/init.ts';
import { fixturePath, installFixtures } from '../helpers/fixtures.ts';

function image() {
  const dir = join(mkdtempSync(join(tmpdir(), 'occlum-elf-')), 'inst');
  newInstance(dir);
  return { dir, img: join(dir, 'image') };
}

test('reads class, type and PT_INTERP of musl, non-PIE and glibc binaries', () => {
  const hello = readElfInfo(fixturePath('hello'));
  assert.equal(hello.kind, 'elf');
  if (hello.kind !== 'elf') return;
  assert.equal(hello.class, 64);
  assert.equal(hello.type, 3);
  assert.equal(hello.interp, '/lib/ld-musl-x86_64.so.1');
  assert.equal(libcOf(hello.interp), 'musl');
  const nonpie = readElfInfo(fixturePath('nonpie'));
  assert.equal(nonpie.kind === 'elf' && nonpie.type, 2);
  const glibc = readElfInfo(fixturePath('glibc'));
  assert.equal(glibc.kind === 'elf' && libcOf(glibc.interp), 'glibc');
});

const DEBIAN_PYTHON = '/usr/bin/python3.11';

test(
  "Debian's python3.11 (not PIE): the fix says how to get the same interpreter as a PIE program",
  { skip: !existsSync(DEBIAN_PYTHON) && `no ${DEBIAN_PYTHON}` },
  () => {
    const { img } = image();
    copyFileSync(DEBIAN_PYTHON, join(img, 'bin', 'python3.11'));
    chmodSync(join(img, 'bin', 'python3.11'), 0o755);
    const p = preflightFile(img, '/bin/python3.11').problems.find((x) => x.code === 'not-pie');
    assert.ok(p, 'Debian builds python3.11 without PIE');
    assert.match(p.fix, /Py_BytesMain.*gcc -fPIE -pie .*-lpython3\.11/);
  },
);

test('a musl PIE program with its loader in the image passes', () => {
  const { dir, img } = image();
  installFixtures(dir, ['hello']);
  const r = preflightFile(img, '/bin/hello');
  assert.deepEqual(r.problems, []);
  assert.equal(r.libc, 'musl');
});

test("non-PIE and glibc binaries are rejected with Occlum's errors and fixes", () => {
  const { dir, img } = image();
  installFixtures(dir, ['nonpie', 'glibc']);
  const nonpie = preflightFile(img, '/bin/nonpie').problems[0];
  assert.equal(nonpie.code, 'not-pie');
  assert.equal(nonpie.occlum, 'ENOEXEC (#8, Exec format error): unknown executable file format');
  assert.match(nonpie.fix, /-fPIE -pie/);
  assert.deepEqual(occlumLaunchError(nonpie), [
    'failed to boot up LibOS: ENOEXEC (#8, Exec format error): unknown executable file format [line = 23, file = src/process/do_spawn/exec_loader.rs]',
    '[ERROR] occlum-pal: occlum_ecall_new_process returns ENOEXEC',
  ]);
  const glibc = preflightFile(img, '/bin/glibc').problems[0];
  assert.equal(glibc.code, 'loader-missing');
  assert.equal(glibc.occlum, 'ENOENT (#2, No such file or directory): cannot load ld.so');
  assert.match(glibc.explanation, /glibc program/);
  assert.match(glibc.explanation, /kernel too old/);
  assert.deepEqual(occlumLaunchError(glibc), [
    'failed to boot up LibOS: ENOENT (#2, No such file or directory): cannot load ld.so [line = 192, file = src/process/do_spawn/mod.rs]',
    '    Caused by ENOENT (#2, No such file or directory): cannot find the file [line = 81, file = src/process/do_spawn/exec_loader.rs]',
    '[ERROR] occlum-pal: occlum_ecall_new_process returns ENOENT',
  ]);
});

test('missing exec bit, missing loader, directories, missing files, non-ELF', () => {
  const { dir, img } = image();
  installFixtures(dir, ['hello']);
  chmodSync(join(img, 'bin/hello'), 0o644);
  assert.equal(
    preflightFile(img, '/bin/hello').problems[0].occlum,
    'EACCES (#13, Permission denied): file is not executable',
  );
  chmodSync(join(img, 'bin/hello'), 0o755);
  const bare = image();
  installFixtures(bare.dir, ['hello']);
  // an image without the musl loader
  const noLoader = join(mkdtempSync(join(tmpdir(), 'occlum-elf-')), 'img');
  mkdirSync(join(noLoader, 'bin'), { recursive: true });
  copyFileSync(fixturePath('hello'), join(noLoader, 'bin/hello'));
  chmodSync(join(noLoader, 'bin/hello'), 0o755);
  const p = preflightFile(noLoader, '/bin/hello').problems[0];
  assert.equal(p.code, 'loader-missing');
  assert.match(p.fix, /copy the loader into image\/lib\/ld-musl-x86_64.so.1/);
  assert.equal(
    preflightFile(img, '/bin').problems[0].occlum,
    'EACCES (#13, Permission denied): it is not a regular file',
  );
  assert.equal(preflightFile(img, '/bin/nope').problems[0].code, 'missing');
  writeFileSync(join(img, 'bin/data'), 'plain text', { mode: 0o755 });
  assert.equal(preflightFile(img, '/bin/data').problems[0].code, 'not-elf64');
});

test('scripts: interpreter must be an ELF in the image, not on /host, no #! arguments', () => {
  const { dir, img } = image();
  installFixtures(dir, ['hello']);
  writeFileSync(join(img, 'bin/ok.sh'), '#!/bin/hello\necho\n', { mode: 0o755 });
  writeFileSync(join(img, 'bin/missing.sh'), '#!/bin/sh\necho\n', { mode: 0o755 });
  writeFileSync(join(img, 'bin/host.sh'), '#!/host/usr/bin/python3\n', { mode: 0o755 });
  writeFileSync(join(img, 'bin/args.sh'), '#!/bin/hello -x\n', { mode: 0o755 });
  assert.deepEqual(preflightFile(img, '/bin/ok.sh').problems, []);
  assert.equal(preflightFile(img, '/bin/ok.sh').libc, 'musl', "a script has its interpreter's libc");
  assert.equal(preflightFile(img, '/bin/missing.sh').problems[0].code, 'script-interp-missing');
  assert.ok(preflightFile(img, '/bin/host.sh').problems.some((p) => p.code === 'script-interp-hostfs'));
  assert.equal(preflightFile(img, '/bin/args.sh').problems[0].code, 'script-interp-args');
});

test('absolute symlinks resolve inside the image; preflightImage walks entry points', () => {
  const { dir, img } = image();
  installFixtures(dir, ['hello', 'nonpie']);
  symlinkSync('/bin/hello', join(img, 'bin/hi'));
  const results = preflightImage(img, ['/bin']);
  assert.deepEqual(
    results.map((r) => r.path),
    ['/bin/hello', '/bin/hi', '/bin/nonpie'],
  );
  assert.deepEqual(
    preflightErrors(results).map((p) => `${p.path} ${p.code}`),
    ['/bin/nonpie not-pie'],
  );
  // data next to programs (e.g. a .wasm module) is not a program: skipped, or a warning if +x
  writeFileSync(join(img, 'bin/app.wasm'), '\0asm\x01', { mode: 0o644 });
  writeFileSync(join(img, 'bin/notes'), 'text', { mode: 0o755 });
  const again = preflightImage(img, ['/bin']);
  assert.ok(!again.some((r) => r.path === '/bin/app.wasm'));
  assert.equal(again.find((r) => r.path === '/bin/notes')!.problems[0].severity, 'warning');
  assert.deepEqual(
    preflightErrors(again).map((p) => p.path),
    ['/bin/nonpie'],
  );
});

test('linkage: static or dynamic, PIE or not, Go runtime (with or without cgo) or a libc', () => {
  const dir = mkdtempSync(join(tmpdir(), 'occlum-linkage-'));
  const cc = (out: string, args: string[], src: string, gcc = 'gcc') => {
    writeFileSync(join(dir, `${out}.c`), src);
    execFileSync(gcc, [...args, '-o', join(dir, out), join(dir, `${out}.c`)], { stdio: 'pipe' });
    const info = readElfInfo(join(dir, out));
    assert.equal(info.kind, 'elf');
    return describeLinkage(info as Extract<typeof info, { kind: 'elf' }>);
  };
  const main = 'int main(void){return 0;}\n';
  // Go's linker marks its binaries with a note named "Go", type 4 (the build ID).
  const goNote =
    '__asm__(".section .note.go.buildid,\\"a\\",@note\\n.balign 4\\n.long 3\\n.long 4\\n.long 4\\n.asciz \\"Go\\"\\n.balign 4\\n.ascii \\"abcd\\"\\n.previous");\n';
  const noLibc = 'void _start(void){for(;;);}\n';
  assert.equal(cc('dyn-nonpie', ['-no-pie'], main), 'dynamic non-PIE, glibc');
  assert.equal(cc('dyn-pie', ['-fPIE', '-pie'], main), 'dynamic PIE, glibc');
  assert.equal(cc('static', ['-static', '-no-pie'], main), 'static non-PIE');
  assert.equal(cc('go-cgo', ['-fPIE', '-pie'], goNote + main), 'Go runtime, dynamic PIE, cgo with glibc');
  assert.equal(cc('go-pure', ['-fPIE', '-pie', '-nostdlib'], goNote + noLibc), 'Go runtime, dynamic PIE, no libc');
  const { img } = image();
  mkdirSync(join(img, 'bin'), { recursive: true });
  copyFileSync(join(dir, 'dyn-nonpie'), join(img, 'bin', 'dyn-nonpie'));
  chmodSync(join(img, 'bin', 'dyn-nonpie'), 0o755);
  assert.match(
    preflightFile(img, '/bin/dyn-nonpie').problems[0]!.explanation,
    /dynamically linked but not position-independent/,
  );
  copyFileSync(join(dir, 'go-pure'), join(img, 'bin', 'go-pure'));
  chmodSync(join(img, 'bin', 'go-pure'), 0o755);
  const go = preflightFile(img, '/bin/go-pure');
  assert.equal(go.libc, 'none', 'a pure-Go program is not "a glibc program"');
  assert.doesNotMatch(go.problems.map((p) => p.explanation).join('\n'), /glibc program/);
});
