// Issue 11, defect 2: a FIFO, /dev/zero (or a link to it) or a sparse giant in place of a file
// the studio reads from an instance or image (metadata, an inode file, .ROOT_MAC, Occlum.json,
// .occlum-studio.json, status files) gives a clear error at once: no command blocks, none reads
// without bound. The built CLI is run with a timeout; a blocked one fails the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { readSettings } from '../../src/core/config/settings.ts';
import { readStatusFile } from '../../src/core/instance/status.ts';
import { loadConfigFile } from '../../src/core/config/file.ts';
import { readTextSafe, UnsafeFileError } from '../../src/core/instance/safe-read.ts';

let d = '';
let inst = '';

function fifo(p: string): void {
  rmSync(p, { force: true });
  execFileSync('mkfifo', [p]);
}
function zeroLink(p: string): void {
  rmSync(p, { force: true });
  symlinkSync('/dev/zero', p);
}
/** A fresh copy of the packed instance. */
function copy(name: string): string {
  const c = join(d, name);
  execFileSync('cp', ['-a', inst, c]);
  return c;
}
/** Runs the CLI with a short timeout: a blocked command is killed and shows as status -1. */
function cli(args: string[]) {
  return runCli(args, { timeout: 30_000 });
}

before(() => {
  d = mkdtempSync(join(tmpdir(), 'special-files-'));
  inst = join(d, 'inst');
  mkdirSync(join(inst, 'image/d'), { recursive: true });
  writeFileSync(join(inst, 'image/d/a'), 'hello\n');
  writeFileSync(join(inst, 'Occlum.json'), '{"resource_limits": {"user_space_size": "300MB"}}\n');
  const p = runCli(['fs', 'pack', '-C', inst]);
  assert.equal(p.status, 0, p.stderr);
});
after(() => rmSync(d, { recursive: true, force: true }));

test('a FIFO or a link to /dev/zero as metadata: fs ls, tree and verify fail at once with what, where and the fix', () => {
  for (const [make, kind] of [
    [fifo, /FIFO/],
    [zeroLink, /symbolic link/],
  ] as const) {
    const c = copy(`meta-${make.name}`);
    make(join(c, 'build/mount/__ROOT/metadata'));
    for (const args of [['ls', '/'], ['tree'], ['verify']]) {
      const r = cli(['fs', ...args, '-C', c]);
      assert.equal(r.status, 1, `fs ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout + r.stderr, kind);
      assert.match(r.stdout + r.stderr, /__ROOT\/metadata.*rebuild the image/);
    }
  }
});

test('a FIFO inode file fails only what reads it; a FIFO .ROOT_MAC is named', () => {
  const c = copy('inode');
  const host = JSON.parse(cli(['fs', 'stat', '-C', c, '/d/a', '--json']).stdout).hostFile as string;
  fifo(join(c, 'build/mount/__ROOT', host));
  const cat = cli(['fs', 'cat', '-C', c, '/d/a']);
  assert.equal(cat.status, 1);
  assert.match(cat.stderr, new RegExp(`${host}: protected file is a FIFO`));
  assert.equal(cli(['fs', 'ls', '-C', c, '/d']).status, 0);
  const mac = copy('mac');
  fifo(join(mac, 'build/mount/.ROOT_MAC'));
  const v = cli(['fs', 'verify', '-C', mac]);
  assert.equal(v.status, 1);
  assert.match(v.stderr, /\.ROOT_MAC: the root MAC file is a FIFO \(named pipe\), not a regular file/);
});

test('Occlum.json as a FIFO, a link to /dev/zero or a 65 MiB sparse file: check refuses it at once', () => {
  for (const [i, make] of [
    fifo,
    zeroLink,
    (p: string) => (writeFileSync(p, '{}'), truncateSync(p, 65 << 20)),
  ].entries()) {
    const c = copy(`cfg-${i}`);
    make(join(c, 'Occlum.json'));
    const r = cli(['check', c]);
    assert.notEqual(r.status, 0);
    assert.notEqual(r.status, -1, 'check blocked');
    assert.match(r.stderr, /Occlum\.json is (a FIFO|a character device|68157440 bytes, more than)/);
  }
  assert.throws(() => loadConfigFile(join(d, 'cfg-0', 'Occlum.json')), UnsafeFileError);
});

test('.occlum-studio.json and the status file as FIFOs: reported or ignored, never read', () => {
  const c = copy('settings');
  fifo(join(c, '.occlum-studio.json'));
  assert.match(readSettings(c).problems.join('\n'), /\.occlum-studio\.json is a FIFO .*; ignored/);
  fifo(join(c, '.__occlum_status'));
  assert.equal(readStatusFile(c), null);
  unlinkSync(join(c, '.__occlum_status'));
  zeroLink(join(c, '.__occlum_status'));
  assert.equal(readStatusFile(c), null);
  // A file that grows past the cap while it is read is refused too.
  writeFileSync(join(c, 'big'), Buffer.alloc(100));
  assert.throws(
    () => readTextSafe(join(c, 'big'), { what: 'big', maxBytes: 99 }),
    /big is 100 bytes, more than the 99/,
  );
});
