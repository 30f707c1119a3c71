// The root stager (native/src/bin/occlum-studio-stage.rs) given hostile arguments, as a forged
// Occlum.json mount or instance path could shape them: `dir:` paths that climb out of STAGE or
// are absolute, bind names with "/" or "..", a bind source that is a symlink, uid 0, control
// characters. Each is refused (exit 1, one line, controls escaped), the command never runs and
// nothing appears on the host (the stage dir stays empty).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stagerPath } from '../../src/core/sandbox/identity.ts';

const stager = stagerPath();
const skip = process.getuid?.() !== 0 ? 'the stager runs as root only' : !stager ? 'the stager is not built' : false;

test('hostile stager arguments are refused before any mount; the command does not run', { skip }, () => {
  const ws = mkdtempSync(join(tmpdir(), 'stager-hostile-'));
  const stage = join(ws, 'stage');
  mkdirSync(stage);
  mkdirSync(join(ws, 'src'));
  symlinkSync('/etc', join(ws, 'link'));
  // The command runs as the sandbox uid: its marker goes to a dir that uid may write.
  chmodSync(ws, 0o755);
  mkdirSync(join(ws, 'out'), { mode: 0o777 });
  chmodSync(join(ws, 'out'), 0o777);
  const marker = join(ws, 'out', 'ran');
  const run = (uid: string, ...args: string[]) =>
    spawnSync(stager!, [uid, '65533', stage, '-', ...args, '--', '/bin/sh', '-c', `echo > ${marker}`], {
      encoding: 'utf8',
      timeout: 30_000,
    });
  const cases: [string[], RegExp, string?][] = [
    [['dir:../../escape'], /bad argument "dir:\.\.\/\.\.\/escape"/],
    [['dir:/etc/x'], /bad argument "dir:\/etc\/x"/],
    [['dir:a//b'], /bad argument/],
    [['bind:../up=/'], /bad argument "bind:\.\.\/up=\/"/],
    [['bind:a/b=/'], /bad argument/],
    [['bind:.hidden=/'], /bad argument/],
    [['bind:x'], /bad argument/],
    [['dir:../\x1b]0;pwned\x07'], /bad argument "dir:\.\.\/\\u\{1b\}\]0;pwned\\u\{7\}"/],
    [[`bind:etc=${join(ws, 'link')}`], /cannot open .*link.*symbolic link/i],
    [[`bind:etc=${join(ws, 'link')}/passwd`], /cannot open .*link\/passwd/i],
    [[], /sandbox uid and gid must not be 0/, '0'],
  ];
  for (const [args, why, uid] of cases) {
    const r = run(uid ?? '65533', ...args);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, why, args.join(' '));
    assert.doesNotMatch(r.stderr, /[\x1b\x07]/, 'controls escaped');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(existsSync(marker), false, `${args.join(' ')}: the command ran`);
    assert.deepEqual(readdirSync(stage), [], 'nothing on the host under STAGE');
  }
  // The same call with sound arguments runs the command (the probe above tests the refusals).
  writeFileSync(join(ws, 'src', 'f'), 'f');
  const ok = run('65533', 'dir:ramfs/x', `bind:image=${join(ws, 'src')}`);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(existsSync(marker), true);
  assert.deepEqual(readdirSync(stage), [], 'the staged mounts live in their own namespace');
});
